package bench

import (
	"os"
	"strings"
	"testing"
	"time"
)

// commandCPU sums the CPU of every process of a name: this test's own
// process has used some, and a name no process has is an error, not zero.
func TestCommandCPU(t *testing.T) {
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSpace(string(comm))
	for { // spin until this process has used a tick of CPU
		d, err := procCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if d > 0 {
			break
		}
	}
	d, err := commandCPU(name)
	if err != nil || d <= 0 {
		t.Fatalf("commandCPU(%q) = %v, %v; want this process's CPU at least", name, d, err)
	}
	if _, err := commandCPU("no such command"); err == nil {
		t.Fatal("a name no process has should be an error")
	}
}

func TestStatComm(t *testing.T) {
	for line, want := range map[string]string{
		"1234 (postgres) S 1 1234":    "postgres",
		"1234 (tc (bench) x) S 1 123": "tc (bench) x",
		"1234 no name":                "",
	} {
		if got := string(statComm([]byte(line))); got != want {
			t.Errorf("statComm(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestParseStat(t *testing.T) {
	// Field 2 may hold spaces and parentheses; utime 250 and stime 50 ticks.
	line := []byte("1234 (tc (bench) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 0 0")
	d, err := parseStat(line)
	if err != nil || d != 3*time.Second {
		t.Fatalf("parseStat = %v, %v; want 3s", d, err)
	}
	if _, err := parseStat([]byte("1234 (tc) S 1")); err == nil {
		t.Fatal("a short line should fail")
	}
}

func TestParseSyscw(t *testing.T) {
	io := []byte("rchar: 10\nwchar: 4096\nsyscr: 3\nsyscw: 1234\nread_bytes: 0\n")
	if n, err := parseSyscw(io); err != nil || n != 1234 {
		t.Fatalf("parseSyscw = %d, %v; want 1234", n, err)
	}
	if _, err := parseSyscw([]byte("rchar: 10\n")); err == nil {
		t.Fatal("no syscw line should fail")
	}
}
