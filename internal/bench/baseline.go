package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/tablecast/tablecast/pkg/client"
)

// The baseline is the machine's physical limit for fanout: the same frames
// (a WebSocket text frame holding the message tablecast would send, with a
// fresh timestamp) written to the same number of loopback sockets with
// coalesced writes, by a sender with nothing else to do. Its sending side
// runs as a child process (`tablecast bench baseline-sender`), like the
// server, so that both ends of 10,000 sockets fit the descriptor limit;
// with --in-process it runs here.
//
// Its receivers do what a tablecast client does with a frame (pkg/client's
// read path): read it through a buffered reader of the same size, check
// UTF-8, decode the JSON into a client.Message, and hand it over a channel
// of the same capacity to a second goroutine that records it. So the two
// runs differ only in what sends the frames.

// senderConn is one socket of the baseline sender: a queue of frames that
// one goroutine writes with writev (net.Buffers), as many as have queued.
type senderConn struct {
	c    net.Conn
	mu   sync.Mutex
	q    [][]byte // mu must be held
	wake chan struct{}
	dead atomic.Bool
}

func (sc *senderConn) enqueue(frame []byte) {
	if sc.dead.Load() {
		return
	}
	sc.mu.Lock()
	sc.q = append(sc.q, frame)
	sc.mu.Unlock()
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

// run writes queued frames until the connection fails or quit closes.
func (sc *senderConn) run(quit <-chan struct{}) {
	var spare [][]byte
	for {
		select {
		case <-sc.wake:
		case <-quit:
			return
		}
		sc.mu.Lock()
		q := sc.q
		sc.q = spare
		sc.mu.Unlock()
		bufs := net.Buffers(q)
		if _, err := bufs.WriteTo(sc.c); err != nil {
			sc.dead.Store(true)
			return
		}
		clear(q) // WriteTo left it empty; drop the frames anyway
		spare = q[:0]
	}
}

// sender accepts n connections and fans frames out to them.
type sender struct {
	ln       net.Listener
	n        int
	mu       sync.Mutex
	conns    []*senderConn // mu must be held
	accepted chan struct{} // closed when n connections are in
	quit     chan struct{}
	wg       sync.WaitGroup
}

func newSender(n int) (*sender, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sender{ln: ln, n: n, accepted: make(chan struct{}), quit: make(chan struct{})}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

func (s *sender) addr() string { return s.ln.Addr().String() }

func (s *sender) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		sc := &senderConn{c: c, wake: make(chan struct{}, 1)}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			sc.run(s.quit)
		}()
		s.mu.Lock()
		s.conns = append(s.conns, sc)
		full := len(s.conns) == s.n
		s.mu.Unlock()
		if full {
			close(s.accepted)
			return
		}
	}
}

// baselineFrame is the frame tablecast's native dialect would send for
// message seq of channel, as one WebSocket text frame.
func baselineFrame(channel string, seq int, payload []byte, now time.Time) []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":"message","collection":`)
	b.WriteString(strconv.Quote(channel))
	b.WriteString(`,"offset":`)
	b.WriteString(strconv.Itoa(seq))
	b.WriteString(`,"data":`)
	b.Write(payload)
	b.WriteString(`,"timestamp":"`)
	b.WriteString(now.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	b.WriteString(`"}`)
	frame, _ := ws.CompileFrame(ws.NewTextFrame(b.Bytes())) // cannot fail for a text frame
	return frame
}

// publish waits for every connection, then sends o.Messages frames to all
// of them at o.Rate (or at once), each encoded once. It returns how many
// messages it sent.
func (s *sender) publish(ctx context.Context, o Options) (int, error) {
	select {
	case <-s.accepted:
	case <-ctx.Done():
		return 0, fmt.Errorf("waiting for %d receivers: %w", s.n, ctx.Err())
	}
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	pace := newPacer(o.Rate)
	var payload []byte
	for i := range o.Messages {
		pace.wait(ctx, i)
		if err := ctx.Err(); err != nil {
			return i, err
		}
		now := time.Now()
		payload = makePayload(payload[:0], now.UnixNano(), i, o.Size)
		frame := baselineFrame(o.Channel, i+1, payload, now)
		for _, sc := range conns {
			sc.enqueue(frame)
		}
	}
	return o.Messages, nil
}

func (s *sender) close() {
	_ = s.ln.Close()
	close(s.quit)
	s.mu.Lock()
	for _, sc := range s.conns {
		_ = sc.c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// runSenderChild is `tablecast bench baseline-sender`: it prints
// "listening ADDR", waits for "go" on stdin, publishes, prints "published
// N" (or "failed ERROR"), and exits when stdin closes.
func runSenderChild(ctx context.Context, o Options, stdin io.Reader, stdout io.Writer) error {
	s, err := newSender(o.Conns)
	if err != nil {
		return err
	}
	defer s.close()
	fmt.Fprintf(stdout, "listening %s\n", s.addr())
	in := bufio.NewScanner(stdin)
	if err := awaitGo(baselineSenderScenario, in); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	n, err := s.publish(ctx, o)
	if err != nil {
		fmt.Fprintf(stdout, "failed %d %s\n", n, strings.ReplaceAll(err.Error(), "\n", " "))
	} else {
		fmt.Fprintf(stdout, "published %d\n", n)
	}
	for in.Scan() { // until the parent closes stdin
	}
	return nil
}

// senderHandle drives a sender, here or in a child process.
type senderHandle struct {
	addr  string
	pid   int             // the child's, for its CPU; 0 in-process
	begin func()          // start publishing
	done  chan senderDone // one value once publishing ended
	stop  func() error    // release everything
	log   func() []string // the child's stderr
}

type senderDone struct {
	published int
	err       error
}

func startLocalSender(ctx context.Context, o Options) (*senderHandle, error) {
	s, err := newSender(o.Conns)
	if err != nil {
		return nil, err
	}
	h := &senderHandle{addr: s.addr(), done: make(chan senderDone, 1),
		stop: func() error { s.close(); return nil }, log: func() []string { return nil }}
	h.begin = func() {
		go func() {
			n, err := s.publish(ctx, o)
			h.done <- senderDone{n, err}
		}()
	}
	return h, nil
}

func startChildSender(o Options) (*senderHandle, error) {
	c, err := startChildProc("baseline sender", []string{baselineSenderScenario,
		"-n", strconv.Itoa(o.Conns), "-m", strconv.Itoa(o.Messages), "-s", strconv.Itoa(o.Size),
		"--rate", strconv.FormatFloat(o.Rate, 'g', -1, 64), "--channel", o.Channel,
		"--timeout", o.Timeout.String()}, nil)
	if err != nil {
		return nil, err
	}
	addr, ok := strings.CutPrefix(c.ready, "listening ")
	if !ok {
		return nil, c.fail()
	}
	h := &senderHandle{addr: addr, pid: c.pid, begin: c.begin, done: make(chan senderDone, 1),
		stop: c.stop, log: c.logs.lines}
	go func() {
		line := <-c.result
		d := senderDone{err: errors.New("the baseline sender ended without a result")}
		f := strings.SplitN(line, " ", 3)
		if len(f) >= 2 {
			d.published, _ = strconv.Atoi(f[1])
		}
		switch {
		case f[0] == "published":
			d.err = nil
		case len(f) == 3:
			d.err = errors.New(f[2])
		}
		h.done <- d
	}()
	return h, nil
}

// runBaseline runs the raw TCP fan-out and measures it like tablecast's.
func runBaseline(ctx context.Context, o Options, sources []string, prog *progress) (*runResult, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var h *senderHandle
	var err error
	if o.InProcess {
		h, err = startLocalSender(ctx, o)
	} else {
		h, err = startChildSender(o) // it bounds itself with --timeout
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = h.stop() }()

	conns := make([]net.Conn, o.Conns)
	var dialed atomic.Int64
	var dialErrs errorTally
	end := prog.phase("baseline connecting", int64(o.Conns), dialed.Load)
	forEach(ctx, o.Conns, o.Dialers, func(i int) {
		var d net.Dialer
		if len(sources) > 0 {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(sources[i%len(sources)])}
		}
		c, err := d.DialContext(ctx, "tcp", h.addr)
		if err != nil {
			dialErrs.add(err)
		} else {
			conns[i] = c
		}
		dialed.Add(1)
	})
	end()
	if n := dialErrs.count(); n > 0 {
		closeAll(conns)
		return nil, fmt.Errorf("%d baseline connections failed: %v", n, dialErrs.summary())
	}
	if err := ctx.Err(); err != nil {
		closeAll(conns)
		return nil, err
	}

	s := newSink(o.Channel, o.Conns)
	live := make([]bool, o.Conns)
	var closing atomic.Bool
	var wg sync.WaitGroup
	for i, c := range conns {
		live[i] = true
		msgs := make(chan client.Message, o.MessageBuffer)
		wg.Add(2)
		go func() {
			defer wg.Done()
			err := receiveFrames(c, o.ReadBuffer, msgs)
			if err != nil && !closing.Load() {
				s.ended[i].Store(true)
			}
		}()
		go func() {
			defer wg.Done()
			for m := range msgs {
				s.deliver(i, &m)
			}
		}()
	}
	defer func() {
		closing.Store(true)
		closeAll(conns)
		wg.Wait()
	}()

	res := &runResult{receivers: o.Conns}
	cpu0, writes0 := cpuOf(h.pid), writesOf(h.pid)
	end = prog.phase("baseline delivering", int64(o.Conns*o.Messages), s.rec.Count)
	res.start = time.Now()
	h.begin()
	var d senderDone
	select {
	case d = <-h.done:
	case <-ctx.Done():
		// The sender has not said how many it sent: at least what the
		// fastest receiver got.
		d.err, d.published = ctx.Err(), s.mostReceived()
	}
	res.pubTook = time.Since(res.start)
	res.published, res.publishErr = d.published, withOutput(d.err, "sender", h.log())
	res.waitErr = s.waitDelivered(ctx, live, res.published)
	end()
	res.cpu, res.writes = cpuOf(h.pid)-cpu0, writesOf(h.pid)-writes0
	if err := res.tally(s, live); err != nil {
		return res, fmt.Errorf("baseline: %w", err)
	}
	return res, nil
}

// receiveFrames reads server frames from c the way pkg/client does and
// sends each text message, decoded, on out; it closes out when c ends.
func receiveFrames(c net.Conn, readBuffer int, out chan<- client.Message) error {
	defer close(out)
	rd := wsutil.Reader{Source: bufio.NewReaderSize(c, readBuffer), State: ws.StateClientSide, CheckUTF8: true}
	var payload bytes.Buffer
	for {
		hdr, err := rd.NextFrame()
		if err != nil {
			return err
		}
		payload.Reset()
		if _, err := payload.ReadFrom(&rd); err != nil {
			return err
		}
		if hdr.OpCode != ws.OpText {
			continue
		}
		var m client.Message
		if json.Unmarshal(payload.Bytes(), &m) != nil {
			continue
		}
		out <- m
	}
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
}
