package flowstore

import (
	"errors"
)

// Batches: every Append writes its records as one batch whose first line
// says how many lines the batch has (and, when the sender gave one, its
// token). A load keeps a batch only if all its lines are there: a crash
// (kill -9, power loss) in the middle of a write leaves some whole lines of
// a batch that was never acknowledged, and keeping them would store them
// twice once the sender sends the batch again. The token, written in the
// same write as the records, is what lets a retry be recognised after a
// crash: a batch whose answer was lost (the server killed after the sync,
// the connection cut) is sent again under the same token and answered
// from the first time.

// Batch names a batch of records for AppendBatch.
type Batch struct {
	Host  string // the host that sent it: tokens are the host's own
	Token string // "" keeps the batch without remembering it
	// Hash identifies the request the token was first used with: the
	// same token with another Hash is refused (ErrTokenReused).
	Hash string
	// Refused is how many records of the request the server refused
	// (not kept), given again in the answer to a retry.
	Refused int
}

// Kept is what a batch kept: the answer to its first sending and to any
// retry.
type Kept struct {
	Records int
	Refused int
}

// ErrTokenReused is a token sent again with another request.
var ErrTokenReused = errors.New("flow records: the token was used before for another batch")

// header is the field PalisadeBatch of a batch's first line.
type header struct {
	Records int // lines of the batch, this one included
	// Seq is the sequence number of the batch's first record (the next
	// lines' follow): the records of several hosts' files interleave, and
	// a restart numbers them as before, so that a position (Cursor) stays
	// valid. nil in the files of the former layout (one file for every
	// host, numbered by its name and its lines).
	Seq     *uint64 `json:",omitempty"`
	Host    string  `json:",omitempty"`
	Token   string  `json:",omitempty"`
	Hash    string  `json:",omitempty"`
	Refused int     `json:",omitempty"`
}

// line is a line of a segment file: a record, and on the first line of a
// batch its header.
type line struct {
	Record
	PalisadeBatch *header `json:",omitempty"`
}

// tokensPerHost is how many of a host's latest tokens are remembered. An
// agent ships one batch at a time and sends only that one again, so a
// few cover its retries, with room for a second agent of the same host
// (a restart that overlaps the old one's last try).
const tokensPerHost = 16

// tokens remembers each host's latest batches by token (a ring).
type tokens map[string]*ring

type ring struct {
	h    [tokensPerHost]header
	next int
}

func (t tokens) find(host, token string) (header, bool) {
	if r := t[host]; r != nil && token != "" {
		for _, h := range r.h {
			if h.Token == token {
				return h, true
			}
		}
	}
	return header{}, false
}

func (t tokens) add(h header) {
	if h.Token == "" {
		return
	}
	r := t[h.Host]
	if r == nil {
		r = &ring{}
		t[h.Host] = r
	}
	r.h[r.next] = h
	r.next = (r.next + 1) % tokensPerHost
}

// answer is a remembered batch's answer, or ErrTokenReused when b is
// another request under its token.
func (h header) answer(b Batch) (Kept, error) {
	if h.Hash != b.Hash {
		return Kept{}, ErrTokenReused
	}
	return Kept{Records: h.Records, Refused: h.Refused}, nil
}

// Sent returns the answer to a batch already kept under b's token (ok
// false: none was). AppendBatch checks again as it writes; this lets a
// caller answer a retry without redoing the work that precedes it.
func (s *Store) Sent(b Batch) (Kept, bool, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	h, ok := s.tokens.find(b.Host, b.Token)
	if !ok {
		return Kept{}, false, nil
	}
	k, err := h.answer(b)
	return k, true, err
}
