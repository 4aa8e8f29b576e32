package bench

import (
	"os"
	"strings"
	"testing"
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
