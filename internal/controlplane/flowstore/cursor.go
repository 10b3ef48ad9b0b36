package flowstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/atomicfile"
)

// A record's sequence number is shared by every account of the store:
// two of a tenant's positions in plain numbers would tell it how many
// records of other tenants came in between. So a position leaves the
// server sealed (AES-GCM under a key of this store, bound to the account
// it was made for): opaque to the tenant, and refused for another
// account or from another store.

// cursorKeyName is the file of the sealing key: a position handed out
// before a restart still reads after it.
const cursorKeyName = "cursor.key"

// cursorKeyLen is an AES-256 key's length.
const cursorKeyLen = 32

// maxCursorLen bounds a position read from a client before it is decoded:
// a sealed one is base64 of nonce, 8 bytes and tag.
const maxCursorLen = 64

// CursorText reports whether c is text a position can be: another
// server's answer is checked with it before its positions go into a token.
func CursorText(c string) bool {
	return c != "" && len(c) <= maxCursorLen && strings.IndexFunc(c, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') // base64.RawURLEncoding
	}) < 0
}

// newSealer makes the AEAD of key.
func newSealer(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// loadCursorKey reads the store's sealing key, or makes one (a missing or
// unreadable key only makes positions handed out before unreadable: a
// caller pages again from the newest).
func (s *Store) loadCursorKey() error {
	path := filepath.Join(s.opt.Dir, cursorKeyName)
	key := make([]byte, cursorKeyLen+1)
	f, err := openFile(path, os.O_RDONLY, 0)
	if err == nil {
		n, _ := f.Read(key)
		f.Close()
		if n == cursorKeyLen {
			return s.setCursorKey(key[:n])
		}
		s.opt.Log.Warn("flow records: unreadable position key; positions handed out before are refused", "path", path)
		if err := removeFile(path); err != nil {
			return fmt.Errorf("flow records: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("flow records: %w", err)
	}
	key = key[:cursorKeyLen]
	rand.Read(key)
	if err := atomicfile.WriteBytes(path, key, 0o600); err != nil {
		return fmt.Errorf("flow records: %w", err)
	}
	syncDir(s.opt.Dir)
	return s.setCursorKey(key)
}

func (s *Store) setCursorKey(key []byte) error {
	a, err := newSealer(key)
	if err != nil {
		return fmt.Errorf("flow records: position key: %w", err)
	}
	s.sealer = a
	return nil
}

// Cursor is the position of account's record numbered seq (OfSeq), as
// handed to that account: opaque, and read back only by ParseCursor of
// this store for the same account.
func (s *Store) Cursor(account string, seq uint64) string {
	a := s.sealer
	buf := make([]byte, a.NonceSize(), a.NonceSize()+8+a.Overhead())
	rand.Read(buf)
	buf = a.Seal(buf, buf, binary.BigEndian.AppendUint64(nil, seq), []byte(account))
	return base64.RawURLEncoding.EncodeToString(buf)
}

// ParseCursor reads a position Cursor made for account; ok is false for
// anything else (made up, changed, another account's, another store's).
func (s *Store) ParseCursor(account, c string) (seq uint64, ok bool) {
	a := s.sealer
	if len(c) > maxCursorLen {
		return 0, false
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != a.NonceSize()+8+a.Overhead() {
		return 0, false
	}
	plain, err := a.Open(nil, b[:a.NonceSize()], b[a.NonceSize():], []byte(account))
	if err != nil {
		return 0, false
	}
	return binary.BigEndian.Uint64(plain), true
}
