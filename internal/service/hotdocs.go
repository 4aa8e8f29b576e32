package service

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
)

// Hot documents. When several clients edit one record through ops, every
// submit used to read the row back, decode it, transform, apply, validate
// and encode its event inside the write transaction that a single-writer
// store runs one at a time, and PostgreSQL one per table at a time (the
// table's lock): all of it serial. A hot document keeps the record
// in memory, as it will be once the writes queued for it have committed,
// so that a submit does that work before it queues its write, under its
// document's lock only (submits to different documents run in parallel),
// and its write holds just its statements (submit_hot.go).
//
// The store stays the judge: a prepared write goes ahead only if the row
// is at the version it was prepared against (read in the transaction, or
// left so by the batch's earlier prepared writes; the batch then writes
// the row once, see rowWrite), the table's fields are the ones it was
// prepared with, and the caller's role, checked again in the transaction,
// allows it. When any of that does not hold, the write runs the ordinary
// submit instead, in the same transaction, and the document is dropped
// from memory (loaded again by the next submit). So a hot document that
// went stale costs a fallback, never a wrong write. It goes stale when a
// write other than a prepared submit changes the row or its table's
// fields (settle), when a prepared write fails, or when it is evicted.
//
// hotDocs is the one type of the stage, in three steps, each a method:
//
//   - prepare (submit_hot.go): before any transaction, under the
//     document's lock, work the op out on the document, advance the
//     document, and queue the write with the group commit;
//   - write (submit_hot.go): in the batch's transaction, check the store
//     and append the event and the op log entry, leaving the row to the
//     batch (rowWrite), or fall back to the cold submit;
//   - settle (here): once the batch has committed or failed, keep the
//     documents true to every write's outcome.
//
// Lock order: hotDoc.mu, then groupCommit.mu (a prepared submit queues
// its write while it holds its document). hotDocs.mu is taken alone.

// hotDocs is the set of documents kept in memory.
type hotDocs struct {
	store store.Store
	now   func() time.Time
	ops   *opCache

	mu   sync.Mutex
	docs map[hotKey]*hotDoc
	// loading are the records being loaded (get), each with a channel
	// closed when its load has ended: a record's other submits wait for
	// that load rather than each load the row too.
	loading map[hotKey]chan struct{}
	// resting are records whose document was dropped soon after its
	// load: until when they are not loaded again, and for how long
	// (hotRest). Kept past their end, as the last rest of the record.
	resting map[hotKey]recordRest
	// committed counts the prepared writes that committed as prepared,
	// fellBack those that fell back to the ordinary submit, loads the
	// documents loaded (HotStats); waits, the submits that waited for
	// another's load (tests).
	committed, fellBack, loads, waits atomic.Int64
	// bytes is about the memory the documents hold (hotDoc.size).
	bytes atomic.Int64
}

type hotKey struct {
	table, id int64
}

// hotDocsMax and hotDocsBytes bound the documents kept; past either,
// documents are dropped at random (a dropped document only costs its next
// submit a load).
const (
	hotDocsMax   = 4096
	hotDocsBytes = 64 << 20
)

// hotOpsKept is how many of its last ops a document keeps, to transform
// stale submits against; older ones come from the op cache.
const hotOpsKept = 128

// hotRest: a record whose document was dropped as stale within hotRest
// of its load rests: it is not loaded again meanwhile, and its submits
// run the ordinary submit. A document lasts that little when other writes
// to its record come as often as its ops: editors of the record on
// another node (PostgreSQL), whose ops the node's op cache does not hold
// either, or REST writes to it. Each op would then pay for loading the
// document and preparing on it on top of the ordinary submit it falls
// back to. A rest lasts hotRest, or twice the last one if the record
// rests again within as long after it, up to hotRestMax: a record whose
// writers keep taking turns is tried again every 16 s, one whose writers
// stopped within a second or two. hotRestKept bounds the records kept;
// past it, rests that are long over are forgotten, then any.
const (
	hotRest     = time.Second
	hotRestMax  = 16 * time.Second
	hotRestKept = 1024
)

// recordRest is a record's rest: until when, and how long it was.
type recordRest struct {
	until time.Time
	span  time.Duration
}

// hotDoc is one record in memory.
type hotDoc struct {
	key    hotKey
	loaded time.Time // when it was loaded (hotRest)
	// dead: the document went stale; it is out of hotDocs and its
	// prepared writes fall back.
	dead atomic.Bool
	// size is about the memory it holds: three times its row's JSON (the
	// JSON, the decoded row and the document), counted in hotDocs.bytes.
	size atomic.Int64

	mu          sync.Mutex
	workspaceID int64     // the table's
	sc          *schema   // the fields it was loaded with
	row         event.Row // the record once its queued writes commit
	// doc is recordDoc(row) as a json0 document. Its own two maps (the
	// record and its fields) are changed in place by advance (setPart);
	// the values in them never are: ops are applied to a copy of the part
	// they touch (docPart).
	doc any
	// part and partCells are docPart's maps.
	part, partCells map[string]any
	// rowJSON is row's JSON once encoded (nil until then).
	rowJSON []byte
	// wholeV and wholeAt are the version and time of the last event
	// known to hold the row whole, wholeBytes the row's size then: what
	// event.WholeRowAfter decides by. At load, the store's
	// (store.Row.WholeVersion; 0, none known: the row's size now); then
	// the document's own, which it records in the store with the row
	// (rowWrite). Any other write to the row drops the document (settle).
	wholeV     int64
	wholeAt    time.Time
	wholeBytes int
	// ops are the document's ops from version first on, committed or
	// queued: ops[i] applied to version first+i.
	first int64
	ops   []loggedOp
	// editors are users whose prepared writes committed: their role was
	// checked in a transaction, so their next ops are prepared without a
	// read (the transaction checks again).
	editors map[string]bool
}

func newHotDocs(st store.Store, now func() time.Time, ops *opCache) *hotDocs {
	return &hotDocs{store: st, now: now, ops: ops, docs: make(map[hotKey]*hotDoc)}
}

// peek returns the document if it is in memory, and else whether its
// record rests (hotRest).
func (h *hotDocs) peek(tableID, id int64) (d *hotDoc, resting bool) {
	k := hotKey{tableID, id}
	h.mu.Lock()
	defer h.mu.Unlock()
	if d = h.docs[k]; d == nil && len(h.resting) > 0 {
		r, ok := h.resting[k]
		resting = ok && h.now().Before(r.until)
	}
	return d, resting
}

// get returns the document, loading it when it is not in memory; ok is
// false when the row cannot be loaded (the ordinary submit says why). One
// submit loads a record at a time; the record's others wait for it (when
// many clients of a record submit at once, say after a restart, the row
// is read and decoded once, not once each).
func (h *hotDocs) get(ctx context.Context, tableID, id int64) (*hotDoc, bool) {
	k := hotKey{tableID, id}
	h.mu.Lock()
	if d := h.docs[k]; d != nil {
		h.mu.Unlock()
		return d, true
	}
	if wait, busy := h.loading[k]; busy {
		h.mu.Unlock()
		h.waits.Add(1)
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, false
		}
		d, _ := h.peek(tableID, id)
		return d, d != nil // none: the load failed, and the ordinary submit says why
	}
	if h.loading == nil {
		h.loading = make(map[hotKey]chan struct{})
	}
	done := make(chan struct{})
	h.loading[k] = done
	h.mu.Unlock()

	d, err := h.load(ctx, k)
	h.mu.Lock()
	defer close(done)
	defer h.mu.Unlock()
	delete(h.loading, k)
	if err != nil {
		return nil, false
	}
	h.loads.Add(1)
	for k, old := range h.docs {
		if len(h.docs) < hotDocsMax && h.bytes.Load() < hotDocsBytes {
			break
		}
		h.forgetLocked(k, old)
	}
	h.docs[k] = d
	h.resize(d, 3*64*int64(len(d.row.Fields))) // until its JSON is known
	return d, true
}

// load reads a record's document from the store.
func (h *hotDocs) load(ctx context.Context, k hotKey) (*hotDoc, error) {
	d := &hotDoc{key: k, loaded: h.now()}
	err := h.store.Read(ctx, func(r store.Reader) error {
		t, err := r.Table(ctx, k.table)
		if err != nil {
			return err
		}
		sc, err := loadSchema(ctx, r, k.table)
		if err != nil {
			return err
		}
		row, err := r.Row(ctx, k.table, k.id)
		if err != nil {
			return err
		}
		outs, err := rowsOut([]store.Row{row}, sc)
		if err != nil {
			return err
		}
		if d.doc, err = asDoc(event.RecordDocOf(outs[0])); err != nil {
			return err
		}
		d.workspaceID, d.sc, d.row, d.first = t.WorkspaceID, sc, outs[0], row.Version
		d.wholeV, d.wholeAt, d.wholeBytes = row.WholeVersion, row.WholeAt, row.WholeBytes
		if row.WholeVersion == 0 {
			d.wholeBytes = len(row.Values)
		}
		return nil
	})
	return d, err
}

// HotStats is what the hot documents (hotdocs.go) hold and have done
// since the service started.
type HotStats struct {
	Documents int   // records in memory
	Bytes     int64 // about the memory they hold
	Resting   int   // records resting (not loaded while other writes come as often as their ops)
	Prepared  int64 // submits written as prepared on a document
	FellBack  int64 // prepared submits the store refused, written as ordinary submits
	Loads     int64 // documents loaded from the store
}

// HotStats reads the hot documents' figures.
func (s *Service) HotStats() HotStats {
	h := s.hot
	now := h.now()
	h.mu.Lock()
	st := HotStats{Documents: len(h.docs)}
	for _, r := range h.resting {
		if now.Before(r.until) {
			st.Resting++
		}
	}
	h.mu.Unlock()
	st.Bytes, st.Prepared, st.FellBack, st.Loads = h.bytes.Load(), h.committed.Load(), h.fellBack.Load(), h.loads.Load()
	return st
}

// restLocked makes the record rest from now (hotRest); h.mu is held.
func (h *hotDocs) restLocked(k hotKey, now time.Time) {
	span := hotRest
	if r, ok := h.resting[k]; ok && now.Sub(r.until) < r.span {
		span = min(2*r.span, hotRestMax)
	}
	if h.resting == nil {
		h.resting = make(map[hotKey]recordRest)
	}
	if len(h.resting) >= hotRestKept {
		for o, r := range h.resting {
			if now.Sub(r.until) >= r.span { // would not lengthen the next
				delete(h.resting, o)
			}
		}
		for o := range h.resting { // all still of use: any may go
			if len(h.resting) < hotRestKept {
				break
			}
			delete(h.resting, o)
		}
	}
	h.resting[k] = recordRest{until: now.Add(span), span: span}
}

// resize records that d holds about n bytes. It takes no lock (a submit
// calls it for every op): a document dropped meanwhile gives its bytes
// back here, since forgetLocked marks it dead before it takes its size.
func (h *hotDocs) resize(d *hotDoc, n int64) {
	h.bytes.Add(n - d.size.Swap(n))
	if d.dead.Load() {
		h.bytes.Add(-d.size.Swap(0))
	}
}

// forgetLocked drops d, keyed k; h.mu is held.
func (h *hotDocs) forgetLocked(k hotKey, d *hotDoc) {
	d.dead.Store(true)
	delete(h.docs, k)
	h.bytes.Add(-d.size.Swap(0))
}

// drop marks d stale and forgets it; its record rests if d lasted less
// than hotRest (hotRest).
func (h *hotDocs) drop(d *hotDoc) {
	d.dead.Store(true)
	now := h.now()
	h.mu.Lock()
	if h.docs[d.key] == d {
		h.forgetLocked(d.key, d)
		if now.Sub(d.loaded) < hotRest {
			h.restLocked(d.key, now)
		}
	}
	h.mu.Unlock()
}

// dropRow forgets the record of a table, if kept.
func (h *hotDocs) dropRow(tableID, id int64) {
	h.mu.Lock()
	d := h.docs[hotKey{tableID, id}]
	h.mu.Unlock()
	if d != nil {
		h.drop(d)
	}
}

// dropTable forgets every record of a table.
func (h *hotDocs) dropTable(tableID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, d := range h.docs {
		if k.table == tableID {
			h.forgetLocked(k, d)
		}
	}
}

// settle keeps the documents true to a write that has just committed or
// failed: a prepared write that failed or fell back leaves its document
// stale, and any other committed write drops the records it logged ops
// for, or every record of a table whose fields or existence it changed.
func (h *hotDocs) settle(r *writeReq) {
	ranHot := r.ranHot()
	if r.hot != nil {
		d := r.hot.doc
		if !ranHot {
			h.drop(d)
			if r.err == nil {
				h.fellBack.Add(1)
			}
		} else {
			h.committed.Add(1)
			d.mu.Lock()
			if d.editors == nil {
				d.editors = make(map[string]bool)
			}
			d.editors[r.actor.UserID] = true
			d.mu.Unlock()
		}
	}
	if r.err != nil || r.w == nil || ranHot {
		return
	}
	h.forgetChanged(r.w.logged)
}

// forgetChanged drops the records a committed write logged ops for, and
// every record of a table whose fields or existence it changed.
func (h *hotDocs) forgetChanged(logged []loggedEntry) {
	h.mu.Lock()
	empty := len(h.docs) == 0
	h.mu.Unlock()
	if empty {
		return
	}
	for _, e := range logged {
		prefix, rest, _ := strings.Cut(e.col, "_")
		id, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			continue
		}
		switch prefix {
		case "record":
			h.dropRow(id, e.op.docID)
		case "field":
			h.dropTable(id)
		case "table":
			h.dropTable(e.op.docID)
		}
	}
}
