package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// raiseFileLimit lifts the soft limit on open files to the hard limit:
// every client connection is a descriptor.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil || lim.Cur >= lim.Max {
		return
	}
	lim.Cur = lim.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// childAttr makes a child process receive SIGTERM if bench dies first, so
// that no server is left behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// procRSS returns the resident set size of process pid (VmRSS).
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest) // "12345", "kB"
		if len(f) != 2 || string(f[1]) != "kB" {
			break
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS line", pid)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; the kernel
// fixes it at 100 for user space on every architecture Go supports.
const clockTicks = 100

// procCPU returns the CPU time (user and system) process pid has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(b)
}

// commandCPU returns the CPU time (user and system) used so far by every
// process whose command name (/proc/<pid>/comm) is name: PostgreSQL's
// server and its backends, which fork from it and keep its name. A process
// that exits between two readings takes its time with it.
func commandCPU(name string) (time.Duration, error) {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var sum time.Duration
	found := false
	for _, e := range dir {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if string(statComm(b)) != name {
			continue
		}
		d, err := parseStat(b)
		if err != nil {
			return 0, err
		}
		sum += d
		found = true
	}
	if !found {
		return 0, fmt.Errorf("no process named %s", name)
	}
	return sum, nil
}

// statComm returns the command name of a stat line (field 2, in parentheses).
func statComm(b []byte) []byte {
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return nil
	}
	return b[i+1 : j]
}

// parseStat reads utime and stime (fields 14 and 15) from a stat line. The
// command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat line")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("short /proc stat line")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad /proc stat time %q", s)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// procWrites returns how many write system calls process pid has made
// (write, writev and the like: the syscw line of /proc/<pid>/io). A socket
// write's cost is mostly per call, so CPU per delivery follows how many
// frames each call carries.
func procWrites(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	return parseSyscw(b)
}

func parseSyscw(b []byte) (int64, error) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("syscw:"))
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad /proc io syscw %q", rest)
		}
		return n, nil
	}
	return 0, errors.New("/proc io: no syscw line")
}
