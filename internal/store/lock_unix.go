//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// fileLock is an exclusive flock(2) on a SQLite database's lock file. flock
// locks belong to an open file description: a second open of the same file,
// in another process or in this one, cannot take it while this one holds
// it, and the kernel releases it when the process ends, however it ends.
type fileLock struct{ f *os.File }

// lockFile takes an exclusive, non-blocking lock on path, creating the file
// (mode 0600) if it is missing. A lock another open holds fails at once
// with ErrLocked itself (the caller names the database).
func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock file: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

// release unlocks and closes the lock file; the file stays (removing it
// would let a process that opened it just before lock a file no other
// process can find). A nil lock releases nothing.
func (l *fileLock) release() error {
	if l == nil {
		return nil
	}
	err := unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	if err != nil {
		err = fmt.Errorf("store: unlock %s: %w", l.f.Name(), err)
	}
	// Closing releases the lock too, should the unlock have failed.
	return errors.Join(err, l.f.Close())
}
