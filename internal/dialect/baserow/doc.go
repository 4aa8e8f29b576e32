// Package baserow speaks the page protocol of Baserow's real-time API
// (docs/protocol.md, "Baserow dialect") at /ws/core/: a JWT (or "anonymous")
// in the query string, the authentication message, pages added and removed
// with flat keys, and the store's events rendered into Baserow's typed
// messages (rows_created, field_updated, ...).
//
// A page is a hub subscription on a collection of this dialect's own,
// whose names no native client can spell (they hold '/'):
//
//	table page  table_id=T          br/table/T
//	row page    table_id=T row_id=R br/row/T, document R
//	view page   slug=S              br/view/T, document <view id>
//
// All three belong to the stream table:T (StreamOf), so a page receives
// the table's events in offset order, replays from the outbox, and every
// frame carries the table's offset as _event_id.
//
// The Renderer renders each event once for each page that has
// subscribers on this node (the pages index): one frame for the table
// page, one per row for row pages, and one projection per public view. A
// public view's projection needs the view's definition; the renderer keeps
// each watched table's fields and public views in memory (viewdefs.go),
// read through the Store the server implements, reloaded after the
// table's field and view events, never once per subscriber.
//
// Permission changes (a member removed, a view made private or given a
// new password, a view or table deleted) end pages through the hub:
// Server.HandleEvent is the hub's event hook for this dialect.
package baserow
