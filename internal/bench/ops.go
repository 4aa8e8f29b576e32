package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tablecast/tablecast/internal/ot/json0"
	"github.com/tablecast/tablecast/pkg/client"
)

// bench ops: C clients (--n, default 100) edit D documents (--docs, default
// 10) of one table through native submits, C/D clients per document so
// that their ops conflict. Each client is an OT client (client.OTDoc) in a
// closed loop: one op in flight, the next submitted when the previous is
// acknowledged, ops of others applied as they arrive. The ops alternate
// between a one-character insert at a random place of the row's first and
// second text cells, which ShareDB's peer (bench/peers/sharedb) does too;
// with --deletes every third op deletes a character instead.
// Ops acknowledged in the first --warmup are not counted. At the end,
// every client's copy must equal the stored row.

// opsClient is one client of the run.
type opsClient struct {
	c      *client.Client
	doc    *client.OTDoc
	col    string
	id     string
	fields [2]string
	rng    *rand.Rand
	next   int
	// deletes: every third edit (edits counts them) deletes a character.
	deletes bool
	edits   int

	hist  Histogram
	acked int // counted (after the warm-up)
	stale int // counted acks of ops that were transformed
	pairs int // counted transforms (versions the op was behind)
	err   error
}

type opsAck struct {
	ack  client.SubmitAck
	v    int64
	sent time.Time
	err  error
}

func (o *opsClient) onMessage(m client.Message) error {
	if m.Type != client.TypeOp || m.Collection != o.col || m.Document != o.id {
		return nil
	}
	var d struct {
		V  int64    `json:"v"`
		Op json0.Op `json:"op"`
	}
	if err := json.Unmarshal(m.Data, &d); err != nil {
		return fmt.Errorf("op %s: %w", m.Data, err)
	}
	return o.doc.Remote(d.V, d.Op)
}

// localOp inserts one character into a text cell, or with deletes every
// third time deletes one (if the cell has one).
func (o *opsClient) localOp() error {
	key := o.fields[o.next]
	o.next ^= 1
	o.edits++
	fields, _ := o.doc.Data().(map[string]any)["fields"].(map[string]any)
	s, _ := fields[key].(string)
	n := len(s) // ASCII: one UTF-16 unit (json0's offsets) per byte
	if o.deletes && o.edits%3 == 0 && n > 0 {
		k := o.rng.IntN(n)
		return o.doc.Apply(json0.Op{json0.StringDelete([]any{"fields", key}, k, s[k:k+1])})
	}
	return o.doc.Apply(json0.Op{json0.StringInsert([]any{"fields", key}, o.rng.IntN(n+1), "x")})
}

// run submits ops until stop is closed, then until nothing is pending.
// Like the ShareDB peer's clients, a client makes its next edit only when
// its previous op is acknowledged and in place: an acknowledgement that
// overtook ops below its version waits for them (client.OTDoc), and the
// op's latency runs until then.
func (o *opsClient) run(ctx context.Context, stop <-chan struct{}, countFrom time.Time) error {
	acks := make(chan opsAck, 1)
	inflight := false // a Submit call is outstanding
	stopping := false
	var waiting *opsAck // the last op's acknowledgement, until the op is in place
	for {
		if !stopping {
			select {
			case <-stop:
				stopping = true
			default:
			}
		}
		if waiting != nil && !o.doc.Pending() {
			o.count(*waiting, stopping, countFrom)
			waiting = nil
		}
		if !inflight && waiting == nil && !stopping && !o.doc.Pending() {
			if err := o.localOp(); err != nil {
				return err
			}
			op, v, ok := o.doc.Flush()
			if !ok {
				return errors.New("no op to submit after a local edit")
			}
			raw, err := json.Marshal(op)
			if err != nil {
				return err
			}
			inflight = true
			sent := time.Now()
			go func() {
				ack, err := o.c.Submit(ctx, o.col, o.id, client.Submission{V: v, Op: raw})
				acks <- opsAck{ack: ack, v: v, sent: sent, err: err}
			}()
		}
		if stopping && !inflight && !o.doc.Pending() {
			return nil
		}
		select {
		case m, ok := <-o.c.Messages():
			if !ok {
				return fmt.Errorf("connection ended: %w", o.c.Err())
			}
			if err := o.onMessage(m); err != nil {
				return err
			}
		case a := <-acks:
			inflight = false
			if a.err != nil {
				return fmt.Errorf("submit: %w", a.err)
			}
			if err := o.doc.Acked(a.ack.V - 1); err != nil {
				return err
			}
			waiting = &a
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// count records an op that is acknowledged and in place.
func (o *opsClient) count(a opsAck, stopping bool, countFrom time.Time) {
	now := time.Now()
	if !now.After(countFrom) || stopping {
		return
	}
	o.hist.Record(now.Sub(a.sent))
	o.acked++
	if behind := a.ack.V - 1 - a.v; behind > 0 {
		o.stale++
		o.pairs += int(behind)
	}
}

// catchUp applies what the client has not seen yet until its copy is at
// version v.
func (o *opsClient) catchUp(ctx context.Context, v int64) error {
	for o.doc.Version() < v {
		select {
		case m, ok := <-o.c.Messages():
			if !ok {
				return fmt.Errorf("connection ended: %w", o.c.Err())
			}
			if err := o.onMessage(m); err != nil {
				return err
			}
		case <-ctx.Done():
			return fmt.Errorf("copy at version %d, stored %d: %w", o.doc.Version(), v, ctx.Err())
		}
	}
	return nil
}

// rowDoc reads a row as its document and version.
func rowDoc(ctx context.Context, rc *restClient, table, row int64) (any, int64, error) {
	var r struct {
		ID      int64           `json:"id"`
		Order   string          `json:"order"`
		Version int64           `json:"version"`
		Fields  json.RawMessage `json:"fields"`
	}
	path := "/api/tables/" + strconv.FormatInt(table, 10) + "/rows/" + strconv.FormatInt(row, 10)
	if err := rc.call(ctx, http.MethodGet, path, nil, &r); err != nil {
		return nil, 0, err
	}
	b, err := json.Marshal(map[string]any{"id": r.ID, "order": r.Order, "fields": r.Fields})
	if err != nil {
		return nil, 0, err
	}
	var doc any
	return doc, r.Version, json.Unmarshal(b, &doc)
}

func runOps(ctx context.Context, o Options, t *target, prog *progress, rep *Report) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	ttl := tokenTTL(o)
	owner, setup, err := ownedTable(ctx, o, t, t.httpc, o.Docs, "ops")
	if err != nil {
		return err
	}
	col := setup.collection()
	second := strconv.FormatInt(setup.Fields[1], 10)
	cells := map[string]any{second: "-"} // the second cell starts as text, so that inserts apply
	if o.Wide {
		if cells, err = widenRows(ctx, owner, setup, o.CellBytes); err != nil {
			return fmt.Errorf("ops: %w", err)
		}
		if o.EditedNarrow { // the first cell keeps its value, the second starts as text
			delete(cells, strconv.FormatInt(setup.Fields[0], 10))
			cells[second] = "-"
		}
	}
	for _, row := range setup.Rows {
		body := map[string]any{"fields": cells}
		if err := owner.callJSON(ctx, http.MethodPatch, "/api/tables/"+strconv.FormatInt(setup.Table, 10)+"/rows/"+strconv.FormatInt(row, 10), body, nil); err != nil {
			return fmt.Errorf("ops: %w", err)
		}
	}
	shape := ""
	if o.Wide {
		shape = fmt.Sprintf(" (%d cells of %d characters each)", WideCells, o.CellBytes)
		if o.EditedNarrow {
			shape = fmt.Sprintf(" (%d cells of %d characters each but the two edited, which start as in the narrow run)", WideCells, o.CellBytes)
		}
	}
	prog.notef("table %d: %d documents%s, %d clients editing them as %s", setup.Table, len(setup.Rows), shape, o.Conns, benchOwner)

	cc := clientConfig{url: t.wsURL(), urls: t.wsURLs(), secret: t.jwtSecret, channel: o.Channel, sources: t.sources,
		readBuffer: o.ReadBuffer, messageBuffer: 256, tokenTTL: ttl, user: benchOwner}
	// Client i is on node i % nodes (openPool) and edits document
	// docOf(i): with several nodes, every document has clients on each,
	// or with --doc-per-node, on one.
	nodes := len(cc.urls)
	docOf := func(i int) int { return (i / nodes) % len(setup.Rows) }
	if o.DocPerNode {
		docOf = func(i int) int { return i % len(setup.Rows) }
	}
	p, _, err := openPool(ctx, cc, o.Conns, o.Dialers, prog)
	if p == nil {
		return err
	}
	defer p.close()
	defer p.reportErrors(rep)
	if err != nil {
		return fmt.Errorf("ops: %w", err)
	}
	if p.connected() != o.Conns {
		return fmt.Errorf("ops: %d of %d clients connected", p.connected(), o.Conns)
	}
	clients := make([]*opsClient, o.Conns)
	fieldKeys := [2]string{strconv.FormatInt(setup.Fields[0], 10), second}
	for i, c := range p.clients {
		row := setup.Rows[docOf(i)]
		doc := strconv.FormatInt(row, 10)
		if _, err := c.Subscribe(ctx, col, doc); err != nil {
			return fmt.Errorf("ops: subscribe: %w", err)
		}
		clients[i] = &opsClient{c: c, col: col, id: doc, fields: fieldKeys, rng: rand.New(rand.NewPCG(uint64(i), 1)), deletes: o.Deletes}
	}
	// Nothing writes yet: each document's snapshot, read once, is every
	// subscriber's starting copy.
	for d, row := range setup.Rows {
		data, v, err := rowDoc(ctx, owner, setup.Table, row)
		if err != nil {
			return fmt.Errorf("ops: %w", err)
		}
		for i := range clients {
			if docOf(i) == d {
				copyData, _ := deepCopy(data)
				clients[i].doc = client.NewOTDoc(copyData, v)
			}
		}
	}

	onPostgres := o.URL == "" && isPostgres(o.DatabaseURL)
	storeCPU := func() float64 { return 0 } // SQLite runs in the server
	if onPostgres {
		storeCPU = postgresCPU
	}
	cpu0, benchCPU0, storeCPU0 := t.cpu(), cpuOf(os.Getpid()), storeCPU()
	start := time.Now()
	countFrom := start.Add(o.Warmup)
	stop := make(chan struct{})
	var done atomic.Int64
	end := prog.phase("submitting", int64(len(clients)), done.Load)
	var wg sync.WaitGroup
	for _, oc := range clients {
		wg.Go(func() {
			oc.err = oc.run(ctx, stop, countFrom)
			done.Add(1)
		})
	}
	timer := time.NewTimer(o.Warmup + o.Duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	stopAt := time.Now()
	close(stop)
	wg.Wait()
	end()
	serverCPU, benchCPU, dbCPU := t.cpu()-cpu0, cpuOf(os.Getpid())-benchCPU0, storeCPU()-storeCPU0

	out := opsOutcome{clients: len(clients), docs: len(setup.Rows), window: stopAt.Sub(countFrom), seconds: time.Since(start).Seconds(),
		serverCPU: serverCPU, benchCPU: benchCPU, dbCPU: dbCPU, postgres: onPostgres}
	var errs []error
	limited := false
	for i, oc := range clients {
		out.hist.Merge(&oc.hist)
		out.acked += oc.acked
		out.stale += oc.stale
		out.pairs += oc.pairs
		if oc.err != nil {
			errs = append(errs, fmt.Errorf("client %d: %w", i, oc.err))
			limited = limited || rateLimited(oc.err)
		}
	}
	if limited {
		errs = append(errs, errRateLimited(len(clients), o.URL != ""))
	}
	// The final check: every copy equals the stored document.
	if len(errs) == 0 {
		cctx, ccancel := afterCtx(ctx)
		defer ccancel()
		for d, row := range setup.Rows {
			want, v, err := rowDoc(cctx, owner, setup.Table, row)
			if err != nil {
				errs = append(errs, err)
				break
			}
			out.versions += v
			for i := range clients {
				if docOf(i) != d {
					continue
				}
				if err := clients[i].catchUp(cctx, v); err != nil {
					errs = append(errs, fmt.Errorf("client %d: %w", i, err))
					out.mismatches++
					continue
				}
				if !json0.Equal(clients[i].doc.Data(), want) {
					out.mismatches++
				}
			}
		}
	}
	out.checked = len(errs) == 0
	out.report(rep, o)
	if peer := o.SharedbPeer; peer != "" {
		runSharedbPeer(ctx, o, peer, prog, rep, out)
		runSharedbDialect(ctx, o, peer, t, setup, owner.token, prog, rep, out)
	}
	return errors.Join(errs...)
}

// widenRows gives the table WideCells text fields in all and returns the
// cells every row then holds: each field's text of n characters.
func widenRows(ctx context.Context, owner *restClient, setup *tableSetup, n int) (map[string]any, error) {
	path := "/api/tables/" + strconv.FormatInt(setup.Table, 10) + "/fields"
	for i := len(setup.Fields); i < WideCells; i++ {
		var f struct {
			ID int64 `json:"id"`
		}
		if err := owner.callJSON(ctx, http.MethodPost, path, map[string]any{"name": "wide " + strconv.Itoa(i), "type": "text"}, &f); err != nil {
			return nil, err
		}
		setup.Fields = append(setup.Fields, f.ID)
	}
	text := make([]byte, n)
	for i := range text {
		text[i] = 'a' + byte(i%26)
	}
	cells := make(map[string]any, len(setup.Fields))
	for _, id := range setup.Fields {
		cells[strconv.FormatInt(id, 10)] = string(text)
	}
	return cells, nil
}

func deepCopy(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(b, &out)
}

// opsOutcome is what an ops run measured.
type opsOutcome struct {
	clients, docs int
	window        time.Duration // the counted part of the run
	seconds       float64
	hist          Histogram
	acked         int
	stale, pairs  int
	versions      int64
	mismatches    int
	checked       bool
	serverCPU     float64
	benchCPU      float64
	// dbCPU is PostgreSQL's CPU (every postgres process of the machine)
	// when the store is PostgreSQL (postgres), else 0: SQLite's is the
	// server's.
	dbCPU    float64
	postgres bool
}

// perOp is the mean CPU use over the run (CPU-seconds) per acked op at the
// counted rate, in ms (the CPU is read around the whole run, warm-up
// included).
func (r *opsOutcome) perOp(cpu float64) float64 {
	if r.acked == 0 {
		return math.NaN()
	}
	return cpu / r.seconds / r.ackedPerSec() * 1000
}

func (r *opsOutcome) ackedPerSec() float64 { return rate(r.acked, r.window) }

func (r *opsOutcome) report(rep *Report, o Options) {
	rep.add("clients", "clients", float64(r.clients), "")
	rep.add("documents", "documents", float64(r.docs), "")
	rep.add("acked_ops", "ops acknowledged (after the warm-up)", float64(r.acked), "")
	rep.add("acked_ops_per_s", "acked ops/s", r.ackedPerSec(), "ops/s")
	rep.add("transformed_ops_per_s", "acked ops/s that were transformed (stale on arrival)", rate(r.stale, r.window), "ops/s")
	rep.add("transforms_per_s", "transforms/s (ops transformed against, summed)", rate(r.pairs, r.window), "transforms/s")
	addLatency(rep, "", "submit-to-ack latency", &r.hist)
	rep.Latency = latencyReport(&r.hist)
	rep.add("server_cores", "server CPU use", r.serverCPU/r.seconds, "cores")
	rep.add("bench_cores", "bench CPU use (the clients)", r.benchCPU/r.seconds, "cores")
	rep.add("server_cpu_ms_per_op", "server CPU per acked op", r.perOp(r.serverCPU), "ms")
	if r.postgres {
		rep.add("db_cpu_ms_per_op", "PostgreSQL CPU per acked op (all its processes on this machine)", r.perOp(r.dbCPU), "ms")
		rep.add("store_server_cpu_ms_per_op", "server and PostgreSQL CPU per acked op", r.perOp(r.serverCPU+r.dbCPU), "ms")
	}
	rep.add("bench_cpu_ms_per_op", "bench CPU per acked op (the clients)", r.perOp(r.benchCPU), "ms")
	rep.add("stored_versions", "document versions stored (all documents)", float64(r.versions), "")
	zero := func(v float64) bool { return v == 0 }
	mism := float64(r.mismatches)
	if !r.checked {
		mism = math.NaN()
	}
	rep.add("copies_differing", "client copies differing from the stored document", mism, "").goal("0", zero)
}

// rateLimited reports whether err is the server's refusal of a message
// over the connection's rate limit.
func rateLimited(err error) bool {
	var se *client.ServerError
	return errors.As(err, &se) && se.Code == http.StatusTooManyRequests
}

// errRateLimited explains a run that the per-connection message limit
// stopped: with few clients each submits far faster than a person types.
// external: the server is the one --url names, not one the bench started.
func errRateLimited(clients int, external bool) error {
	lift := "the server the bench starts takes TABLECAST_RATE_LIMIT from the environment (TABLECAST_RATE_LIMIT=100000/s)"
	if external {
		lift = "start the server --url names with a higher --rate-limit (or TABLECAST_RATE_LIMIT), such as 100000/s"
	}
	return fmt.Errorf("the server refused submits over its per-connection message limit "+
		"(--rate-limit, 100/s by default): each of the %d clients submits as fast as its acks come back. "+
		"Run more clients (-n), or raise the limit: %s", clients, lift)
}
