package server

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestBootstrapKeys: the first start makes the operator's key and the first
// tenant's (each to be shown once), a second start makes none; a start
// whose bootstrap fails keeps no store behind.
func TestBootstrapKeys(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	stop := func(s *Server) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.Serve(ctx)
	}
	db := filepath.Join(t.TempDir(), "p.db")
	// The same ID for both keys: the tenant's cannot be made, so nothing is.
	bad := Config{Listen: "127.0.0.1:0", DB: db, Log: quiet, OperatorKeyID: "LTAIsame", OperatorKeySecret: "a", AccessKeyID: "LTAIsame", AccessKeySecret: "b"}
	if _, err := Open(context.Background(), bad); err == nil {
		t.Fatal("a start with one ID for both keys succeeded")
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("the failed start left the store %s behind (%v)", db, err)
	}
	for i, tt := range []struct{ wantNew bool }{{true}, {false}} {
		s, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DB: db, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		stop(s)
		if s.OperatorKeyIsNew != tt.wantNew || s.KeyIsNew != tt.wantNew || s.OperatorKey.ID == "" || s.Key.ID == "" ||
			s.OperatorKey.Account == s.Key.Account {
			t.Fatalf("start %d: operator %+v (new %v), tenant %+v (new %v)", i, s.OperatorKey, s.OperatorKeyIsNew, s.Key, s.KeyIsNew)
		}
	}
}
