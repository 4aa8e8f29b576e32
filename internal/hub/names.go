package hub

import "strings"

// MaxNameLen bounds collection and document names.
const MaxNameLen = 128

// ValidName reports whether s may name a collection or a document:
// 1 to 128 of [A-Za-z0-9_:-]. The alphabet leaves out '.', which joins a
// collection and a document into a channel key.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// SplitChannel reads "collection" or "collection.document" and reports
// whether both parts are valid names.
func SplitChannel(channel string) (collection, document string, ok bool) {
	col, doc, hasDoc := strings.Cut(channel, ".")
	if !ValidName(col) || (hasDoc && !ValidName(doc)) {
		return "", "", false
	}
	return col, doc, true
}
