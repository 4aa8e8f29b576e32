package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The ShareDB peer (bench/peers/sharedb/run.js) runs the same load through
// the sharedb npm package and its own client, with its in-memory database
// or (--sharedb-postgres) sharedb-postgres, in the same run, so that
// tablecast's figures stand beside the engine Teable used. It prints one
// JSON object.
type sharedbResult struct {
	Version      string  `json:"sharedb_version"`
	Node         string  `json:"node_version"`
	Duration     float64 `json:"duration_s"`
	Acked        int     `json:"acked_ops"`
	AckedPerSec  float64 `json:"acked_ops_per_s"`
	TransPerSec  float64 `json:"transforms_per_s"`
	P50          float64 `json:"p50_ms"`
	P99          float64 `json:"p99_ms"`
	Max          float64 `json:"max_ms"`
	Converged    bool    `json:"converged"`
	Mismatches   int     `json:"mismatches"`
	ServerCPU    float64 `json:"server_cpu_s"`
	ClientCPU    float64 `json:"client_cpu_s"`
	TransformsPr int     `json:"transform_pairs"`
	AckedTotal   int     `json:"acked_ops_total"`
	Warnings     int     `json:"sharedb_client_warnings"`
	Store        string  `json:"store"`    // memory or postgres
	DBCPU        float64 `json:"db_cpu_s"` // PostgreSQL's, with store postgres
}

// defaultSharedbPeer is where the peer is, from the repository's root.
const defaultSharedbPeer = "bench/peers/sharedb/run.js"

// Goals of bench ops (issue: at least 3x ShareDB's acked ops/s, with p99
// below ShareDB's).
const goalOpsRatio = 3

func runSharedbPeer(ctx context.Context, o Options, peer string, prog *progress, rep *Report, ours opsOutcome) {
	if _, err := os.Stat(peer); err != nil {
		rep.problem("ShareDB peer not run: %v (run from the repository's root, or give --sharedb)", err)
		return
	}
	if _, err := os.Stat(peer[:strings.LastIndex(peer, "/")+1] + "node_modules"); err != nil {
		rep.problem("ShareDB peer not run: its dependencies are not installed (cd %s && npm ci)", peer[:strings.LastIndex(peer, "/")])
		return
	}
	total := o.Warmup + o.Duration
	args := []string{peer, "--clients", strconv.Itoa(o.Conns), "--docs", strconv.Itoa(o.Docs),
		"--duration", strconv.FormatFloat(total.Seconds(), 'f', -1, 64),
		"--warmup", strconv.FormatFloat(o.Warmup.Seconds(), 'f', -1, 64)}
	if o.Deletes {
		args = append(args, "--deletes", "1")
	}
	ctx, cancel := context.WithTimeout(ctx, total+60*time.Second)
	defer cancel()
	store := "in-memory"
	if o.SharedbPostgres != "" {
		db, drop, err := freshPostgres(ctx, o.SharedbPostgres, "tablecast_bench_sharedb")
		if err != nil {
			rep.problem("ShareDB peer not run: %v", err)
			return
		}
		defer func() {
			if err := drop(); err != nil {
				rep.problem("ShareDB peer: %v", err)
			}
		}()
		args = append(args, "--postgres", db)
		store = "sharedb-postgres"
	}
	cmd := exec.CommandContext(ctx, "node", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	end := prog.phase("sharedb peer", 0, func() int64 { return 0 })
	err := cmd.Run()
	end()
	var res sharedbResult
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); jerr != nil {
		rep.problem("ShareDB peer failed: %v %v: %s", err, jerr, tail(stderr.String(), 400))
		return
	}
	if err != nil {
		rep.problem("ShareDB peer: %v", err)
	}
	rep.add("sharedb_acked_ops_per_s", fmt.Sprintf("ShareDB %s (node %s, %s) acked ops/s", res.Version, res.Node, store), res.AckedPerSec, "ops/s")
	rep.add("sharedb_transforms_per_s", "ShareDB transformed ops/s", res.TransPerSec, "ops/s")
	rep.add("sharedb_latency_p50_ms", "ShareDB submit-to-ack latency p50", res.P50, "ms")
	rep.add("sharedb_latency_p99_ms", "ShareDB submit-to-ack latency p99", res.P99, "ms")
	rep.add("sharedb_server_cores", "ShareDB server CPU use", res.ServerCPU/res.Duration, "cores")
	rep.add("sharedb_client_cores", "ShareDB clients' CPU use (their Node process)", res.ClientCPU/res.Duration, "cores")
	if res.AckedPerSec > 0 {
		sharedbPerOp := func(cpu float64) float64 { return cpu / res.Duration / res.AckedPerSec * 1000 }
		rep.add("sharedb_server_cpu_ms_per_op", "ShareDB server CPU per acked op", sharedbPerOp(res.ServerCPU), "ms")
		theirs := res.ServerCPU
		if res.Store == "postgres" {
			rep.add("sharedb_db_cpu_ms_per_op", "ShareDB's PostgreSQL CPU per acked op (all its processes on this machine)", sharedbPerOp(res.DBCPU), "ms")
			theirs += res.DBCPU
		}
		// Each side's CPU per op, its store included: tablecast's server
		// (with SQLite in it) or server and PostgreSQL; ShareDB's server
		// (in memory) or server and PostgreSQL.
		ratio := rep.add("cpu_per_op_ratio", "tablecast CPU per acked op ÷ ShareDB's (each with its store)",
			ours.perOp(ours.serverCPU+ours.dbCPU)/sharedbPerOp(theirs), "x")
		if res.Store == "memory" && !ours.postgres {
			// Issue 18's goal 1, set against ShareDB in memory.
			ratio.goal("<= 0.33", func(v float64) bool { return v <= 1.0/3 })
		}
		clientPerOp := res.ClientCPU / res.Duration / res.AckedPerSec
		rep.add("sharedb_client_cpu_ms_per_op", "ShareDB clients' CPU per acked op", clientPerOp*1000, "ms")
		// What the goal asks of the machine before any server runs: the
		// clients' CPU alone at 3x ShareDB's rate.
		ourClients := ours.benchCPU / ours.seconds / ours.ackedPerSec()
		goalRate := goalOpsRatio * res.AckedPerSec
		rep.add("goal_client_cores", fmt.Sprintf("cores tablecast's clients alone need at %dx ShareDB's rate", goalOpsRatio),
			goalRate*ourClients, "cores")
		rep.add("goal_sharedb_client_cores", fmt.Sprintf("cores ShareDB's own clients need at %dx its rate", goalOpsRatio),
			goalRate*clientPerOp, "cores")
	}
	conv := 0.0
	if !res.Converged {
		conv = float64(res.Mismatches)
	}
	rep.add("sharedb_copies_differing", "ShareDB client copies differing from its stored document", conv, "")
	ratio := ours.ackedPerSec() / res.AckedPerSec
	rep.add("acked_ops_ratio", "tablecast acked ops/s ÷ ShareDB's", ratio, "x").
		goal(">= "+strconv.Itoa(goalOpsRatio), func(v float64) bool { return v >= goalOpsRatio })
	p99 := float64(ours.hist.Quantile(0.99)) / float64(time.Millisecond)
	rep.add("latency_p99_vs_sharedb", "tablecast p99 ÷ ShareDB's p99", p99/res.P99, "x").
		goal("< 1", func(v float64) bool { return v < 1 })
}

// runSharedbDialect runs the peer's clients (the sharedb npm client, the
// same load) against tablecast's own /sharedb endpoint, on the documents
// of the native run, and reports them beside it (sharedb_dialect_*).
// tablecast's CPU is read around the peer's whole run (its connecting
// included), so the per-op figure is a little high.
func runSharedbDialect(ctx context.Context, o Options, peer string, t *target, setup *tableSetup, token string,
	prog *progress, rep *Report, native opsOutcome) {
	if _, err := os.Stat(peer[:strings.LastIndex(peer, "/")+1] + "node_modules"); err != nil {
		return // runSharedbPeer said why
	}
	if len(setup.Fields) < 2 {
		rep.problem("ShareDB dialect run: the table has %d text fields, it needs 2", len(setup.Fields))
		return
	}
	ids := make([]string, len(setup.Rows))
	for i, r := range setup.Rows {
		ids[i] = strconv.FormatInt(r, 10)
	}
	u := *t.base
	u.Scheme = "ws"
	if t.base.Scheme == "https" {
		u.Scheme = "wss"
	}
	target := u.JoinPath("/sharedb").String() + "?token=" + url.QueryEscape(token)
	total := o.Warmup + o.Duration
	args := []string{peer, "--target", target, "--collection", setup.collection(),
		"--doc-ids", strings.Join(ids, ","),
		"--fields", strconv.FormatInt(setup.Fields[0], 10) + "," + strconv.FormatInt(setup.Fields[1], 10),
		"--clients", strconv.Itoa(o.Conns),
		"--duration", strconv.FormatFloat(total.Seconds(), 'f', -1, 64),
		"--warmup", strconv.FormatFloat(o.Warmup.Seconds(), 'f', -1, 64)}
	if o.Deletes {
		args = append(args, "--deletes", "1")
	}
	ctx, cancel := context.WithTimeout(ctx, total+60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	end := prog.phase("sharedb clients on /sharedb", 0, func() int64 { return 0 })
	cpu0, start := t.cpu(), time.Now()
	err := cmd.Run()
	cpu, wall := t.cpu()-cpu0, time.Since(start).Seconds()
	end()
	var res sharedbResult
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); jerr != nil {
		rep.problem("ShareDB dialect run failed: %v %v: %s", err, jerr, tail(stderr.String(), 400))
		return
	}
	if err != nil {
		rep.problem("ShareDB dialect run: %v", err)
	}
	rep.add("sharedb_dialect_acked_ops_per_s", fmt.Sprintf("tablecast /sharedb, sharedb %s clients: acked ops/s", res.Version), res.AckedPerSec, "ops/s")
	rep.add("sharedb_dialect_transforms_per_s", "tablecast /sharedb: acked ops/s that were transformed", res.TransPerSec, "ops/s")
	rep.add("sharedb_dialect_latency_p50_ms", "tablecast /sharedb: submit-to-ack latency p50", res.P50, "ms")
	rep.add("sharedb_dialect_latency_p99_ms", "tablecast /sharedb: submit-to-ack latency p99", res.P99, "ms")
	rep.add("sharedb_dialect_server_cores", "tablecast /sharedb: server CPU use (whole client run)", cpu/wall, "cores")
	perOp := math.NaN()
	if res.AckedTotal > 0 {
		perOp = cpu / float64(res.AckedTotal) * 1000
	}
	rep.add("sharedb_dialect_server_cpu_ms_per_op", "tablecast /sharedb: server CPU per acked op (whole client run)", perOp, "ms")
	rep.add("sharedb_dialect_client_warnings", "tablecast /sharedb: warnings of the sharedb client (e.g. an ack at an unexpected version)", float64(res.Warnings), "").
		goal("0", func(v float64) bool { return v == 0 })
	conv := 0.0
	if !res.Converged {
		conv = float64(res.Mismatches)
	}
	rep.add("sharedb_dialect_copies_differing", "tablecast /sharedb: client copies differing from the stored document", conv, "").
		goal("0", func(v float64) bool { return v == 0 })
	rep.add("sharedb_dialect_vs_native", "acked ops/s through /sharedb ÷ through the native protocol", res.AckedPerSec/native.ackedPerSec(), "x")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// freshPostgres makes a database of its own for one run on the PostgreSQL
// server serverURL names (connecting to the database it names), with a
// name starting with prefix, and returns its URL and a function that drops
// it, connections and all.
func freshPostgres(ctx context.Context, serverURL, prefix string) (string, func() error, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("postgres URL: %w", err)
	}
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	name := fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("postgres: create database: %w", err)
	}
	u.Path = "/" + name
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			return fmt.Errorf("postgres: drop database %s: %w", name, err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("postgres: drop database %s: %w", name, err)
		}
		return nil
	}
	return u.String(), drop, nil
}
