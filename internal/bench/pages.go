package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The pages scenario (issue 5): N sockets of the page protocol on one
// public view that has a filter and a hidden field, T sockets on the same
// table's plain table page, writers updating random cells through REST.
// The public view's projection must cost one evaluation per view per
// event, and its commit-to-socket p99 stay within goalPagesRatio of the
// table page's, measured in the same run.
const (
	goalPagesRatio    = 2.0
	DefaultPagesRate  = 500
	DefaultTablePages = 100
	// DefaultPagesReadBuffer is the pages scenario's client socket buffer.
	// Its frames carry whole rows, before and after (about 500 bytes):
	// with the 2 KiB of the other scenarios the loopback TCP window holds
	// a few of them, and delivery stalls on acknowledgements.
	DefaultPagesReadBuffer = 64 << 10
	projectionsMetric      = "tablecast_baserow_view_projections_total"
	definitionsMetric      = "tablecast_baserow_view_definition_reads_total"
	pagesShown             = "shown"
	pagesKindFieldName     = "Kind"
	pagesHiddenFieldIdx    = 3 // of tableSetup.Fields: the view hides "cell 3"
)

// pageSub is what one socket saw. Its reading goroutine alone writes the
// plain fields; they are read once it ended.
type pageSub struct {
	view  bool
	last  atomic.Uint64 // _event_id of the latest frame read
	ended atomic.Bool   // the connection ended during the run
	err   error
	count int
	gaps  int // table page: an _event_id not the previous + 1; view page: not above the previous
	bad   int // frames that are not a bench write's rows_updated
	again int // writes seen twice
	seen  bitset
	// oracle: the first table page keeps each write's row and field, to
	// know which writes the view shows.
	oracle []pageFrame
}

func (s *pageSub) consume(i int, c *pageClient, start uint64, rec *Recorder, closing *atomic.Bool, keep bool) {
	prev := start
	s.err = c.read(func(m []byte) {
		if closing.Load() {
			return
		}
		f, err := parsePageFrame(m)
		if err != nil {
			s.bad++
			return
		}
		switch {
		case !s.view && f.eventID != prev+1, s.view && f.eventID <= prev:
			s.gaps++
		}
		prev = f.eventID
		s.count++
		now := time.Now().UnixNano()
		rec.Record(i, time.Duration(now-f.stamp), now)
		if s.seen.set(f.seq) {
			s.again++
		}
		if keep {
			s.oracle = append(s.oracle, f)
		}
		s.last.Store(f.eventID)
	})
}

// pagesSetup is the view the scenario made on the table.
type pagesSetup struct {
	slug   string
	shown  map[int64]bool // rows in the view's filter
	hidden int64          // the field the view hides
}

// setupPagesView gives each row a Kind ("shown" for every other row) and
// makes a public view of the shown ones that hides one of the written
// fields.
func setupPagesView(ctx context.Context, rc *restClient, s *tableSetup) (*pagesSetup, error) {
	tPath := "/api/tables/" + strconv.FormatInt(s.Table, 10)
	var kind struct {
		ID int64 `json:"id"`
	}
	if err := rc.callJSON(ctx, http.MethodPost, tPath+"/fields", map[string]any{"name": pagesKindFieldName, "type": "text"}, &kind); err != nil {
		return nil, err
	}
	ps := &pagesSetup{shown: make(map[int64]bool), hidden: s.Fields[pagesHiddenFieldIdx]}
	key := strconv.FormatInt(kind.ID, 10)
	for done := 0; done < len(s.Rows); {
		n := min(rowsPerBatch, len(s.Rows)-done)
		items := make([]map[string]any, n)
		for i := range items {
			id := s.Rows[done+i]
			v := "other"
			if (done+i)%2 == 0 {
				v = pagesShown
				ps.shown[id] = true
			}
			items[i] = map[string]any{"id": id, "fields": map[string]any{key: v}}
		}
		if err := rc.callJSON(ctx, http.MethodPatch, tPath+"/rows", map[string]any{"items": items}, &struct{}{}); err != nil {
			return nil, err
		}
		done += n
	}
	var view struct {
		Slug string `json:"slug"`
	}
	if err := rc.callJSON(ctx, http.MethodPost, tPath+"/views", map[string]any{
		"name": "bench public", "public": true,
		"filters":          []any{map[string]any{"field_id": kind.ID, "type": "equal", "value": pagesShown}},
		"hidden_field_ids": []int64{ps.hidden},
	}, &view); err != nil {
		return nil, err
	}
	ps.slug = view.Slug
	return ps, nil
}

// tableTop is the table stream's offset, from a row listing.
func tableTop(ctx context.Context, rc *restClient, table int64) (uint64, error) {
	u := rc.base.JoinPath("/api/tables/" + strconv.FormatInt(table, 10) + "/rows")
	u.RawQuery = "limit=1"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+rc.token)
	resp, err := rc.httpc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var page struct {
		Offset uint64 `json:"offset"`
	}
	if resp.StatusCode != http.StatusOK {
		return 0, &statusError{status: resp.StatusCode}
	}
	return page.Offset, json.NewDecoder(resp.Body).Decode(&page)
}

// runPages runs the pages scenario.
func runPages(ctx context.Context, o Options, t *target, prog *progress, rep *Report) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	ttl := tokenTTL(o)
	viewerTok, err := userToken(t.jwtSecret, benchViewer, ttl)
	if err != nil {
		return err
	}
	owner, setup, err := ownedTable(ctx, o, t, t.httpc, o.Rows, "pages")
	if err != nil {
		return err
	}
	ps, err := setupPagesView(ctx, owner, setup)
	if err != nil {
		return fmt.Errorf("pages: making the view: %w", err)
	}
	prog.notef("table %d: %d rows (%d in the public view's filter), writes to %d fields, one hidden in the view",
		setup.Table, len(setup.Rows), len(ps.shown), len(setup.Fields))

	n := o.Conns + o.TablePages
	clients := make([]*pageClient, n)
	var dialErrs errorTally
	var done atomic.Int64
	end := prog.phase("connecting", int64(n), done.Load)
	viewMsg := []byte(`{"page":"view","slug":"` + ps.slug + `"}`)
	tableMsg := []byte(`{"page":"table","table_id":` + strconv.FormatInt(setup.Table, 10) + `}`)
	forEach(ctx, n, o.Dialers, func(i int) {
		defer done.Add(1)
		jwt, msg := "anonymous", viewMsg
		if i >= o.Conns {
			jwt, msg = viewerTok, tableMsg
		}
		local := ""
		if len(t.sources) > 0 {
			local = t.sources[i%len(t.sources)]
		}
		c, err := dialPage(ctx, t.coreURL(), jwt, local, o.ReadBuffer)
		if err == nil {
			if err = c.addPage(msg); err != nil {
				c.close()
			}
		}
		if err != nil {
			dialErrs.add(err)
			return
		}
		clients[i] = c
	})
	end()
	var closing atomic.Bool
	var wg sync.WaitGroup
	closeAll := sync.OnceFunc(func() {
		closing.Store(true)
		forEach(context.Background(), n, 512, func(i int) {
			if clients[i] != nil {
				clients[i].close()
			}
		})
		wg.Wait()
	})
	defer closeAll()
	if dialErrs.count() > 0 {
		rep.problem("%d sockets failed: %v", dialErrs.count(), dialErrs.summary())
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pages: %w", err)
	}
	start, err := tableTop(ctx, owner, setup.Table)
	if err != nil {
		return fmt.Errorf("pages: %w", err)
	}
	subs := make([]pageSub, n)
	var recView, recTable Recorder
	oracle := -1
	for i, c := range clients {
		if c == nil {
			continue
		}
		s := &subs[i]
		s.view = i < o.Conns
		s.last.Store(start)
		rec := &recView
		if !s.view {
			rec = &recTable
		}
		keep := !s.view && oracle < 0
		if keep {
			oracle = i
		}
		wg.Go(func() {
			s.consume(i, c, start, rec, &closing, keep)
			if !closing.Load() {
				s.ended.Store(true)
			}
		})
	}
	if oracle < 0 {
		return errors.New("pages: no table page socket connected")
	}

	writer, err := startWriters(ctx, o, t, owner.token, setup, 0)
	if err != nil {
		return fmt.Errorf("pages: %w", err)
	}
	defer func() {
		if err := writer.stop(); err != nil {
			rep.problem("pages writer: %v", err)
		}
	}()
	prog.notef("writers: %d, %s", o.Writers, writer.where)
	m0, _ := t.metrics(ctx)
	cpu0 := cpuOf(t.pid)
	planned := o.Writes
	if planned == 0 {
		planned = int(o.Rate * o.Duration.Seconds())
	}
	endPhase := prog.phase("delivering", int64(planned*o.TablePages), recTable.Count)
	began := time.Now()
	writer.begin()
	wr := writer.await(ctx)
	if log := writer.log(); wr.err != nil && len(log) > 0 {
		rep.problem("pages writer output: %v", log)
	}
	actx, acancel := afterCtx(ctx)
	defer acancel()
	top, topErr := tableTop(actx, owner, setup.Table)
	waitErr := topErr
	if waitErr == nil {
		waitErr = waitPages(ctx, subs, func(s *pageSub) bool { return !s.view }, top)
	}
	// What the view shows: the writes to its rows' visible cells, as the
	// oracle's table page saw them.
	var viewTop uint64
	var viewWant []int
	if waitErr == nil {
		for _, f := range subs[oracle].oracle {
			if ps.shown[f.row] && f.field != ps.hidden {
				viewWant = append(viewWant, f.seq)
				viewTop = max(viewTop, f.eventID)
			}
		}
		waitErr = waitPages(ctx, subs, func(s *pageSub) bool { return s.view }, viewTop)
	}
	endPhase()
	seconds := time.Since(began).Seconds()
	serverCPU := cpuOf(t.pid) - cpu0
	m1, _ := t.metrics(actx)
	closeAll()

	out := pagesOutcome{writes: wr, events: int64(top) - int64(start), seconds: seconds, serverCPU: serverCPU,
		view: recView.Snapshot(), table: recTable.Snapshot(), waitErr: waitErr, viewWant: viewWant}
	out.projections, out.defReads = metricDelta(m0, m1, projectionsMetric), metricDelta(m0, m1, definitionsMetric)
	out.slow = metricDelta(m0, m1, "tablecast_slow_consumer_disconnects_total")
	for i := range subs {
		s := &subs[i]
		if clients[i] == nil {
			continue
		}
		out.check(s, start, top)
	}
	out.report(rep, o)
	if err := errors.Join(wr.err, waitErr); err != nil {
		return fmt.Errorf("pages: %w", err)
	}
	return nil
}

// waitPages waits until every socket still connected that which selects
// has read the frame at top.
func waitPages(ctx context.Context, subs []pageSub, which func(*pageSub) bool, top uint64) error {
	return waitCaughtUp(ctx, fmt.Sprintf("sockets had not reached event %d", top), func() (behind int) {
		for i := range subs {
			if s := &subs[i]; which(s) && !s.ended.Load() && s.last.Load() < top {
				behind++
			}
		}
		return behind
	})
}

func metricDelta(before, after map[string]float64, name string) float64 {
	a, ok1 := after[name]
	b, ok2 := before[name]
	if !ok1 || !ok2 {
		return math.NaN()
	}
	return a - b
}

// pagesOutcome is what a pages run measured.
type pagesOutcome struct {
	writes      writeResult
	events      int64 // table stream events during the run
	seconds     float64
	serverCPU   float64
	view, table *Histogram
	waitErr     error
	viewWant    []int // the writes the view shows
	projections float64
	defReads    float64
	slow        float64

	viewSubs, tableSubs   int
	viewExact, tableExact int
	ended, gaps, again    int
	missing, extra, bad   int
}

// check counts one socket against what it should have seen: a table page
// every event from start to top, in order; a view page exactly the writes
// the view shows, in order.
func (r *pagesOutcome) check(s *pageSub, start, top uint64) {
	if s.ended.Load() {
		r.ended++
		return
	}
	r.gaps += s.gaps
	r.again += s.again
	r.bad += s.bad
	if !s.view {
		r.tableSubs++
		if s.gaps == 0 && s.again == 0 && s.bad == 0 && s.last.Load() == top && uint64(s.count) == top-start {
			r.tableExact++
		}
		return
	}
	r.viewSubs++
	missing := 0
	for _, seq := range r.viewWant {
		if !s.seen.has(seq) {
			missing++
		}
	}
	extra := s.count - (len(r.viewWant) - missing)
	r.missing += missing
	r.extra += max(extra, 0)
	if missing == 0 && extra == 0 && s.gaps == 0 && s.again == 0 && s.bad == 0 {
		r.viewExact++
	}
}

func (r *pagesOutcome) report(rep *Report, o Options) {
	zero := func(v float64) bool { return v == 0 }
	confirmed := r.writes.confirmed()
	rep.add("view_sockets", "sockets on the public view (filter, hidden field)", float64(r.viewSubs), "")
	rep.add("table_sockets", "sockets on the table page", float64(r.tableSubs), "")
	rep.add("writes", "writes committed (REST PATCH answered)", float64(confirmed), "")
	rep.add("writes_per_s", "writes/s", rate(confirmed, r.writes.took), "writes/s")
	rep.add("events", "table events during the run", float64(r.events), "")
	rep.add("view_frames_per_socket", "writes the view shows (frames per view socket)", float64(len(r.viewWant)), "")
	rep.add("projections", "view projections computed (tablecast_baserow_view_projections_total)", r.projections, "")
	perEvent := math.NaN()
	if r.events > 0 {
		perEvent = r.projections / float64(r.events)
	}
	rep.add("projections_per_event", "projections per event (1 view)", perEvent, "").goal("1", func(v float64) bool { return v == 1 })
	rep.add("definition_reads", "view definition reads during the run", r.defReads, "").goal("0", zero)
	addLatency(rep, "view_", "public view: write-to-socket latency", r.view)
	addLatency(rep, "table_", "table page: write-to-socket latency", r.table)
	ratio := math.NaN()
	if r.view.Count() > 0 && r.table.Count() > 0 {
		ratio = float64(r.view.Quantile(0.99)) / float64(r.table.Quantile(0.99))
	}
	rep.add("p99_ratio", "public view p99 / table page p99", ratio, "").
		goal(fmt.Sprintf("<= %g", goalPagesRatio), func(v float64) bool { return v <= goalPagesRatio })
	rep.Latency = latencyReport(r.view)
	deliveries := float64(r.view.Count() + r.table.Count())
	rep.add("deliveries", "deliveries (both pages)", deliveries, "")
	cpuPerM := math.NaN()
	if deliveries > 0 {
		cpuPerM = r.serverCPU / deliveries * 1e6
	}
	rep.add("cpu_per_million", "server CPU per million deliveries", cpuPerM, "CPU-s")
	rep.add("server_cores", "server CPU use", r.serverCPU/r.seconds, "cores")
	rep.add("slow_consumer_disconnects", "slow-consumer disconnects (server)", r.slow, "").goal("0", zero)
	rep.add("clients_disconnected", "sockets disconnected during the run", float64(r.ended), "").goal("0", zero)
	rep.add("table_exactly_once", "table page sockets that saw every event once, in order", float64(r.tableExact), "").
		goal(strconv.Itoa(r.tableSubs), func(v float64) bool { return int(v) == r.tableSubs && r.tableSubs > 0 })
	rep.add("view_exactly_once", "view sockets that saw exactly the view's writes once, in order", float64(r.viewExact), "").
		goal(strconv.Itoa(r.viewSubs), func(v float64) bool { return int(v) == r.viewSubs && r.viewSubs > 0 })
	rep.add("missing", "writes a view socket should have seen and did not", float64(r.missing), "").goal("0", zero)
	rep.add("extra", "frames a view socket should not have had (hidden cell, row outside the filter)", float64(r.extra), "").goal("0", zero)
	switch {
	case errors.Is(r.writes.err, context.DeadlineExceeded):
		rep.problem("pages: --timeout %s reached after %d writes", o.Timeout, confirmed)
	case r.writes.err != nil:
		rep.problem("pages: writing stopped: %v", r.writes.err)
	}
	if len(r.writes.unconfirmed) > 0 {
		rep.problem("pages: %d writes may or may not have been committed", len(r.writes.unconfirmed))
	}
	if r.waitErr != nil {
		rep.problem("pages: %v", r.waitErr)
	}
	if r.gaps+r.again+r.bad > 0 {
		rep.problem("pages: %d out-of-order frames, %d duplicates, %d unreadable frames", r.gaps, r.again, r.bad)
	}
}
