// Package bench is `tablecast bench`, the load generator of performance.md.
//
// A scenario starts the server under test (a child process running
// `tablecast serve` by default, in-process for tests and small runs, or an
// existing server given by --url), opens client connections from several
// loopback source addresses, measures, and returns a Report.
//
// The server runs as a separate process by default because 10,000
// connections with both ends in one process need 20,000 descriptors, the
// hard limit here, and because the figures (RSS, CPU) are the server's
// alone that way. The child is `tablecast serve --connect-rate off`: the
// per-address limit on connection attempts would otherwise refuse a load
// generator.
//
// In fanout, what sends runs in a child process of its own too, unless
// --in-process is given: tablecast's publisher (`tablecast bench
// fanout-publisher`) and the baseline's sender (`tablecast bench
// baseline-sender`). In the bench process they would queue for the CPU
// behind the thousands of goroutines that receive.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options are the flags of `tablecast bench`. ParseArgs fills in the
// defaults; Run checks the values.
type Options struct {
	Scenario string // idle, fanout, rows, recover, ops or pages

	Conns      int           // connections (idle) or subscribers (fanout, rows, recover)
	Messages   int           // fanout: messages published
	Size       int           // fanout: bytes of each message's payload
	Rate       float64       // fanout: messages/s, rows: cell updates/s; 0 means as fast as the server accepts
	Publishers int           // fanout: publishing requests in flight at once (the scenario: 1)
	Baseline   bool          // fanout: also measure a raw TCP fan-out of the same frames
	Timeout    time.Duration // bounds each run (tablecast's, then the baseline's)
	Hold       time.Duration // idle: how long to stay connected before measuring

	Writers  int           // rows: REST writers, each one request at a time
	Rows     int           // rows, recover: rows created before the run, whose cells are updated
	Writes   int           // rows: cell updates in all; 0: as many as Duration allows
	Duration time.Duration // rows: how long to write when Writes is 0
	// Window (rows at --rate 0): how many writes the writers may be ahead
	// of the slowest subscriber; 0: no limit, as fast as the server
	// answers (into the send queues).
	Window int
	Events int           // recover: events missed while the clients are away
	Docs   int           // ops: documents the clients edit
	Warmup time.Duration // ops: first part of the run whose acks are not counted
	// Deletes (ops): every third op of a client deletes a character
	// instead of inserting one (when its cell has one).
	Deletes bool
	// Wide (ops): the rows have WideCells text cells of CellBytes
	// characters each (by default about 2 KB of text in all) instead of
	// four short ones.
	Wide      bool
	CellBytes int
	// EditedNarrow (ops --wide): the two cells the clients edit start as
	// in the narrow run; only the other cells are CellBytes long. It
	// tells the cost of the row's width from that of the edited cells'.
	EditedNarrow bool
	// DocPerNode (ops with --nodes): each document's clients are on one
	// node; by default every document has clients on every node.
	DocPerNode bool
	// Compare (rows at --rate 0): also run bench fanout's load on the same
	// sockets, and the writes again at half the rate reached.
	Compare bool
	// SharedbPeer is the ShareDB peer's run.js (ops); empty: not run.
	SharedbPeer string
	// SharedbPostgres, when set, is a PostgreSQL server (a URL naming a
	// database to connect to) on which the peer's ShareDB keeps its ops
	// and snapshots through sharedb-postgres, in a database made for the
	// run and dropped after it; empty: ShareDB in memory.
	SharedbPostgres string
	// Nodes > 1 starts a cluster of child servers on RedisURL (fanout,
	// rows, ops; rows and ops need a PostgreSQL --database-url): clients
	// spread over the nodes, publishing and REST writes go through the
	// first.
	Nodes    int
	RedisURL string
	// TablePages (pages) is the sockets on the plain table page, beside
	// the N on the public view.
	TablePages int
	// Hooks (webhooks) are the webhook counts of the stages, ascending;
	// empty: 1, 10 and 100.
	Hooks []int

	// DatabaseURL is the started server's store (--database-url); empty:
	// SQLite in a temporary file removed at the end.
	DatabaseURL string

	URL       string // an existing server (http://host:port) instead of a child
	APIKey    string // with URL: the server's admin API key
	JWTSecret string // with URL: the server's HS256 secret
	ServerPID int    // with URL: its process, for RSS and CPU figures
	InProcess bool   // run the server in this process (tests; stay under ~9,000 connections)

	JSONFile string
	HTMLFile string

	SourceAddrs   []string // source IPs of client connections, round-robin; empty: the system's choice
	Dialers       int      // connections opened at once
	Channel       string   // the channel subscribed to
	SendQueue     string   // child server's --send-queue; empty: its default
	ReadBuffer    int      // client socket read buffer, bytes
	MessageBuffer int      // client Messages channel capacity

	Stdout io.Writer // progress and the table; default os.Stdout
	Stderr io.Writer // default os.Stderr
}

// Defaults of the flags.
const (
	DefaultConns    = 10000
	DefaultMessages = 1000
	DefaultSize     = 100
	DefaultTimeout  = 120 * time.Second
	DefaultDialers  = 64
	DefaultChannel  = "bench"
	// The table scenarios' defaults (performance.md).
	DefaultTableConns = 1000
	DefaultRowsRate   = 1000
	DefaultWriters    = 4
	// DefaultTableWriters are the rows and pages scenarios' writers: a
	// REST write waits for its commit's sync to disk, and under load for
	// the CPU the deliveries take, so 4 requests in flight (one per
	// writer) can neither offer the rates asked nor fill a group commit:
	// the run would measure how long one write waits, not what the
	// server sustains (docs/benchmarks.md, bench rows).
	DefaultTableWriters = 16
	DefaultRows         = 100
	// DefaultRowsWindow bounds how far rows --rate 0 writes ahead of its
	// slowest subscriber, and DefaultRowsMaxWriters are its writers: enough
	// requests in flight that the events arrive faster than the sockets
	// drain, so that each write to a socket carries several frames as in
	// bench fanout, the window keeping the queues bounded
	// (docs/benchmarks.md, bench rows).
	DefaultRowsWindow     = 256
	DefaultRowsMaxWriters = 64
	DefaultDuration       = 20 * time.Second
	DefaultEvents         = 100
	DefaultOpsConns       = 100
	DefaultDocs           = 10
	DefaultOpsTime        = 10 * time.Second
	DefaultWarmup         = 2 * time.Second
	// WideCells and DefaultCellBytes shape bench ops --wide: 50 cells of
	// 40 characters, 2,000 characters of text per row.
	WideCells        = 50
	DefaultCellBytes = 40
	defaultDatabase  = "sqlite://:memory:" // a private temporary file, removed on close
	defaultSources   = "127.0.0.2-127.0.0.9"
	// minSize fits the payload's timestamp, sequence number and padding.
	minSize = 64
	maxSize = 512 << 10
)

// baselineSenderScenario is the hidden scenario the baseline's sending
// side runs as, in a child process of its own (tablecast's publisher runs
// as publisherScenario).
const baselineSenderScenario = "baseline-sender"

const usage = `usage: tablecast bench SCENARIO [flags]

scenarios:
  idle     N connections, each authenticated and subscribed to one channel, then idle:
           server RSS, heap and goroutines per connection, connect rate
  fanout   N subscribers on one channel, M messages of S bytes published through the
           admin API: deliveries/s, latency, server CPU per million deliveries,
           slow-consumer disconnects; --baseline adds a raw TCP fan-out for reference
  rows     N subscribers (default 1,000) on one table; --writers update random cells of
           --rows rows through REST at --rate (default 1,000/s) for --duration or
           --writes: write-to-socket latency, writes/s, deliveries/s, and a check that
           every subscriber saw every write once, in gapless offset order. At --rate 0
           64 writers go as fast as every subscriber keeps up, at most --window writes
           (256) ahead of the slowest; with --compare two more passes on the same
           sockets: bench fanout's load with messages as large as the ops (deliveries/s
           of rows / of fanout), and the writes at half the rate the deliveries kept up
           with (write-to-socket p99 there)
  recover  N clients (default 1,000) on one table disconnect together, -e events are
           written, all reconnect together with since: time until all recovered,
           events replayed per client, outbox reads made by the server
  ops      N clients (default 100) edit --docs documents (default 10) with json0 ops
           through submit, one op in flight each, for --warmup + --duration (2s + 10s):
           acked ops/s, transforms/s, submit-to-ack p50/p99, and a check that every
           client's copy equals the stored row; then the ShareDB peer (--sharedb) runs
           the same load for comparison (in memory, or with --sharedb-postgres on
           PostgreSQL through sharedb-postgres: CPU per op with each side's store), and
           its clients (the sharedb npm client) run it once more against tablecast's
           /sharedb (sharedb_dialect_*)
  webhooks a receiver in the bench process; --writers write --writes rows (default 500)
           through REST without webhooks, then with --hooks webhooks (default 1,10,100)
           on the table: events delivered/s, REST write p50/p99 and their ratio to
           the p50 without, the delivery latency (write to receiver), the server's
           CPU (cores, per event) at each count; then a control: no webhooks, the
           CPU they added burnt in the bench process
  pages    N page-protocol sockets (default 1,000) on one public view with a filter and
           a hidden field, --table-pages (default 100) on the table page; writers update
           random cells at --rate (default 500/s): projections per event, each page's
           write-to-socket latency and the ratio of their p99s

The server runs as a child process (tablecast serve) unless --url or --in-process
is given; --database-url chooses its store (default: SQLite in a temporary file).
Client connections come from --source-addrs, round-robin.

flags:
`

func newFlagSet(o *Options) *flag.FlagSet {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&o.Conns, "n", DefaultConns, fmt.Sprintf("connections (idle) or subscribers (fanout; rows and recover default to %d)", DefaultTableConns))
	fs.IntVar(&o.Messages, "m", DefaultMessages, "fanout: messages to publish")
	fs.IntVar(&o.Size, "s", DefaultSize, fmt.Sprintf("fanout: payload bytes per message (%d to %d)", minSize, maxSize))
	fs.Float64Var(&o.Rate, "rate", 0, fmt.Sprintf("fanout: messages per second; rows: cell updates per second, default %d (0: as fast as the server accepts)", DefaultRowsRate))
	fs.IntVar(&o.Publishers, "publishers", 1, "fanout: publishing requests in flight at once")
	fs.BoolVar(&o.Baseline, "baseline", false, "fanout: also run a raw TCP fan-out of the same frames (the machine's limit)")
	fs.DurationVar(&o.Timeout, "timeout", DefaultTimeout, "bound on each run (tablecast's, then the baseline's)")
	fs.DurationVar(&o.Hold, "hold", 0, "idle: stay connected this long before measuring")
	fs.IntVar(&o.Writers, "writers", DefaultWriters, fmt.Sprintf("rows, pages, webhooks: REST writers, one request in flight each (rows and pages default to %d, rows --rate 0 to %d)", DefaultTableWriters, DefaultRowsMaxWriters))
	fs.IntVar(&o.Rows, "rows", DefaultRows, "rows, recover: rows created first, whose cells the writes update")
	fs.IntVar(&o.Writes, "writes", 0, "rows: cell updates in all (0: write for --duration)")
	fs.DurationVar(&o.Duration, "duration", DefaultDuration, "rows: how long to write, unless --writes is given")
	fs.IntVar(&o.Window, "window", DefaultRowsWindow, "rows --rate 0: writes the writers may be ahead of the slowest subscriber (0: no limit, the writes outrun the sockets into the send queues)")
	fs.BoolVar(&o.Compare, "compare", true, "rows --rate 0: then run bench fanout's load on the same sockets (messages as large as the ops) and the writes at half the rate the deliveries kept up with")
	fs.IntVar(&o.Events, "e", DefaultEvents, "recover: events written while the clients are away")
	fs.IntVar(&o.TablePages, "table-pages", DefaultTablePages, "pages: sockets on the table page (the reference)")
	fs.IntVar(&o.Docs, "docs", DefaultDocs, "ops: documents the clients edit")
	fs.Func("hooks", "webhooks: the webhook counts of the stages, a comma list (default 1,10,100)", func(v string) error {
		o.Hooks = nil
		prev := 0
		for _, part := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil || n <= prev || n > 1000 {
				return fmt.Errorf("%q: want ascending counts from 1 to 1000", v)
			}
			o.Hooks, prev = append(o.Hooks, n), n
		}
		return nil
	})
	fs.DurationVar(&o.Warmup, "warmup", DefaultWarmup, "ops: first part of the run, not counted")
	fs.BoolVar(&o.Deletes, "deletes", false, "ops: every third op of a client deletes a character at a random place instead of inserting one, as typing does (the ShareDB peer's clients too)")
	fs.BoolVar(&o.Wide, "wide", false, fmt.Sprintf("ops: rows of %d text cells of --cell-bytes characters each", WideCells))
	fs.IntVar(&o.CellBytes, "cell-bytes", DefaultCellBytes, "ops --wide: characters of text in each cell")
	fs.BoolVar(&o.EditedNarrow, "edited-narrow", false, "ops --wide: the two edited cells start as in the narrow run; the others hold --cell-bytes")
	fs.BoolVar(&o.DocPerNode, "doc-per-node", false, "ops --nodes: each document's clients on one node (default: every document's on every node)")
	fs.StringVar(&o.SharedbPeer, "sharedb", defaultSharedbPeer, "ops: the ShareDB peer's `run.js` (empty: do not run it)")
	fs.StringVar(&o.SharedbPostgres, "sharedb-postgres", "", "ops: keep the ShareDB peer's ops in a fresh database on this PostgreSQL (`postgres://...`, a database to connect to), through sharedb-postgres (default: in memory)")
	fs.IntVar(&o.Nodes, "nodes", 1, "fanout, rows, ops: start this many nodes on --redis-url; clients spread over them")
	fs.StringVar(&o.RedisURL, "redis-url", "", "with --nodes: the Redis the nodes share (`redis://host:port/db`)")
	fs.StringVar(&o.DatabaseURL, "database-url", "", "the started server's store: sqlite://path or `postgres://...` (default: SQLite in a temporary file)")
	fs.StringVar(&o.URL, "url", "", "measure an existing server at `http://host:port` instead of starting one")
	fs.StringVar(&o.APIKey, "api-key", "", "with --url: the server's admin API key (fanout, stats)")
	fs.StringVar(&o.JWTSecret, "jwt-secret", "", "with --url: the server's HS256 secret, to sign client tokens")
	fs.IntVar(&o.ServerPID, "server-pid", 0, "with --url: the server's process id, for RSS and CPU figures")
	fs.BoolVar(&o.InProcess, "in-process", false, "run the server in this process (below ~9,000 connections)")
	fs.StringVar(&o.JSONFile, "json", "", "write the figures to this `file` as JSON")
	fs.StringVar(&o.HTMLFile, "html", "", "write a report with a latency histogram to this `file`")
	fs.Func("source-addrs", "client source `addresses`: a comma list of IPs or first-last ranges, or none (default "+defaultSources+")",
		func(v string) error {
			addrs, err := parseAddrs(v)
			o.SourceAddrs = addrs
			return err
		})
	fs.IntVar(&o.Dialers, "dialers", DefaultDialers, "connections opened at once")
	fs.StringVar(&o.Channel, "channel", DefaultChannel, "channel to subscribe to")
	fs.StringVar(&o.SendQueue, "send-queue", "", "the child server's per-connection send queue (default: serve's)")
	fs.IntVar(&o.ReadBuffer, "read-buffer", 2048, "client socket read buffer, bytes")
	fs.IntVar(&o.MessageBuffer, "message-buffer", 8, "client message channel capacity")
	return fs
}

// Scenarios are the scenarios a user may run, in the order of the usage
// text (`tablecast --help` lists them; a test checks it).
var Scenarios = []string{"idle", "fanout", "rows", "recover", "ops", "pages", "webhooks"}

// ParseArgs parses the arguments after `bench`: the scenario and flags, in
// either order. -h and --help return an error wrapping flag.ErrHelp.
func ParseArgs(args []string) (Options, error) {
	o := Options{}
	fs := newFlagSet(&o)
	addrs, _ := parseAddrs(defaultSources)
	o.SourceAddrs = addrs
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return Options{}, errors.New("no scenario: give idle, fanout, rows, recover, ops, pages or webhooks")
	}
	o.Scenario = rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if o.Scenario == "ops" {
		if !given["n"] {
			o.Conns = DefaultOpsConns
		}
		if !given["duration"] {
			o.Duration = DefaultOpsTime
		}
	}
	if o.Scenario == "rows" || o.Scenario == "recover" || o.Scenario == "pages" {
		if !given["n"] {
			o.Conns = DefaultTableConns
		}
		if !given["rate"] && o.Scenario == "rows" {
			o.Rate = DefaultRowsRate
		}
		switch {
		case given["writers"] || o.Scenario == "recover":
		case o.Scenario == "rows" && o.Rate == 0:
			o.Writers = DefaultRowsMaxWriters
		default:
			o.Writers = DefaultTableWriters
		}
		if !given["rate"] && o.Scenario == "pages" {
			o.Rate = DefaultPagesRate
		}
		if !given["read-buffer"] && o.Scenario == "pages" {
			o.ReadBuffer = DefaultPagesReadBuffer
		}
	}
	return o, o.validate()
}

func (o *Options) validate() error {
	var errs []error
	switch o.Scenario {
	case baselineSenderScenario, publisherScenario, rowsWriterScenario:
	default:
		if slices.Contains(Scenarios, o.Scenario) {
			break // a user's scenario
		}
		errs = append(errs, fmt.Errorf("unknown scenario %q: want idle, fanout, rows, recover, ops, pages or webhooks", o.Scenario))
	}
	if o.Nodes < 1 || (o.Nodes > 1 && (o.RedisURL == "" || o.URL != "" || o.InProcess)) {
		errs = append(errs, errors.New("--nodes N > 1 needs --redis-url, and starts child servers (not with --url or --in-process)"))
	}
	if o.Nodes > 1 && (o.Scenario == "rows" || o.Scenario == "ops") && !strings.HasPrefix(o.DatabaseURL, "postgres") {
		errs = append(errs, fmt.Errorf("%s with --nodes needs a PostgreSQL --database-url: the nodes share the store", o.Scenario))
	}
	if o.Docs < 1 || o.Warmup < 0 {
		errs = append(errs, errors.New("--docs must be at least 1 and --warmup not negative"))
	}
	if o.CellBytes < 1 || o.CellBytes > 100_000 {
		errs = append(errs, errors.New("--cell-bytes must be from 1 to 100000"))
	}
	if o.EditedNarrow && !o.Wide {
		errs = append(errs, errors.New("--edited-narrow goes with --wide"))
	}
	if o.DocPerNode && (o.Scenario != "ops" || o.Nodes < 2 || o.Docs%o.Nodes != 0) {
		errs = append(errs, errors.New("--doc-per-node goes with ops --nodes N, and --docs a multiple of N"))
	}
	if o.Writers < 1 || o.Rows < 1 || o.Events < 1 || o.TablePages < 1 {
		errs = append(errs, errors.New("--writers, --rows, -e and --table-pages must be at least 1"))
	}
	if o.Writes < 0 || o.Window < 0 || o.Duration <= 0 {
		errs = append(errs, errors.New("--writes and --window must not be negative and --duration must be above zero"))
	}
	if o.DatabaseURL != "" && !strings.HasPrefix(o.DatabaseURL, "sqlite://") && !isPostgres(o.DatabaseURL) {
		errs = append(errs, errors.New("--database-url: want a sqlite:// or postgres:// URL"))
	}
	if o.SharedbPostgres != "" && (o.Scenario != "ops" || o.SharedbPeer == "" || !isPostgres(o.SharedbPostgres)) {
		errs = append(errs, errors.New("--sharedb-postgres goes with ops and the ShareDB peer, and wants a postgres:// URL"))
	}
	if o.Conns < 1 {
		errs = append(errs, errors.New("-n must be at least 1"))
	}
	if o.Messages < 1 {
		errs = append(errs, errors.New("-m must be at least 1"))
	}
	if o.Size < minSize || o.Size > maxSize {
		errs = append(errs, fmt.Errorf("-s must be %d to %d bytes", minSize, maxSize))
	}
	if o.Publishers < 1 {
		errs = append(errs, errors.New("--publishers must be at least 1"))
	}
	if o.Rate < 0 {
		errs = append(errs, errors.New("--rate must not be negative"))
	}
	if o.Timeout <= 0 {
		errs = append(errs, errors.New("--timeout must be above zero"))
	}
	if o.Dialers < 1 {
		errs = append(errs, errors.New("--dialers must be at least 1"))
	}
	if o.ReadBuffer < 128 || o.MessageBuffer < 1 {
		errs = append(errs, errors.New("--read-buffer must be at least 128 and --message-buffer at least 1"))
	}
	if !validChannel(o.Channel) {
		errs = append(errs, fmt.Errorf("--channel %q: want 1-128 of [A-Za-z0-9_:-]", o.Channel))
	}
	if o.URL != "" {
		if o.InProcess {
			errs = append(errs, errors.New("--url and --in-process exclude each other"))
		}
		u, err := url.Parse(o.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--url %q: want http://host:port", o.URL))
		}
		if o.JWTSecret == "" && o.Scenario != publisherScenario && o.Scenario != rowsWriterScenario {
			errs = append(errs, errors.New("--url needs --jwt-secret, to sign the clients' tokens"))
		}
		if o.Scenario == "fanout" && o.APIKey == "" {
			errs = append(errs, errors.New("fanout with --url needs --api-key, to publish"))
		}
		if o.DatabaseURL != "" {
			errs = append(errs, errors.New("--database-url is for the server bench starts, not with --url"))
		}
	} else if o.Scenario == publisherScenario || o.Scenario == rowsWriterScenario {
		errs = append(errs, errors.New(o.Scenario+" needs --url"))
	} else if o.APIKey != "" || o.JWTSecret != "" || o.ServerPID != 0 {
		errs = append(errs, errors.New("--api-key, --jwt-secret and --server-pid go with --url"))
	}
	return errors.Join(errs...)
}

func validChannel(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// parseAddrs reads "none", or a comma list of IPv4 addresses and ranges
// such as 127.0.0.2-127.0.0.9 (the last byte varies).
func parseAddrs(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "none" {
		return nil, nil
	}
	var out []string
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		first, last, isRange := strings.Cut(part, "-")
		a := net.ParseIP(strings.TrimSpace(first)).To4()
		if a == nil {
			return nil, fmt.Errorf("%q is not an IPv4 address", first)
		}
		if !isRange {
			out = append(out, a.String())
			continue
		}
		b := net.ParseIP(strings.TrimSpace(last)).To4()
		if b == nil || !a[:3].Equal(b[:3]) || b[3] < a[3] {
			return nil, fmt.Errorf("%q is not a range like 127.0.0.2-127.0.0.9", part)
		}
		for i := int(a[3]); i <= int(b[3]); i++ {
			out = append(out, net.IPv4(a[0], a[1], a[2], byte(i)).String())
		}
	}
	return out, nil
}

// Main runs `tablecast bench` with the arguments after `bench`: it parses
// them, runs the scenario, prints the table and writes the files asked for.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := ParseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		fs := newFlagSet(new(Options))
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	if err != nil {
		return err
	}
	o.Stdout, o.Stderr = stdout, stderr
	raiseFileLimit()
	switch o.Scenario {
	case baselineSenderScenario:
		return runSenderChild(ctx, o, os.Stdin, stdout)
	case publisherScenario:
		o.APIKey = os.Getenv(publisherKeyEnv)
		return runPublisherChild(ctx, o, os.Stdin, stdout)
	case rowsWriterScenario:
		return runWriterChild(ctx, o, os.Getenv(writerSpecEnv), os.Stdin, stdout)
	}
	rep, runErr := Run(ctx, o)
	if rep == nil {
		return runErr
	}
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	if err := writeOutputs(o, rep); err != nil {
		return err
	}
	return runErr
}

// writeOutputs writes the --json and --html files asked for.
func writeOutputs(o Options, rep *Report) error {
	if o.JSONFile != "" {
		if err := writeFile(o.JSONFile, rep.WriteJSON); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	if o.HTMLFile != "" {
		if err := writeFile(o.HTMLFile, rep.WriteHTML); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	return nil
}

// Run runs o's scenario and returns its report. An error with a report
// means the run was cut short (a timeout, failed connections): the report
// holds what was measured until then.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	prog := newProgress(o.Stdout)
	start := time.Now()
	tgt, err := startTarget(ctx, o, prog)
	if err != nil {
		return nil, err
	}
	rep := &Report{Scenario: o.Scenario, Started: start, Server: tgt.describe(), Params: o.params()}
	switch o.Scenario {
	case "idle":
		err = runIdle(ctx, o, tgt, prog, rep)
	case "fanout":
		err = runFanout(ctx, o, tgt, prog, rep)
	case "rows":
		err = runRows(ctx, o, tgt, prog, rep)
	case "recover":
		err = runRecover(ctx, o, tgt, prog, rep)
	case "ops":
		err = runOps(ctx, o, tgt, prog, rep)
	case "pages":
		err = runPages(ctx, o, tgt, prog, rep)
	case "webhooks":
		err = runWebhooks(ctx, o, tgt, prog, rep)
	}
	if stopErr := tgt.stop(); stopErr != nil {
		rep.problem("stopping the server: %v", stopErr)
	}
	rep.ServerLog = tgt.logTail()
	rep.Seconds = time.Since(start).Seconds()
	return rep, err
}

// params lists the run's parameters for the report.
func (o *Options) params() map[string]any {
	p := map[string]any{"n": o.Conns, "timeout": o.Timeout.String(), "source_addrs": len(o.SourceAddrs),
		"dialers": o.Dialers, "channel": o.Channel, "read_buffer": o.ReadBuffer, "message_buffer": o.MessageBuffer}
	if o.Scenario == "fanout" {
		p["m"], p["s"], p["baseline"], p["publishers"] = o.Messages, o.Size, o.Baseline, o.Publishers
		rate := "max"
		if o.Rate > 0 {
			rate = strconv.FormatFloat(o.Rate, 'g', -1, 64) + "/s"
		}
		p["rate"] = rate
		p["publisher"] = "child process"
		if o.InProcess {
			p["publisher"] = "in-process"
		}
	}
	switch o.Scenario {
	case "rows", "pages":
		p["writers"], p["rows"] = o.Writers, o.Rows
		if o.Scenario == "pages" {
			p["table_pages"] = o.TablePages
		}
		if o.Scenario == "rows" && o.Rate == 0 {
			p["compare"], p["window"] = o.Compare, o.Window
		}
		p["rate"] = "max"
		if o.Rate > 0 {
			p["rate"] = strconv.FormatFloat(o.Rate, 'g', -1, 64) + "/s"
		}
		if o.Writes > 0 {
			p["writes"] = o.Writes
		} else {
			p["duration"] = o.Duration.String()
		}
		p["writer"] = "child process"
		if o.InProcess {
			p["writer"] = "in-process"
		}
	case "recover":
		p["e"], p["rows"] = o.Events, o.Rows
	case "ops":
		p["docs"], p["duration"], p["warmup"], p["sharedb_peer"] = o.Docs, o.Duration.String(), o.Warmup.String(), o.SharedbPeer
		if o.SharedbPostgres != "" {
			p["sharedb_store"] = "postgres"
		}
		if o.Deletes {
			p["deletes"] = "every third op"
		}
		if o.Wide {
			p["wide_cells"], p["cell_bytes"], p["edited_narrow"] = WideCells, o.CellBytes, o.EditedNarrow
		}
	}
	if o.Scenario == "rows" || o.Scenario == "recover" || o.Scenario == "ops" || o.Scenario == "pages" {
		p["database"] = o.databaseLabel()
	}
	if o.SendQueue != "" {
		p["send_queue"] = o.SendQueue
	}
	if o.Nodes > 1 {
		p["nodes"] = o.Nodes
		p["broker"] = "redis"
		if o.Scenario == "ops" {
			p["doc_per_node"] = o.DocPerNode
		}
	}
	if o.Hold > 0 {
		p["hold"] = o.Hold.String()
	}
	return p
}

// isPostgres tells a PostgreSQL URL.
func isPostgres(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// databaseURL is the store of the server bench starts.
func (o *Options) databaseURL() string {
	if o.DatabaseURL == "" {
		return defaultDatabase
	}
	return o.DatabaseURL
}

// databaseLabel names the store for the report, without a password.
func (o *Options) databaseLabel() string {
	switch {
	case o.URL != "":
		return "the --url server's"
	case o.DatabaseURL == "":
		return "sqlite (temporary file)"
	}
	if u, err := url.Parse(o.DatabaseURL); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}
