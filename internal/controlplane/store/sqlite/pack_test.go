package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// TestPack: every document reads back as written, and the stored form is
// compressed only when that pays.
func TestPack(t *testing.T) {
	group := []byte(`{"id":"sg-1","rules":[` + strings.Repeat(`{"direction":"ingress","policy":"accept","priority":1},`, 40) + `{}]}`)
	for _, tc := range []struct {
		name       string
		doc        []byte
		compressed bool
	}{
		{"empty", []byte{}, false},
		{"small JSON", []byte(`{"a":1}`), false},
		{"group", group, true},
		{"starts with the S2 tag", append([]byte{tagS2}, group...), true},
		{"small, starts with the S2 tag", []byte{tagS2, 'x'}, false},
		{"small, starts with the raw tag", []byte{tagRaw}, false},
		{"incompressible", noise(4096), false},
		{"incompressible, starts with a tag", append([]byte{tagRaw}, noise(4096)...), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stored := pack(tc.doc)
			if got := len(stored) > 0 && stored[0] == tagS2; got != tc.compressed {
				t.Errorf("compressed %v, want %v (%d → %d bytes)", got, tc.compressed, len(tc.doc), len(stored))
			}
			if tc.compressed && len(stored) >= len(tc.doc)/2 {
				t.Errorf("%d → %d bytes: want under half", len(tc.doc), len(stored))
			}
			back, err := unpack(stored)
			if err != nil || !bytes.Equal(back, tc.doc) {
				t.Errorf("unpack(pack(doc)) = %.40q, %v; want the document", back, err)
			}
		})
	}
	// A JSON document stored before packing reads as it is.
	if back, err := unpack(group); err != nil || !bytes.Equal(back, group) {
		t.Errorf("unpack of a document stored as it is: %v", err)
	}
	if _, err := unpack([]byte{tagS2, 0xff, 0xff, 0xff, 0xff, 0x0f}); err == nil {
		t.Error("unpack of a corrupt S2 block succeeded")
	}
}

// noise is n bytes that do not compress.
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// FuzzPack: pack and unpack are inverse, and unpack never panics on any
// stored bytes.
func FuzzPack(f *testing.F) {
	f.Add([]byte(`{"a":1}`))
	f.Add(append([]byte{tagS2}, bytes.Repeat([]byte("ab"), 400)...))
	f.Add([]byte{tagRaw, tagS2})
	f.Fuzz(func(t *testing.T, doc []byte) {
		back, err := unpack(pack(doc))
		if err != nil || !bytes.Equal(back, doc) {
			t.Fatalf("unpack(pack(%q)) = %q, %v", doc, back, err)
		}
		unpack(doc) // stored bytes of any shape: an error, not a panic
	})
}

// TestBatchPackKeepsData writes, in one batch, documents stored as they
// are and compressed ones in every order, and checks that the documents
// handed to Put are unchanged after (the batch packs into one reused
// buffer, which must never be a record's own) and read back whole.
func TestBatchPackKeepsData(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "s.db"))
	ctx := context.Background()
	small := []byte(`{"a":1}`)
	big := bytes.Repeat([]byte(`{"rule":"accept tcp 22"},`), 60)
	tagged := append([]byte{tagS2}, small...)
	docs := [][]byte{small, big, tagged, small, big, big, tagged}
	var kept [][]byte
	_, err := s.Update(ctx, func(tx store.Tx) error {
		for i, d := range docs {
			// Room past its end, as an encoder's buffer has: a packer
			// that took it for its own would write there.
			d = append(make([]byte, 0, 8192), d...)
			kept = append(kept, d)
			if err := tx.Put(store.Record{Kind: "thing", ID: fmt.Sprint(i), Account: "1", Region: "r", Data: d}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx store.ReadTx) error {
		for i, d := range docs {
			if !bytes.Equal(kept[i], d) {
				t.Errorf("document %d handed to Put was changed: %.40q", i, kept[i])
			}
			r, ok, err := tx.Get("thing", fmt.Sprint(i))
			if err != nil || !ok || !bytes.Equal(r.Data, d) {
				t.Errorf("document %d read back: %.40q, %v, %v", i, r.Data, ok, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
