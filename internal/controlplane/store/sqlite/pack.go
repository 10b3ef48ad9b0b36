package sqlite

import (
	"fmt"

	"github.com/klauspost/compress/s2"
)

// Documents are stored compressed (S2, a faster Snappy) when that pays:
// a group's JSON shrinks about fivefold, so a rule change rewrites one
// page of the table instead of a page and its overflow, and each commit's
// log, which its fsync waits for, is smaller. The first byte tells the
// forms apart; a JSON document never starts with either tag, so documents
// written before are read as they are.
const (
	tagS2  = 0x00 // S2 block follows
	tagRaw = 0x01 // the document follows as it is (it starts with a tag byte)

	// packMin is the shortest document worth compressing: below it the
	// row fits its page anyway.
	packMin = 512
)

// pack is the stored form of a document.
func pack(data []byte) []byte {
	stored, _ := packInto(nil, data)
	return stored
}

// packInto is pack writing the stored form into buf's array (grown when
// too small) when it is not data itself: the writer packs every record of
// a batch into one buffer, since SQLite copies what it binds. It returns
// the stored form and the buffer to pass next, never data, which belongs
// to the record.
func packInto(buf, data []byte) (stored, next []byte) {
	if n := s2.MaxEncodedLen(len(data)); len(data) >= packMin && n > 0 {
		if cap(buf) < 1+n {
			buf = make([]byte, 1+n)
		}
		enc := s2.Encode(buf[1:1+n], data) // in buf: it is large enough
		if len(enc) < len(data)*9/10 {
			buf[0] = tagS2
			return buf[:1+len(enc)], buf
		}
	}
	if len(data) > 0 && (data[0] == tagS2 || data[0] == tagRaw) {
		buf = append(append(buf[:0], tagRaw), data...)
		return buf, buf
	}
	return data, buf
}

// unpack is the document of a stored form.
func unpack(stored []byte) ([]byte, error) {
	if len(stored) == 0 {
		return stored, nil
	}
	switch stored[0] {
	case tagS2:
		n, err := s2.DecodedLen(stored[1:])
		if err == nil && n > maxData {
			err = fmt.Errorf("a document of %d bytes", n)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: a stored document does not decode: %w", err)
		}
		return s2.Decode(make([]byte, n), stored[1:])
	case tagRaw:
		return stored[1:], nil
	}
	return stored, nil
}
