package table

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// ValidationError is a request that is not valid, with one message per
// offending part. Keys are paths into the request body: "name",
// "options.decimals", "fields.12", "filters[1].value", "items[3].fields.7".
// The REST layer answers it as
// {"error":{"code":"invalid_request","details":Details}}.
//
// Functions of this package that return *ValidationError return a nil
// pointer when all is well; use Err before storing the result in an error
// variable, so that a nil pointer does not become a non-nil error.
type ValidationError struct {
	Details map[string]string
}

// Error lists the details in key order.
func (e *ValidationError) Error() string {
	if e == nil || len(e.Details) == 0 {
		return "invalid request"
	}
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("invalid request: ")
	for i, k := range keys {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(e.Details[k])
	}
	return b.String()
}

// Add records msg for key and returns e; on a nil e it makes a new error.
// The first message for a key is kept.
func (e *ValidationError) Add(key, msg string) *ValidationError {
	if e == nil {
		e = &ValidationError{}
	}
	if e.Details == nil {
		e.Details = make(map[string]string)
	}
	if _, ok := e.Details[key]; !ok {
		e.Details[key] = msg
	}
	return e
}

// Merge adds every detail of other with its key under prefix (see JoinKey)
// and returns e, made when nil and other has details.
func (e *ValidationError) Merge(prefix string, other *ValidationError) *ValidationError {
	if other == nil {
		return e
	}
	for k, v := range other.Details {
		e = e.Add(JoinKey(prefix, k), v)
	}
	return e
}

// Prefixed returns a copy of e with every key under prefix, for example
// Prefixed("items[3]") turns "fields.7" into "items[3].fields.7".
func (e *ValidationError) Prefixed(prefix string) *ValidationError {
	if e == nil {
		return nil
	}
	return (*ValidationError)(nil).Merge(prefix, e)
}

// Err returns e as an error, or nil when e holds nothing.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Details) == 0 {
		return nil
	}
	return e
}

// JoinKey joins a key prefix and a key: "items[3]" and "fields.7" give
// "items[3].fields.7"; "filters" and "[1].value" give "filters[1].value".
func JoinKey(prefix, key string) string {
	switch {
	case prefix == "":
		return key
	case key == "":
		return prefix
	case key[0] == '[':
		return prefix + key
	default:
		return prefix + "." + key
	}
}

// ItemKey is the key prefix of the i-th element of the list named name:
// ItemKey("items", 3) is "items[3]".
func ItemKey(name string, i int) string {
	return name + "[" + strconv.Itoa(i) + "]"
}

// FieldKey is the detail key of a field's value in a row body: "fields.12".
func FieldKey(fieldID int64) string {
	return "fields." + strconv.FormatInt(fieldID, 10)
}

// ValueError is a value that a field does not accept.
type ValueError struct {
	Field  int64  // the field's id
	Reason string // what is wrong, written for the caller: "must be a number"
}

func (e *ValueError) Error() string {
	return "field " + strconv.FormatInt(e.Field, 10) + ": " + e.Reason
}

// Validation returns the error as a one-detail *ValidationError keyed by
// FieldKey.
func (e *ValueError) Validation() *ValidationError {
	return (*ValidationError)(nil).Add(FieldKey(e.Field), e.Reason)
}

// AsValidation turns err into a *ValidationError when it is one or a
// *ValueError, with its keys under prefix; otherwise it returns nil.
func AsValidation(err error, prefix string) *ValidationError {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Prefixed(prefix)
	}
	var fe *ValueError
	if errors.As(err, &fe) {
		return fe.Validation().Prefixed(prefix)
	}
	return nil
}

// ErrOrderExhausted is returned when no row order fits between two others:
// the caller renumbers the table's rows and places the row again.
var ErrOrderExhausted = errors.New("table: no row order left between the neighbours")
