package console

import (
	"fmt"
	"net/url"
	"testing"
)

// TestApplyingPreviewOutlivesFloods: a preview being applied is kept
// through any flood of previews (its session's, its account's, every
// account's): its claim must outlive the apply, or a second send of it
// could not be told from a first. Once released it goes as any other.
func TestApplyingPreviewOutlivesFloods(t *testing.T) {
	form := url.Values{"op": {"create-group"}, "name": {"x"}}
	for _, tc := range []struct {
		name  string
		flood func(ps *previewStore, mine *session)
	}{
		{"its session", func(ps *previewStore, mine *session) {
			for range 2 * maxSessionPreviews {
				ps.put(mine, "cn-hangzhou", form, false, nil)
			}
		}},
		{"its account", func(ps *previewStore, mine *session) {
			for i := range 2 * maxAccountPreviews {
				ps.put(&session{id: fmt.Sprint("s", i), account: mine.account}, "cn-hangzhou", form, false, nil)
			}
		}},
		{"every account", func(ps *previewStore, mine *session) {
			for i := range 2 * maxPreviews {
				ps.put(&session{id: fmt.Sprint("s", i), account: fmt.Sprint("a", i%(2*maxPreviews/maxAccountPreviews))}, "cn-hangzhou", form, false, nil)
			}
		}},
		{"every account, a megabyte each", func(ps *previewStore, mine *session) {
			big := url.Values{"rules": {string(make([]byte, maxForm-100))}}
			for i := range 2 * maxPreviewBytes / maxForm {
				ps.put(&session{id: fmt.Sprint("s", i), account: fmt.Sprint("a", i%(4*maxPreviewBytes/maxAccountPreviewBytes))}, "cn-hangzhou", big, false, nil)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := &previewStore{}
			mine := &session{id: "mine", account: "acct"}
			id := ps.put(mine, "cn-hangzhou", form, false, nil)
			if !ps.claim(mine, id, "cn-hangzhou") {
				t.Fatal("no claim")
			}
			tc.flood(ps, mine)
			if k := ps.get(mine, id, "cn-hangzhou"); k == nil || !k.applying {
				t.Fatalf("the preview being applied is gone: %+v", k)
			}
			if ps.claim(mine, id, "cn-hangzhou") {
				t.Error("a second claim of a preview being applied")
			}
			if len(ps.order) > maxPreviews || ps.bytes > maxPreviewBytes {
				t.Errorf("%d previews of %d bytes kept, past the bounds", len(ps.order), ps.bytes)
			}
			ps.release(mine, id, "done", "")
			if k := ps.get(mine, id, "cn-hangzhou"); k == nil || k.done != "done" || ps.claim(mine, id, "cn-hangzhou") {
				t.Errorf("released: %+v; claimed again", k)
			}
			tc.flood(ps, mine)
			if ps.get(mine, id, "cn-hangzhou") != nil {
				t.Error("a released preview outlived a flood")
			}
		})
	}
}
