package sharedb

import (
	"strings"

	"github.com/tablecast/tablecast/internal/event"
)

// collection is a store collection as a client named it: the store's name
// (record_5) or Teable's alias (rec_5). Replies and ops carry the client's
// spelling, so that its client finds its documents.
type collection struct {
	name      string // as the client spelled it
	canonical string // record_T, field_T, view_T or table_W
	kind      string // record, field, view or table
	id        int64  // the table (the workspace for table_W)
	ref       event.Collection
}

// stream names the collection's stream (table:T, workspace:W).
func (c collection) stream() string { return c.ref.Stream() }

// parseCollection reads record_T, field_T, view_T, table_W or an alias
// (rec_T, fld_T, viw_T, tbl_W), with a positive integer id.
func parseCollection(name string) (collection, bool) {
	c, ok := event.ParseCollectionAlias(name)
	if !ok {
		return collection{}, false
	}
	return collection{name: name, canonical: c.String(), kind: c.Kind.String(), id: c.ID, ref: c}, true
}

// The hub collections of this dialect. Their names hold a '/', which no
// native client can spell, so that they never mix with native
// subscriptions or app channels:
//
//	sdb/<collection as the client spelled it>   documents (and live queries)
//	sdbp/<presence channel>                      presence
const (
	docsPrefix     = "sdb/"
	presencePrefix = "sdbp/"
)

func (c collection) hubName() string { return docsPrefix + c.name }

// StreamOf names the stream of one of this dialect's hub collections of
// documents: the hub wires it into hub.ExternalStreams, so that they
// receive their table's (or workspace's) events in offset order.
func StreamOf(hubCollection string) (string, bool) {
	name, ok := strings.CutPrefix(hubCollection, docsPrefix)
	if !ok {
		return "", false
	}
	c, ok := parseCollection(name)
	if !ok {
		return "", false
	}
	return c.stream(), true
}

// StoreCollectionOf names the store collection a hub collection of this
// dialect depends on, for permission changes: sdb/rec_5 depends on
// record_5, a presence channel of table 5 (sdbp/__col_user_5) on record_5.
func StoreCollectionOf(hubCollection string) (string, bool) {
	if name, ok := strings.CutPrefix(hubCollection, docsPrefix); ok {
		c, ok := parseCollection(name)
		return c.canonical, ok
	}
	if ch, ok := strings.CutPrefix(hubCollection, presencePrefix); ok {
		if t, ok := channelTable(ch); ok {
			return event.RecordCollection(t), true
		}
	}
	return "", false
}

// channelTable reads the table of a presence channel that ends in
// _<table id> (Teable's __col_user_<T>, __col_cell_user_<T>).
func channelTable(ch string) (int64, bool) {
	i := strings.LastIndexByte(ch, '_')
	if i < 0 {
		return 0, false
	}
	return event.ParseID(ch[i+1:])
}

// docID reads a document id: a positive integer, as the store's ids are.
func docID(d string) (int64, bool) { return event.ParseID(d) }
