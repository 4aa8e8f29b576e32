package service

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/tablecast/tablecast/internal/ot/json0"
	"github.com/tablecast/tablecast/internal/store"
)

// opCache keeps the last ops of recently changed documents, decoded, as
// they were committed, so that a stale submit (the common case when
// several clients edit one document) is transformed without reading and
// decoding the op log. An op of a version is a fact once committed, so
// entries never go stale; the cache only answers when it holds every
// version asked for, and otherwise the op log is read (ops committed
// through other nodes, or evicted). Entries are added after their
// transaction commits.
type opCache struct {
	mu   sync.Mutex
	docs map[docKey]*docOps
	// order is the documents by last change, oldest first, for eviction.
	order []docKey
}

type docKey struct {
	collection string
	id         int64
}

// loggedOp is one op log entry, decoded.
type loggedOp struct {
	docID   int64
	version int64
	// op is the change, decoded when decoded is set; raw is the op log's
	// JSON ({"op":...}, {"create":...} or {"del":true}) otherwise, decoded
	// when needed (a REST write's ops are rarely transformed against).
	op      json0.Op
	decoded bool
	raw     json.RawMessage
	create  bool
	del     bool
	src     string
	seq     uint64
	offset  uint64
}

// decode returns o with its op decoded.
func (o loggedOp) decode(col string) (loggedOp, error) {
	if o.decoded {
		return o, nil
	}
	d, err := decodeLogged(store.DocOp{Collection: col, DocID: o.docID, Version: o.version, Op: o.raw,
		Src: o.src, Seq: o.seq, Offset: o.offset})
	return d, err
}

// docOps is a document's last ops, contiguous: ops[i] is at version
// first+i.
type docOps struct {
	first int64
	ops   []loggedOp
}

const (
	opCacheDocs   = 4096 // documents kept
	opCachePerDoc = 128  // ops kept per document
)

func newOpCache() *opCache { return &opCache{docs: make(map[docKey]*docOps)} }

// get returns the ops of versions from..to-1, or ok false when any is
// missing.
func (c *opCache) get(col string, id, from, to int64) ([]loggedOp, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.docs[docKey{col, id}]
	if d == nil || from < d.first || to > d.first+int64(len(d.ops)) {
		return nil, false
	}
	out := make([]loggedOp, to-from)
	copy(out, d.ops[from-d.first:to-d.first])
	return out, true
}

// loggedEntry is an op log entry of a collection.
type loggedEntry struct {
	col string
	op  loggedOp
}

// add records committed ops. An op that does not follow the document's
// cached ones starts its run again.
func (c *opCache) add(entries []loggedEntry) {
	if len(entries) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range entries {
		o := e.op
		k := docKey{e.col, o.docID}
		d := c.docs[k]
		switch {
		case d == nil:
			if len(c.docs) >= opCacheDocs {
				c.evict()
			}
			d = &docOps{first: o.version}
			c.docs[k] = d
			c.order = append(c.order, k)
		case o.version != d.first+int64(len(d.ops)):
			d.first, d.ops = o.version, d.ops[:0]
		}
		d.ops = append(d.ops, o)
		if len(d.ops) > opCachePerDoc {
			n := len(d.ops) - opCachePerDoc/2
			d.ops = append(d.ops[:0:0], d.ops[n:]...)
			d.first += int64(n)
		}
	}
}

// evict drops the oldest half of the documents.
func (c *opCache) evict() {
	n := len(c.order) / 2
	for _, k := range c.order[:n] {
		delete(c.docs, k)
	}
	c.order = append(c.order[:0:0], c.order[n:]...)
}

// decodeLogged decodes an op log entry.
func decodeLogged(l store.DocOp) (loggedOp, error) {
	var entry struct {
		Op     json0.Op        `json:"op"`
		Fix    json.RawMessage `json:"fix"`
		Create json.RawMessage `json:"create"`
		Del    bool            `json:"del"`
	}
	if err := json.Unmarshal(l.Op, &entry); err != nil {
		return loggedOp{}, fmt.Errorf("service: op log of %s/%d@%d: %w", l.Collection, l.DocID, l.Version, err)
	}
	return loggedOp{docID: l.DocID, version: l.Version, op: entry.Op, decoded: true, create: entry.Create != nil, del: entry.Del,
		src: l.Src, seq: l.Seq, offset: l.Offset}, nil
}

// txOps are the op log entries written by the writes of one transaction
// that have succeeded so far (in group commit, the savepoints released):
// later writes of the transaction see them before they are committed and
// cached. They are dropped with the transaction.
type txOps struct {
	docs map[docKey][]loggedOp // contiguous runs, by version

	// What the batch's submits read that its writes rarely change: a
	// user's access to a table and a table's schema. Dropped as soon as a
	// write of the batch emits an event that may change them (fields,
	// tables, workspaces, members).
	access  map[accessKey]accessMemo
	schemas map[int64]*schema
	// prior are the memos of the batches committed before, handed on by
	// the group commit (groupCommit.kept), read-only here; dropped with
	// access and schemas.
	prior *memos

	// rows are the rows the batch's prepared submits changed, not all
	// written yet, and appends their events and op log entries not
	// written yet (submit_hot.go).
	rows    map[hotKey]*rowWrite
	appends []pendingAppend
	// want are the rows of the batch's prepared submits, by table, and
	// versions those rows' versions as read from the store since the
	// batch last wrote otherwise (txOps.storedVersion).
	want     map[int64][]int64
	versions map[int64]map[int64]int64

	// locked is the table whose lock the batch took before its writes
	// (tableGroups), which they need not take again.
	locked int64
	// fieldsVersion is the locked table's fields version, as its lock
	// returned it (TableLocker); forgot is set once a write of the batch
	// has dropped the memos (forget). groupCommit.keep hands the locked
	// table's schema on to later batches from both (tableGroups).
	fieldsVersion int64
	forgot        bool
}

// setSchema remembers a table's schema for the rest of the batch.
func (t *txOps) setSchema(tableID int64, sc *schema) {
	if t.schemas == nil {
		t.schemas = make(map[int64]*schema)
	}
	t.schemas[tableID] = sc
}

type accessKey struct {
	user  string
	table int64
}

type accessMemo struct {
	t    store.Table
	role store.Role
}

// forget drops the memos after an event of type typ, when it may change
// them.
func (t *txOps) forget(typ string) {
	if t == nil || strings.HasPrefix(typ, "rows_") || strings.HasPrefix(typ, "view_") {
		return
	}
	t.access, t.schemas, t.prior, t.forgot = nil, nil, nil, true
}

// memos are the access and schema memos kept across batches.
type memos struct {
	access  map[accessKey]accessMemo
	schemas map[int64]*schema
}

func (t *txOps) add(entries []loggedEntry) {
	if t.docs == nil {
		t.docs = make(map[docKey][]loggedOp)
	}
	for _, e := range entries {
		o := e.op
		k := docKey{e.col, o.docID}
		run := t.docs[k]
		if n := len(run); n > 0 && run[n-1].version+1 != o.version {
			run = run[:0]
		}
		t.docs[k] = append(run, o)
	}
}

// opsSince returns the ops of versions from..to-1 of a document from the
// transaction's own entries and the cache, or ok false.
func (c *opCache) opsSince(t *txOps, col string, id, from, to int64) ([]loggedOp, bool) {
	hi := to
	var tail []loggedOp
	if t != nil {
		if run := t.docs[docKey{col, id}]; len(run) > 0 && run[len(run)-1].version == to-1 {
			start := max(from, run[0].version)
			tail = run[start-run[0].version:]
			hi = start
		}
	}
	if hi == from {
		return append([]loggedOp(nil), tail...), true
	}
	head, ok := c.get(col, id, from, hi)
	if !ok {
		return nil, false
	}
	return append(head, tail...), true
}
