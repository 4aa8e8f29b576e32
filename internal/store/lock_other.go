//go:build !unix

package store

// fileLock does nothing on this system: there is no flock(2) here, so
// OpenSQLite does not keep a second process off a database file. Nothing
// stops two processes from opening one database; do not start two.
type fileLock struct{}

// lockFile locks nothing and creates no file; see fileLock.
func lockFile(string) (*fileLock, error) { return nil, nil }

// release does nothing.
func (l *fileLock) release() error { return nil }
