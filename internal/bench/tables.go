package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tablecast/tablecast/internal/auth"
)

// The table scenarios (rows, recover) work on one table that bench makes
// through the REST API as benchOwner: a workspace, a table with cellFields
// text fields (the primary one and three more) and --rows rows. The
// sockets all belong to benchViewer, a viewer of the workspace: membership
// is what a store collection's subscription needs, and one user for every
// socket spares a thousand member additions before the run.
const (
	benchOwner  = "bench-owner"
	benchViewer = "bench-viewer"
	cellFields  = 4
	// rowsPerBatch stays within the API's batch limit (1,000).
	rowsPerBatch = 500
)

// restClient calls the store's REST API as one user.
type restClient struct {
	base  *url.URL
	httpc *http.Client
	token string
}

// userToken signs a token for user with the server's secret.
func userToken(secret, user string, ttl time.Duration) (string, error) {
	now := time.Now()
	return auth.Sign([]byte(secret), auth.Claims{Subject: user, ExpiresAt: now.Add(ttl)}, now)
}

// call sends a request and decodes a 2xx answer into out (when not nil).
func (r *restClient) call(ctx context.Context, method, path string, body []byte, out any) error {
	return doRequest(ctx, r.httpc, method, r.base.JoinPath(path).String(), r.token, body, out)
}

// callJSON is call with a body marshalled from in.
func (r *restClient) callJSON(ctx context.Context, method, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if err := r.call(ctx, method, path, b, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// tableSetup is what the table scenarios made before measuring.
type tableSetup struct {
	Workspace int64   `json:"workspace"`
	Table     int64   `json:"table"`
	Fields    []int64 `json:"fields"` // the text fields the writes update
	Rows      []int64 `json:"rows"`
}

// collection is the native collection of the table's rows.
func (s *tableSetup) collection() string { return "record_" + strconv.FormatInt(s.Table, 10) }

// setupTable makes the workspace, its viewer, the table, its fields and
// rows rows, as the owner rc acts for.
// tokenTTL is how long the tokens a scenario makes last: past its timeout.
func tokenTTL(o Options) time.Duration { return o.Timeout + time.Hour }

// ownedTable makes a scenario's table as the bench's owner, with rows rows,
// and returns the owner's REST client (over httpc) with it.
func ownedTable(ctx context.Context, o Options, t *target, httpc *http.Client, rows int, scenario string) (*restClient, *tableSetup, error) {
	token, err := userToken(t.jwtSecret, benchOwner, tokenTTL(o))
	if err != nil {
		return nil, nil, err
	}
	owner := &restClient{base: t.base, httpc: httpc, token: token}
	setup, err := setupTable(ctx, owner, rows)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: making the table: %w", scenario, err)
	}
	return owner, setup, nil
}

func setupTable(ctx context.Context, rc *restClient, rows int) (*tableSetup, error) {
	type idOnly struct {
		ID int64 `json:"id"`
	}
	var ws, tbl idOnly
	if err := rc.callJSON(ctx, http.MethodPost, "/api/workspaces", map[string]any{"name": "bench"}, &ws); err != nil {
		return nil, err
	}
	wsPath := "/api/workspaces/" + strconv.FormatInt(ws.ID, 10)
	if err := rc.callJSON(ctx, http.MethodPost, wsPath+"/members",
		map[string]any{"user_id": benchViewer, "role": "viewer"}, &struct{}{}); err != nil {
		return nil, err
	}
	if err := rc.callJSON(ctx, http.MethodPost, wsPath+"/tables", map[string]any{"name": "bench"}, &tbl); err != nil {
		return nil, err
	}
	s := &tableSetup{Workspace: ws.ID, Table: tbl.ID}
	tPath := "/api/tables/" + strconv.FormatInt(tbl.ID, 10)
	var fields struct {
		Results []struct {
			ID      int64 `json:"id"`
			Primary bool  `json:"primary"`
		} `json:"results"`
	}
	if err := rc.call(ctx, http.MethodGet, tPath+"/fields", nil, &fields); err != nil {
		return nil, fmt.Errorf("GET %s/fields: %w", tPath, err)
	}
	var primary int64
	for _, f := range fields.Results {
		if f.Primary {
			primary = f.ID
		}
	}
	if primary == 0 {
		return nil, fmt.Errorf("table %d has no primary field", tbl.ID)
	}
	s.Fields = append(s.Fields, primary)
	for i := 1; i < cellFields; i++ {
		var f idOnly
		if err := rc.callJSON(ctx, http.MethodPost, tPath+"/fields",
			map[string]any{"name": "cell " + strconv.Itoa(i), "type": "text"}, &f); err != nil {
			return nil, err
		}
		s.Fields = append(s.Fields, f.ID)
	}
	key := strconv.FormatInt(primary, 10)
	for done := 0; done < rows; {
		n := min(rowsPerBatch, rows-done)
		items := make([]map[string]any, n)
		for i := range items {
			items[i] = map[string]any{"fields": map[string]any{key: "row " + strconv.Itoa(done+i+1)}}
		}
		var created struct {
			Items []idOnly `json:"items"`
		}
		if err := rc.callJSON(ctx, http.MethodPost, tPath+"/rows", map[string]any{"items": items}, &created); err != nil {
			return nil, err
		}
		if len(created.Items) != n {
			return nil, fmt.Errorf("POST %s/rows: %d rows made, want %d", tPath, len(created.Items), n)
		}
		for _, r := range created.Items {
			s.Rows = append(s.Rows, r.ID)
		}
		done += n
	}
	return s, nil
}

// cellPlan is a run of cell updates: writers goroutines, one request in
// flight each, at rate updates/s in all (0: as fast as the server
// answers), writes of them or, when writes is 0, for duration.
type cellPlan struct {
	setup    *tableSetup
	writers  int
	rate     float64
	writes   int
	duration time.Duration
	credit   *credit // nil: the writes wait for nothing but the rate
}

// writeResult is what the writers did. Sequence numbers 0 to taken-1 were
// handed out; among them, unsent lists those never sent (so not
// committed), and unconfirmed those sent whose request failed or was cut
// short (perhaps committed, perhaps not). The others are committed.
type writeResult struct {
	taken       int
	unsent      []int
	unconfirmed []int
	took        time.Duration  // from the start to the last answer
	calls       *LatencyReport // REST call durations; nil: none answered
	err         error
}

func (r writeResult) confirmed() int { return r.taken - len(r.unsent) - len(r.unconfirmed) }

// appendCell appends the text a write puts in a cell: its sequence number
// and the timestamp taken just before the request, s<seq>t<UnixNano>.
func appendCell(dst []byte, seq int, stamp int64) []byte {
	dst = append(dst, 's')
	dst = strconv.AppendInt(dst, int64(seq), 10)
	dst = append(dst, 't')
	return strconv.AppendInt(dst, stamp, 10)
}

// cellMarker starts the inserted value of a cell change in a native op's
// data ({"v":N,"op":[{"p":[...],"od":...,"oi":"s12t179..."}]}). Inside a
// JSON string a quote is escaped, so the marker cannot match within the
// old value.
var cellMarker = []byte(`"oi":"s`)

// parseCell reads the sequence number and timestamp appendCell wrote from
// an op's data.
func parseCell(data []byte) (seq int, stamp int64, ok bool) {
	i := bytes.Index(data, cellMarker)
	if i < 0 {
		return 0, 0, false
	}
	p := data[i+len(cellMarker):]
	num := func() (int64, bool) {
		var v int64
		j := 0
		for ; j < len(p) && p[j] >= '0' && p[j] <= '9' && j < 19; j++ {
			v = v*10 + int64(p[j]-'0')
		}
		p = p[j:]
		return v, j > 0
	}
	s, ok1 := num()
	if !ok1 || len(p) == 0 || p[0] != 't' {
		return 0, 0, false
	}
	p = p[1:]
	stamp, ok2 := num()
	if !ok2 || len(p) == 0 || p[0] != '"' {
		return 0, 0, false
	}
	return int(s), stamp, true
}

// writeCells updates random cells of plan's rows through PATCH
// /api/tables/T/rows/R. Each cell's text holds the write's sequence number
// and the timestamp taken just before its request; the request's duration
// runs from that timestamp to the answer. It stops at the first failed
// request: its write may or may not have been committed.
func writeCells(ctx context.Context, rc *restClient, plan cellPlan) writeResult {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := plan.setup
	n := max(plan.writers, 1)
	hists := make([]Histogram, n)
	ws := make([]writerLog, n)
	pace := newPacer(plan.rate)
	start := time.Now()
	done := func(i int) bool { // past the end of the run
		switch {
		case plan.writes > 0:
			return i >= plan.writes
		case pace.interval > 0 && time.Duration(i)*pace.interval >= plan.duration:
			return true
		default: // behind schedule, the writes still end on time
			return time.Since(start) >= plan.duration
		}
	}
	tablePath := "/api/tables/" + strconv.FormatInt(s.Table, 10) + "/rows/"
	var next atomic.Int64
	var errOnce sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for w := range n {
		l := &ws[w]
		l.maxUsed = -1
		wg.Go(func() {
			body := make([]byte, 0, 96)
			for {
				i := int(next.Add(1) - 1)
				if done(i) {
					l.past = append(l.past, i)
					return
				}
				pace.wait(wctx, i)
				plan.credit.wait(wctx, i)
				l.maxUsed = i
				if wctx.Err() != nil {
					l.unsent = append(l.unsent, i)
					return
				}
				row := s.Rows[rand.IntN(len(s.Rows))]
				field := s.Fields[rand.IntN(len(s.Fields))]
				sent := time.Now()
				body = append(body[:0], `{"fields":{"`...)
				body = strconv.AppendInt(body, field, 10)
				body = append(body, `":"`...)
				body = appendCell(body, i, sent.UnixNano())
				body = append(body, `"}}`...)
				if err := rc.call(wctx, http.MethodPatch, tablePath+strconv.FormatInt(row, 10), body, nil); err != nil {
					l.failed = append(l.failed, i)
					if wctx.Err() == nil {
						errOnce.Do(func() { firstErr = fmt.Errorf("write %d: %w", i, err) })
					}
					cancel()
					return
				}
				hists[w].Record(time.Since(sent))
			}
		})
	}
	wg.Wait()
	r := writeResult{took: time.Since(start), err: firstErr}
	if r.err == nil {
		r.err = ctx.Err()
	}
	for _, l := range ws {
		r.taken = max(r.taken, l.maxUsed+1)
	}
	var calls Histogram
	for w, l := range ws {
		r.unconfirmed = append(r.unconfirmed, l.failed...)
		r.unsent = append(r.unsent, l.unsent...)
		// A number handed out and then not used, below one that was: a
		// writer saw the end of the run a moment before another.
		for _, i := range l.past {
			if i < r.taken {
				r.unsent = append(r.unsent, i)
			}
		}
		calls.Merge(&hists[w])
	}
	r.calls = latencyReport(&calls)
	return r
}

// writerLog is one writer's account of the sequence numbers it took.
type writerLog struct {
	maxUsed int   // the largest number it sent or meant to; -1: none
	failed  []int // sent, and the request failed or was cut short
	unsent  []int // not sent because the run was cut short
	past    []int // taken once the run was over
}

// rowsWriterScenario is the hidden scenario the rows writers run as, in a
// child process of their own unless --in-process: in the bench process
// they would wait for the CPU behind the thousand receiving goroutines
// (see publisher.go, the same reason for fanout).
const rowsWriterScenario = "rows-writer"

// writerSpecEnv carries the writer child's writerSpec as JSON: the owner's
// token stays off the command line.
const writerSpecEnv = "TABLECAST_BENCH_WRITER_SPEC"

type writerSpec struct {
	Token string     `json:"token"`
	Setup tableSetup `json:"setup"`
	// Window > 0: the writes wait for credit, the first Window at once,
	// the rest as "allow N" lines on stdin raise it.
	Window int `json:"window,omitempty"`
}

// writeWire is a writeResult as the child prints it: one JSON line.
type writeWire struct {
	Taken       int            `json:"taken"`
	Unsent      []int          `json:"unsent,omitempty"`
	Unconfirmed []int          `json:"unconfirmed,omitempty"`
	TookNS      int64          `json:"took_ns"`
	Calls       *LatencyReport `json:"calls,omitempty"`
	childError
}

func (r writeResult) wire() writeWire {
	return writeWire{Taken: r.taken, Unsent: r.unsent, Unconfirmed: r.unconfirmed, TookNS: int64(r.took), Calls: r.calls,
		childError: wireError(r.err)}
}

func parseWriteLine(line string) writeResult {
	var w writeWire
	if err := decodeResultLine("rows writer", line, &w); err != nil {
		return writeResult{err: err}
	}
	return writeResult{taken: w.Taken, unsent: w.Unsent, unconfirmed: w.Unconfirmed, took: time.Duration(w.TookNS), calls: w.Calls,
		err: w.err()}
}

func (o *Options) cellPlan(s *tableSetup) cellPlan {
	return cellPlan{setup: s, writers: o.Writers, rate: o.Rate, writes: o.Writes, duration: o.Duration}
}
