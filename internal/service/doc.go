// Package service is the table store's application layer, shared by the
// REST API (httpapi) and the dialects: one method per operation of
// http-api.md (Store), taking the context, the Actor (user id and the
// origin socket) and typed input, returning typed output or an error
// (ErrNotFound, ErrForbidden, ErrConflict, ErrUnauthorized as *Error with a
// message safe to show, or a *table.ValidationError whose Details name the
// field and, in a batch, the item: "items[3].fields.7").
//
// # Writes and events
//
// Every write is one store.Update transaction that reads the caller's role,
// validates with package table, writes, and appends its event(s) to the
// right stream with AppendEvent (offsets gapless per stream). After the
// commit, and only then, the events go to Publisher.Publish; a failure is
// logged and left to the relay, which publishes committed events that are
// not marked published. A write that fails or rolls back appends and
// publishes nothing. Since the store may run the transaction function more
// than once, only the events of the run that committed are published.
//
// Streams: rows_*, field_*, view_* go to the table's stream; table_created,
// table_updated, table_deleted, workspace_* and member_* to the
// workspace's. table_deleted is also appended to the table's own stream as
// its last event (and a workspace's deletion ends each of its tables'
// streams the same way), so that table subscribers learn in order that
// nothing more will come.
//
// Payloads (events.go) are self-contained: every row is whole (every field,
// empty cells with their default value), rows_updated carries the rows
// before and after, deletions carry what was deleted, view_updated the view
// before. A batch is one event. Each carries the actor and the origin
// (X-WebSocket-Id or WebSocketId, "" without).
//
// # Decisions the spec left open
//
//   - Roles: admin does everything; tables (create, rename, delete), the
//     workspace and members are admin-only; editors write rows, fields and
//     views; viewers read. A table, field, view or row of a workspace the
//     caller is not in is ErrNotFound, exactly like one that does not exist.
//     Membership lists are admin-only, as http-api.md says.
//   - The last admin of a workspace can be neither demoted nor removed
//     (ErrConflict); an admin may leave when another admin remains.
//   - Names (workspace, table, field, view) are trimmed; 1 to 255
//     characters. Field names are unique within a table, exactly (400 on
//     "name"; a concurrent duplicate is 409).
//   - Field changes: changing the type resets the options to the new
//     type's, but a select changed into the other select type keeps its
//     choices. Choices with id 0 get ids after the largest the field has or
//     had. Values are converted as Baserow does (convertValue): what does not
//     convert becomes empty. Converted rows are updated in the same
//     transaction and announced after field_updated in rows_updated events
//     of at most MaxBatch rows (field_conversion: true); this reads the whole
//     table and holds every changed row in memory, once per type or option
//     change. Views are reconciled (table.View.ReconcileField) and listed in
//     field_updated.views_changed; a field made primary demotes the former
//     one (related_fields). Making the primary field not primary is refused:
//     make another one primary.
//   - The primary field cannot be deleted (ErrConflict). Deleting a field
//     updates the views that filter, sort on or hide it in the same
//     transaction (field_deleted.views_changed).
//   - Rows: keys of "fields" are "12" or "field_12"; a field given twice is
//     an error. A batch is all or nothing, 1 to MaxBatch (1000) items; a
//     batch update or delete naming a row that is not in the table fails
//     whole with ErrNotFound (listing the ids), repeats are a 400. A row
//     update may carry "version": 0 means any, else ErrConflict unless the
//     row is at that version. ?before= naming a row not in the table is a
//     400 on "before". rows_created carries orders_shifted when the store
//     had to renumber rows to make room (clients refetch orders); the batch
//     answer carries it too.
//   - Row listing: the view's filters AND the query's filter AND the
//     search; the query's sort replaces the view's. Without a sort, pages
//     follow the row order with the store's keyset cursor, reading only as
//     many rows as needed (in batches of 1000 when a filter drops rows).
//     With a sort, each page reads the whole table in batches within one
//     read transaction and keeps the limit+1 first rows after the cursor in
//     a heap (memory O(limit), time O(rows log limit)); tables over
//     Config.MaxSortRows (default 100,000) are refused with a 400 on "sort".
//     Order is (sorts, row order, id): the cursor is the last row's position
//     in it (its sorted values, order and id), so it stays stable while rows
//     change: rows before it are not repeated, rows after it not skipped.
//     Cursors are sealed with AES-256-GCM under a key from Config.Secret
//     (opaque: a public view's cursor must not reveal a hidden field it
//     sorts on) and bound to the query (table, view, filter, sort, search):
//     another query's cursor is a 400 on "cursor". Limit: default 100,
//     1 to 1000. Offset is StreamTop of the table's stream in the same Read.
//   - Views: a public view gets a random slug of 43 URL-safe characters (32
//     random bytes), kept when the view is made private (publishing it again
//     gives the same address). Passwords are 8 to 256 characters, stored as
//     PBKDF2-HMAC-SHA256 (crypto/pbkdf2, 600,000 iterations, 16-byte salt,
//     constant-time compare): golang.org/x/crypto/bcrypt is not in go.sum.
//     Password "" in an update removes it. A view that is not public does
//     not exist for the public routes (404).
//   - Public view tokens: "<payload>.<mac>" in base64url, the payload
//     "v1:<view id>:<expiry>:<password fingerprint>", the mac HMAC-SHA256
//     under a key derived from Config.Secret; valid Config.ViewTokenTTL
//     (default 1 hour). Changing the password voids earlier tokens. The
//     token is sent as Authorization: Bearer; a view without a password
//     ignores it. Public listing reads limit, cursor and search (in visible
//     fields); the view's own filters and sorts apply and cannot be changed.
//   - Config.Secret: give every node the same one; without it a random
//     secret per process makes tokens and cursors die with the process.
//
// # Concurrency
//
// SQLite runs one write transaction at a time. On PostgreSQL (READ
// COMMITTED) writers to one table queue on its stream counter from their
// AppendEvent on; a store whose Tx implements TableLocker is asked to lock
// the table right after the role check, so that a row write racing a field
// change cannot validate against the old schema.
package service
