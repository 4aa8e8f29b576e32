package event

import (
	"strconv"
	"strings"
)

// The store's rows, fields, views and tables are versioned documents for
// the dialects that speak documents (the native protocol and ShareDB), in
// collections named record_T, field_T and view_T of table T and table_W of
// workspace W. ShareDB clients may also spell them as Teable does: rec_T,
// fld_T, viw_T, tbl_W.

// Kind is a collection's kind of document.
type Kind uint8

// The kinds.
const (
	KindRecord Kind = iota + 1 // record_T: table T's rows
	KindField                  // field_T: table T's fields
	KindView                   // view_T: table T's views
	KindTable                  // table_W: workspace W's tables
)

// String is the kind's name, the prefix of its collections.
func (k Kind) String() string {
	switch k {
	case KindRecord:
		return "record"
	case KindField:
		return "field"
	case KindView:
		return "view"
	case KindTable:
		return "table"
	}
	return ""
}

// Collection is a document collection: a kind and the table (the
// workspace for KindTable) whose documents it holds.
type Collection struct {
	Kind Kind
	ID   int64
}

// RecordsOf, FieldsOf, ViewsOf and TablesOf name the collections.
func RecordsOf(tableID int64) Collection { return Collection{KindRecord, tableID} }

// FieldsOf is field_T.
func FieldsOf(tableID int64) Collection { return Collection{KindField, tableID} }

// ViewsOf is view_T.
func ViewsOf(tableID int64) Collection { return Collection{KindView, tableID} }

// TablesOf is table_W.
func TablesOf(workspaceID int64) Collection { return Collection{KindTable, workspaceID} }

// RecordCollection is record_T, as a string.
func RecordCollection(tableID int64) string { return RecordsOf(tableID).String() }

// FieldCollection is field_T, as a string.
func FieldCollection(tableID int64) string { return FieldsOf(tableID).String() }

// ViewCollection is view_T, as a string.
func ViewCollection(tableID int64) string { return ViewsOf(tableID).String() }

// TableCollection is table_W, as a string.
func TableCollection(workspaceID int64) string { return TablesOf(workspaceID).String() }

// String prints the collection's name: record_T, field_T, view_T, table_W.
func (c Collection) String() string {
	return c.Kind.String() + "_" + strconv.FormatInt(c.ID, 10)
}

// Stream names the stream of the collection's events: table:T for a
// table's records, fields and views, workspace:W for its tables.
func (c Collection) Stream() string {
	if c.Kind == KindTable {
		return "workspace:" + strconv.FormatInt(c.ID, 10)
	}
	return "table:" + strconv.FormatInt(c.ID, 10)
}

// TableOfStream reads table:T, the stream of table T's events.
func TableOfStream(name string) (int64, bool) { return streamID(name, "table:") }

// WorkspaceOfStream reads workspace:W, the stream of workspace W's events.
func WorkspaceOfStream(name string) (int64, bool) { return streamID(name, "workspace:") }

func streamID(name, prefix string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	return ParseID(rest)
}

// OfTable reports whether the collection holds documents of table
// tableID (record_T, field_T, view_T).
func (c Collection) OfTable(tableID int64) bool { return c.Kind != KindTable && c.ID == tableID }

var kinds = map[string]Kind{"record": KindRecord, "field": KindField, "view": KindView, "table": KindTable}

// aliases are Teable's spellings.
var aliases = map[string]Kind{"rec": KindRecord, "fld": KindField, "viw": KindView, "tbl": KindTable}

// ParseCollection reads record_T, field_T, view_T or table_W, with a
// positive integer id written as Go prints it (no sign, no leading zero).
func ParseCollection(name string) (Collection, bool) { return parse(name, false) }

// ParseCollectionAlias reads what ParseCollection reads and Teable's
// aliases: rec_T, fld_T, viw_T, tbl_W.
func ParseCollectionAlias(name string) (Collection, bool) { return parse(name, true) }

func parse(name string, alias bool) (Collection, bool) {
	prefix, rest, ok := strings.Cut(name, "_")
	if !ok {
		return Collection{}, false
	}
	k, ok := kinds[prefix]
	if !ok && alias {
		k, ok = aliases[prefix]
	}
	if !ok {
		return Collection{}, false
	}
	id, ok := ParseID(rest)
	if !ok {
		return Collection{}, false
	}
	return Collection{Kind: k, ID: id}, true
}

// ParseID reads a document, table or workspace id: a positive integer
// written as Go prints it.
func ParseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != s {
		return 0, false
	}
	return id, true
}

// InNamespace reports whether name lies in the collections' namespace: a
// kind's name, '_' and digits. Every collection's name does, and so do
// names like record_007 that name none: a dialect that mixes collections
// with its own channels keeps them all for the store.
func InNamespace(name string) bool {
	prefix, rest, ok := strings.Cut(name, "_")
	if _, kind := kinds[prefix]; !ok || !kind || rest == "" {
		return false
	}
	return strings.Trim(rest, "0123456789") == ""
}
