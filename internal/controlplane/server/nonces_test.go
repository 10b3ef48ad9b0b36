package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/signature"
)

// TestNoncesAcrossRestarts: a graceful restart keeps the replay cache; a
// restart without it (a crash) refuses everything signed before the start.
func TestNoncesAcrossRestarts(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	if _, nb := loadNonces(db, true, 0); !nb.IsZero() {
		t.Fatal("a fresh store needs no start-time cut-off")
	}
	before := time.Now()
	if _, nb := loadNonces(db, false, 0); nb.Before(before) {
		t.Fatalf("after a crash the cut-off must be the start time, got %v", nb)
	}

	s := &Server{db: db, nonces: signature.NewNonceCache(0)}
	now := time.Now()
	if err := s.nonces.Use("key\x00nonce-1", now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.saveNonces(); err != nil {
		t.Fatal(err)
	}
	c, nb := loadNonces(db, false, 0)
	if !nb.IsZero() {
		t.Fatal("with saved nonces no cut-off is needed")
	}
	if err := c.Use("key\x00nonce-1", now, now.Add(time.Hour)); err != signature.ErrNonceUsed {
		t.Fatalf("a nonce used before the restart was accepted again: %v", err)
	}
	if _, err := os.Stat(noncesFile(db)); !os.IsNotExist(err) {
		t.Fatal("the saved nonces must be removed once loaded, so a later crash does not trust them")
	}
}
