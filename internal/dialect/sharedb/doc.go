// Package sharedb speaks ShareDB's wire protocol (protocol 1, minor 1 and
// 2; json0 documents) at /sharedb, so that the unmodified sharedb npm
// client (4.x to 7.x) works against tablecast: documents (f, s, u, bf, bs,
// bu), op submits with their acks, live queries (qf, qs, qu), snapshot
// reads (nf, nt), presence (p, ps, pu, pr) and pp, over the store's
// documents, versions, streams and permissions (docs/protocol.md, "ShareDB
// dialect").
//
// The documents are the store's (service/docchanges.go): record_T,
// field_T, view_T and table_W, also under Teable's names rec_T, fld_T,
// viw_T and tbl_W. A record is {"id","order","fields":{...}}; its version
// is the row's. Any other collection is refused with ERR_UNKNOWN_COLLECTION
// (app channels are the native protocol's).
//
// The hub holds this dialect's subscriptions in collections of its own,
// whose names no native client can spell: sdb/<collection as the client
// spelled it> (documents, on their table's stream: StreamOf) and
// sdbp/<channel> (presence). The Renderer renders each store event once per
// spelling held on this node, as ShareDB op messages; the Server re-runs
// live queries after the events of their stream (Server.HandleEvent is the
// hub's event hook for this dialect) with a pool of workers.
//
// Files: server.go (endpoint, authentication), session.go (one socket: the
// frames, the rate limit, hs, pp), session_docs.go (f, s, u, bulk, nf,
// nt), submit.go (op), query.go and query_live.go (qf, qs, qu, the
// workers), diff.go (query diffs), presence.go, render.go, protocol.go
// (messages, error codes), collections.go (names), store.go (what the
// dialect needs from the store).
package sharedb
