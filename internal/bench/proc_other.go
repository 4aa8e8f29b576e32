//go:build !linux

package bench

import (
	"errors"
	"syscall"
	"time"
)

var errNoProc = errors.New("process figures need Linux's /proc")

func raiseFileLimit() {}

func childAttr() *syscall.SysProcAttr { return nil }

func procRSS(int) (int64, error) { return 0, errNoProc }

func procCPU(int) (time.Duration, error) { return 0, errNoProc }

func commandCPU(string) (time.Duration, error) { return 0, errNoProc }

func procWrites(int) (int64, error) { return 0, errNoProc }
