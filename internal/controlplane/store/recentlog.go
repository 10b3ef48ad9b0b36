package store

import (
	"cmp"
	"slices"
)

// RecentLimit bounds the changes a backend keeps in memory for Recent
// (whole revisions: a revision over the limit is kept whole).
const RecentLimit = 256

// RecentLog is a backend's memory of its latest commits with the records
// as written, behind Recent: the changes of revisions From+1 … To,
// contiguous. It is not safe for concurrent use (the backend holds its
// lock), and it knows nothing until Reset or the first Append.
type RecentLog struct {
	log      []Written
	From, To int64
	known    bool
}

// Reset makes the log know the state at revision rev, with no changes.
func (l *RecentLog) Reset(rev int64) { *l = RecentLog{From: rev, To: rev, known: true} }

// Append adds a committed batch (revisions base+1 … rev). A batch that
// does not follow To (another process committed in between) restarts the
// log at base; restarted says so.
func (l *RecentLog) Append(base, rev int64, written []Written) (restarted bool) {
	if !l.known || base != l.To {
		l.log, l.From, l.known, restarted = nil, base, true, true
	}
	l.log = append(l.log, written...)
	l.To = rev
	if len(l.log) > RecentLimit {
		cut := len(l.log) - RecentLimit
		for cut < len(l.log) && l.log[cut].Revision == l.log[cut-1].Revision {
			cut++
		}
		l.From = l.log[cut-1].Revision
		// A reslice, not a copy per batch: the next growth of the array
		// copies what is kept and lets the dropped head go.
		l.log = l.log[cut:]
	}
	return restarted
}

// Since returns the changes with Revision > after, in order (shared: do not
// modify), and false when the log does not reach back to after.
func (l *RecentLog) Since(after int64) ([]Written, bool) {
	if !l.known || after < l.From || after > l.To {
		return nil, false
	}
	i, _ := slices.BinarySearchFunc(l.log, after+1, func(w Written, rev int64) int {
		return cmp.Compare(w.Revision, rev)
	})
	return l.log[i:len(l.log):len(l.log)], true
}
