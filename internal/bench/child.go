package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// childProc is a helper process of bench, `tablecast bench SCENARIO ...`
// for a hidden scenario (the baseline sender, the fanout publisher), so
// that the side of a run that sends does not compete for the scheduler
// with the thousands of goroutines that receive. The protocol on its
// pipes: it prints one line when it is ready, waits for "go" on stdin,
// does its work, prints one result line, and exits when its stdin closes
// (closing it early asks it to stop). Its stderr is kept for error
// messages.
type childProc struct {
	name   string // for messages
	cmd    *exec.Cmd
	pid    int
	ready  string      // the first line it printed
	result chan string // its result line; "" when it ended without one
	exited chan error  // its Wait result, once
	stdin  io.WriteCloser
	logs   *tailBuffer
}

// startChildProc starts this program as `bench args...`, with env added to
// its environment, and waits for the line saying it is ready.
func startChildProc(name string, args, env []string) (*childProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to start the %s: %w", name, err)
	}
	cmd := exec.Command(exe, append([]string{"bench"}, args...)...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &childProc{name: name, cmd: cmd, result: make(chan string, 1), exited: make(chan error, 1),
		stdin: stdin, logs: newTailBuffer(20)}
	cmd.Stderr = c.logs
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s: %w", name, err)
	}
	c.pid = cmd.Process.Pid
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	started := lines.Scan()
	c.ready = lines.Text()
	go func() {
		line := ""
		if started && lines.Scan() {
			line = lines.Text()
		}
		c.result <- line
		_, _ = io.Copy(io.Discard, stdout) // Wait closes stdout: read it all first
		c.exited <- cmd.Wait()
	}()
	if !started {
		return nil, c.fail()
	}
	return c, nil
}

// fail kills a child that did not start as expected and returns an error
// holding what it wrote on stderr.
func (c *childProc) fail() error {
	_ = c.cmd.Process.Kill()
	_ = c.stdin.Close()
	<-c.exited
	return fmt.Errorf("the %s did not start: %s", c.name, strings.Join(c.logs.lines(), " | "))
}

// begin tells the child to start its work.
func (c *childProc) begin() { _, _ = io.WriteString(c.stdin, "go\n") }

// stop closes the child's stdin and waits for it to exit (killing it after
// 10s).
func (c *childProc) stop() error {
	_ = c.stdin.Close()
	select {
	case err := <-c.exited:
		return err
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("the %s did not exit; killed", c.name)
	}
}

// awaitGo reads "go" from a child's stdin; what follows is left in in.
func awaitGo(name string, in *bufio.Scanner) error {
	if !in.Scan() || in.Text() != "go" {
		return errors.New(name + ": no go on stdin")
	}
	return nil
}

// childRun says what a load-generating child process connects to.
type childRun struct {
	name    string // the hidden scenario, for errors
	url     string
	apiKey  string
	conns   int // keep-alive connections to open before "ready"
	timeout time.Duration
	// line, when set, takes each line read from stdin after "go".
	line func(string)
}

// runChild is the child side of the protocol every helper process speaks:
// it opens and warms its connections, prints "ready", waits for "go" on
// stdin, runs work, prints work's result as one JSON line, and returns once
// stdin closes. Stdin closing while work runs cancels work's context.
func runChild(ctx context.Context, r childRun, stdin io.Reader, stdout io.Writer, work func(context.Context, *target) any) error {
	u, err := url.Parse(r.url)
	if err != nil {
		return err
	}
	t := &target{base: &url.URL{Scheme: u.Scheme, Host: u.Host}, apiKey: r.apiKey, httpc: adminClient(r.conns)}
	defer t.httpc.CloseIdleConnections()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	err = t.warmUp(wctx, r.conns)
	wcancel()
	if err != nil {
		return fmt.Errorf("%s: reaching %s: %w", r.name, t.base, err)
	}
	fmt.Fprintln(stdout, "ready")
	in := bufio.NewScanner(stdin)
	if err := awaitGo(r.name, in); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	closed := make(chan struct{})
	go func() {
		for in.Scan() { // until the parent closes stdin
			if r.line != nil {
				r.line(in.Text())
			}
		}
		cancel()
		close(closed)
	}()
	b, err := json.Marshal(work(ctx, t))
	if err != nil {
		return err
	}
	if _, err := stdout.Write(append(b, '\n')); err != nil {
		return err
	}
	<-closed
	return nil
}

// childError is a child's error as its JSON result line carries it: the
// text, and whether it was the deadline, so that errors.Is(err,
// context.DeadlineExceeded) still holds in the parent.
type childError struct {
	Error    string `json:"error,omitempty"`
	TimedOut bool   `json:"timed_out,omitempty"`
}

func wireError(err error) childError {
	if err == nil {
		return childError{}
	}
	return childError{Error: err.Error(), TimedOut: errors.Is(err, context.DeadlineExceeded)}
}

// err is the error the child reported; nil if none.
func (e childError) err() error {
	switch {
	case e.TimedOut:
		return fmt.Errorf("%w (%s)", context.DeadlineExceeded, e.Error)
	case e.Error != "":
		return errors.New(e.Error)
	}
	return nil
}

// decodeResultLine decodes the result line of the child called who into
// wire; "" is a child that ended without one.
func decodeResultLine(who, line string, wire any) error {
	if line == "" {
		return fmt.Errorf("the %s ended without a result", who)
	}
	if err := json.Unmarshal([]byte(line), wire); err != nil {
		return fmt.Errorf("the %s's result %.200q: %v", who, line, err)
	}
	return nil
}

// withOutput adds the last lines a child (who) wrote to its error, if any.
func withOutput(err error, who string, log []string) error {
	if err == nil || len(log) == 0 {
		return err
	}
	return fmt.Errorf("%w; %s output: %s", err, who, strings.Join(log, " | "))
}

// awaitOrStop returns what done gives. When ctx ends first, it calls stop
// and waits 5s more: stopped says it had to, ok false that nothing came.
func awaitOrStop[R any](ctx context.Context, done <-chan R, stop func()) (r R, stopped, ok bool) {
	select {
	case r := <-done:
		return r, false, true
	case <-ctx.Done():
	}
	stop()
	select {
	case r := <-done:
		return r, true, true
	case <-time.After(5 * time.Second):
		return r, true, false
	}
}
