package cli

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// storeLock is an exclusive lock on FILE.lock beside --db, held while a
// server runs: a second server started on the same --db (another terminal,
// another --listen) would serve from an in-memory view of its own, blind
// to the first's writes, with replay nonces of its own, and on etcd would
// share the first's event trail and member data.
type storeLock struct {
	f       *os.File
	created bool // the lock file is this start's: a failed start removes it
}

func lockFile(db string) string { return db + ".lock" }

var errStoreInUse = errors.New("store in use")

// lockStore takes the lock, or says which server holds it and what to do.
func lockStore(db string) (*storeLock, error) {
	path := lockFile(db)
	for {
		_, statErr := os.Stat(path)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--db %s: %w", db, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w: a palisade serve uses the store %s (it holds %s)", errStoreInUse, db, path)
			}
			return nil, fmt.Errorf("--db %s: lock %s: %w", db, path, err)
		}
		// A failed start removes the file it made while holding its lock:
		// a lock taken on a file no longer at path locks nothing.
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return &storeLock{f: f, created: os.IsNotExist(statErr)}, nil
		}
		f.Close()
	}
}

// release lets the lock go; failed says the start failed, so a lock file
// it made goes too (a failed first start keeps nothing).
func (l *storeLock) release(failed bool) {
	if failed && l.created {
		os.Remove(l.f.Name())
	}
	l.f.Close()
}
