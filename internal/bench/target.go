package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tablecast/tablecast/internal/config"
	"github.com/tablecast/tablecast/internal/server"
)

// target is the server under test: where it listens, its secrets, and its
// process when known.
type target struct {
	base      *url.URL // http://host:port
	apiKey    string
	jwtSecret string
	pid       int // the server's process for /proc figures; 0: unknown or this process
	sources   []string
	httpc     *http.Client
	kind      string // for the report

	node *server.Node // in-process
	cmd  *exec.Cmd    // child process
	exit chan error   // the child's Wait result
	log  *tailBuffer  // the child's output

	// peers are the other nodes of a --nodes N cluster (child processes
	// sharing the secrets, the database and Redis); clients spread over
	// this node and them.
	peers []*target
}

// startTarget starts (or reaches) the server the scenario measures.
func startTarget(ctx context.Context, o Options, prog *progress) (*target, error) {
	t := &target{
		sources: o.SourceAddrs,
		httpc:   adminClient(o.Publishers),
	}
	var err error
	switch {
	case o.URL != "":
		err = t.reach(ctx, o)
	case o.InProcess:
		err = t.startInProcess(ctx, o)
	default:
		err = t.startCluster(ctx, o)
	}
	if err != nil {
		return nil, err
	}
	prog.notef("server: %s", t.describe())
	return t, nil
}

func (t *target) describe() string {
	return t.kind
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

func (t *target) reach(ctx context.Context, o Options) error {
	u, err := url.Parse(o.URL)
	if err != nil {
		return err
	}
	t.base = &url.URL{Scheme: u.Scheme, Host: u.Host}
	t.apiKey, t.jwtSecret, t.pid = o.APIKey, o.JWTSecret, o.ServerPID
	t.kind = t.base.String()
	if t.pid != 0 {
		t.kind += " (pid " + strconv.Itoa(t.pid) + ")"
	}
	// Binding to 127.0.0.x only reaches a server on loopback.
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		t.sources = nil
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return t.waitHealthy(wctx, nil)
}

func (t *target) startInProcess(ctx context.Context, o Options) error {
	t.apiKey, t.jwtSecret = randomHex(16), randomHex(32)
	// In-process runs are the tests' (a few clients, each far above the
	// per-connection message limit meant for abuse); the child process
	// keeps the defaults.
	args := []string{"--jwt-secret", t.jwtSecret, "--api-key", t.apiKey, "--log-level", "warn", "--connect-rate", "off",
		"--rate-limit", "100000/s", "--database-url", o.databaseURL()}
	if o.SendQueue != "" {
		args = append(args, "--send-queue", o.SendQueue)
	}
	if o.Scenario == "webhooks" { // the receiver is on 127.0.0.1
		args = append(args, "--webhook-allow-private")
	}
	cfg, err := config.Load(args, nil)
	if err != nil {
		return err
	}
	node, err := server.New(ctx, cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := node.Start(context.WithoutCancel(ctx), ln); err != nil {
		return err
	}
	t.node = node
	t.base = &url.URL{Scheme: "http", Host: ln.Addr().String()}
	t.kind = "in-process on " + t.base.Host
	return nil
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process
// could take it before the child listens; the child then fails to start
// and says so.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startCluster starts the child server, and with --nodes N the N-1 other
// nodes of a cluster on --redis-url (a fresh key prefix per run).
func (t *target) startCluster(ctx context.Context, o Options) error {
	t.apiKey, t.jwtSecret = randomHex(16), randomHex(32)
	if o.Nodes <= 1 {
		return t.startChild(ctx, o, nil)
	}
	prefix := "tcbench:" + randomHex(6) + ":"
	env := func(i int) []string {
		return []string{"TABLECAST_REDIS_URL=" + o.RedisURL, "TABLECAST_REDIS_PREFIX=" + prefix,
			"TABLECAST_NODE_ID=bench-" + strconv.Itoa(i)}
	}
	if err := t.startChild(ctx, o, env(0)); err != nil {
		return err
	}
	for i := 1; i < o.Nodes; i++ {
		p := &target{sources: t.sources, httpc: adminClient(1), apiKey: t.apiKey, jwtSecret: t.jwtSecret}
		if err := p.startChild(ctx, o, env(i)); err != nil {
			_ = t.stop()
			return err
		}
		t.peers = append(t.peers, p)
	}
	t.kind = fmt.Sprintf("%d child processes on Redis (%s and %d more)", o.Nodes, t.base.Host, o.Nodes-1)
	return nil
}

// wsURLs are the socket addresses of every node: clients take them in
// turn.
func (t *target) wsURLs() []string {
	out := []string{t.wsURL()}
	for _, p := range t.peers {
		out = append(out, p.wsURL())
	}
	return out
}

// cpu is the CPU time of every node's process, in seconds (NaN when
// unknown).
func (t *target) cpu() float64 {
	sum := cpuOf(t.pid)
	for _, p := range t.peers {
		sum += cpuOf(p.pid)
	}
	return sum
}

func (t *target) startChild(ctx context.Context, o Options, extraEnv []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program to start the server: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// --connect-rate off: the per-address limit on connection attempts
	// would refuse a load generator.
	args := []string{"serve", "--listen", addr, "--log-level", "warn", "--connect-rate", "off"}
	if o.SendQueue != "" {
		args = append(args, "--send-queue", o.SendQueue)
	}
	cmd := exec.Command(exe, args...)
	// The secrets (and the database URL, which may hold a password) go
	// through the environment rather than the command line, which every
	// user of the machine can read.
	cmd.Env = append(os.Environ(),
		"TABLECAST_JWT_SECRET="+t.jwtSecret,
		"TABLECAST_API_KEY="+t.apiKey,
		"TABLECAST_DATABASE_URL="+o.databaseURL())
	if o.Scenario == "webhooks" { // the receiver is on 127.0.0.1
		cmd.Env = append(cmd.Env, "TABLECAST_WEBHOOK_ALLOW_PRIVATE=true")
	}
	cmd.Env = append(cmd.Env, extraEnv...)
	t.log = newTailBuffer(40)
	cmd.Stdout, cmd.Stderr = t.log, t.log
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the server: %w", err)
	}
	t.cmd, t.pid = cmd, cmd.Process.Pid
	t.exit = make(chan error, 1)
	go func() { t.exit <- cmd.Wait() }()
	t.base = &url.URL{Scheme: "http", Host: addr}
	t.kind = fmt.Sprintf("child process pid %d on %s", t.pid, addr)
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := t.waitHealthy(wctx, t.exit); err != nil {
		_ = t.stop()
		return fmt.Errorf("%w; server output:\n%s", err, strings.Join(t.log.lines(), "\n"))
	}
	return nil
}

// waitHealthy polls /healthz until it answers 200, ctx ends, or exited
// reports that the server process ended.
func (t *target) waitHealthy(ctx context.Context, exited <-chan error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.base.JoinPath("/healthz").String(), nil)
		resp, err := t.httpc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		select {
		case err := <-exited:
			t.exit <- err // keep it for stop
			return fmt.Errorf("the server exited at start: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("the server did not become healthy at %s: %v", t.base, last)
		case <-tick.C:
		}
	}
}

// stop ends the server the scenario started: SIGTERM to a child, then a
// wait (and SIGKILL after 20s); Shutdown in-process. A --url server is
// left alone.
func (t *target) stop() error {
	var peerErrs []error
	for _, p := range t.peers {
		peerErrs = append(peerErrs, p.stop())
	}
	t.peers = nil
	if err := errors.Join(peerErrs...); err != nil {
		return errors.Join(err, t.stop())
	}
	t.httpc.CloseIdleConnections()
	switch {
	case t.node != nil:
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := t.node.Shutdown(ctx)
		t.node = nil
		return err
	case t.cmd != nil:
		cmd := t.cmd
		t.cmd = nil
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-t.exit:
			return exitError(err)
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-t.exit
			return errors.New("the server did not stop within 20s of SIGTERM; killed")
		}
	}
	return nil
}

// exitError ignores the ways a server ends on SIGTERM.
func exitError(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil
		}
	}
	return err
}

// logTail returns the last lines the child wrote.
func (t *target) logTail() []string {
	if t.log == nil {
		return nil
	}
	return t.log.lines()
}

// wsURL is the native protocol's socket address.
func (t *target) wsURL() string { return t.socketURL("/api/ws/socket") }

// socketURL is the WebSocket address of path on the server.
func (t *target) socketURL(path string) string {
	u := *t.base
	u.Scheme = "ws"
	if t.base.Scheme == "https" {
		u.Scheme = "wss"
	}
	return u.JoinPath(path).String()
}

// do sends an admin or ops request and decodes a 2xx answer into out
// (when not nil).
func (t *target) do(ctx context.Context, method, path string, body []byte, out any) error {
	return doRequest(ctx, t.httpc, method, t.base.JoinPath(path).String(), t.apiKey, body, out)
}

// doRequest sends a request, with token (if any) as its bearer, and decodes
// a 2xx answer of up to 16 MiB into out (when not nil); another status is a
// *statusError.
func doRequest(ctx context.Context, c *http.Client, method, url, token string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &statusError{status: resp.StatusCode, body: strings.TrimSpace(string(b))}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d: %.200s", e.status, e.body)
}

// serverStats is the part of GET /api/ws/stats the scenarios read.
type serverStats struct {
	Connections   int64 `json:"connections"`
	Subscriptions int64 `json:"subscriptions"`
	MessagesOut   int64 `json:"messages_out"`
	DroppedSlow   int64 `json:"dropped_slow"`
}

func (t *target) stats(ctx context.Context) (serverStats, error) {
	var s serverStats
	if t.apiKey == "" {
		return s, errors.New("no API key")
	}
	return s, t.do(ctx, http.MethodGet, "/api/ws/stats", nil, &s)
}

// metrics reads the server's /metrics and returns the series without
// labels, by name.
func (t *target) metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base.JoinPath("/metrics").String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := t.httpc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: HTTP %d", resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads "name value" lines of the Prometheus text format,
// skipping comments and series with labels.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	m := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		m[f[0]] = v
	}
	return m, sc.Err()
}

// tailBuffer keeps the last lines written to it.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	partial []byte
	tail    []string
}

func newTailBuffer(n int) *tailBuffer { return &tailBuffer{max: n} }

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		b.tail = append(b.tail, string(b.partial[:i]))
		b.partial = b.partial[i+1:]
		if len(b.tail) > b.max {
			b.tail = b.tail[len(b.tail)-b.max:]
		}
	}
	if len(b.partial) > 64<<10 { // a line without end: keep its start
		b.tail = append(b.tail, string(b.partial[:512])+"...")
		b.partial = b.partial[:0]
	}
	return len(p), nil
}

func (b *tailBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]string(nil), b.tail...)
	if len(b.partial) > 0 {
		out = append(out, string(b.partial))
	}
	return out
}
