package sqlite

import (
	"bytes"
	"strings"
	"testing"
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
