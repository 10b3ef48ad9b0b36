package console

import (
	"net/http"
	"net/url"
	"sync"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// A change's form is answered POST-redirect-GET: the form is kept here,
// under an ID, and the browser sent on to the preview's own address,
// which draws the preview (a dry run: safe to draw again). The preview
// was the answer to the POST, so Back after the apply (or a reload) asked
// the browser to send the form again. The apply form is still a POST with
// the session's CSRF token; once applied, the preview's address says so
// and offers no Apply: going back to it cannot apply the change twice.

// maxPreviews and maxPreviewBytes bound the previews kept in all,
// maxAccountPreviews and maxAccountPreviewBytes one account's (so that one
// tenant's sessions cannot push out every other tenant's), and
// maxSessionPreviews and maxSessionPreviewBytes one session's; the oldest
// go first. A form may be an import of a megabyte.
const (
	maxPreviews            = 1024
	maxPreviewBytes        = 64 * maxForm
	maxAccountPreviews     = 64
	maxAccountPreviewBytes = 16 * maxForm
	maxSessionPreviews     = 16
	maxSessionPreviewBytes = 4 * maxForm
)

// keptPreview is one change's form, as previewed by one session in one
// region.
type keptPreview struct {
	id, session, account, region string
	// form is the form without csrf, step, seen and preview, encoded: a
	// string of its own, as long as it is counted. (The parsed values
	// are substrings of the request's whole body, which they kept,
	// fields not kept and all, and ten thousand short fields take a map
	// many times their size.)
	form string
	// size is what it is counted as: its form's bytes and its refusal's.
	size int
	// changed: its apply found the account's resources changed since
	// its preview, and applied nothing; the preview is drawn again on
	// them, saying so.
	changed bool
	// done is what its apply did, once applied, and back the page its
	// Back leads to (a deleted group's is gone); refused, why its apply
	// was refused.
	done, back string
	refused    *refusal
	// applying: an apply of it runs (claim).
	applying bool
}

// refusal is a refused apply, as its page says it.
type refusal struct {
	err                *ecserr.Error
	what, partly, back string
}

// size is the bytes of a refusal's words, which may quote the form's
// fields (a megabyte ID in its message, its what and its Back).
func (r *refusal) size() int {
	if r == nil {
		return 0
	}
	n := len(r.what) + len(r.partly) + len(r.back)
	if r.err != nil {
		n += len(r.err.Code) + len(r.err.Message) + len(r.err.Field)
	}
	return n
}

type previewStore struct {
	mu    sync.Mutex
	m     map[string]*keptPreview
	order []string // oldest first
	bytes int      // their sizes, in all
}

// previewForm is the change's own fields of a form.
func previewForm(f url.Values) url.Values {
	out := url.Values{}
	for k, v := range f {
		if k != "csrf" && k != "step" && k != "seen" && k != "preview" {
			out[k] = v
		}
	}
	return out
}

// put keeps a form previewed by session s in region, or its apply's
// refusal r, and returns its ID.
func (ps *previewStore) put(s *session, region string, form url.Values, changed bool, r *refusal) string {
	k := &keptPreview{id: randomToken()[:22], session: s.id, account: s.account, region: region, form: form.Encode(), changed: changed, refused: r}
	k.size = len(k.form) + r.size()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m == nil {
		ps.m = map[string]*keptPreview{}
	}
	// The new one counts first; of the account's others, newest first,
	// those that would pass a bound go (never one being applied: its
	// claim must outlive it).
	n, bytes, an, abytes := 1, k.size, 1, k.size
	for i := len(ps.order) - 1; i >= 0; i-- {
		o := ps.m[ps.order[i]]
		if o.account != s.account {
			continue
		}
		mine := o.session == s.id
		over := an+1 > maxAccountPreviews || abytes+o.size > maxAccountPreviewBytes ||
			mine && (n+1 > maxSessionPreviews || bytes+o.size > maxSessionPreviewBytes)
		if over && !o.applying {
			ps.drop(i)
			continue
		}
		an, abytes = an+1, abytes+o.size
		if mine {
			n, bytes = n+1, bytes+o.size
		}
	}
	for i := 0; i < len(ps.order) && (len(ps.order) >= maxPreviews || ps.bytes+k.size > maxPreviewBytes); {
		if ps.m[ps.order[i]].applying {
			i++
			continue
		}
		ps.drop(i)
	}
	ps.m[k.id] = k
	ps.order = append(ps.order, k.id)
	ps.bytes += k.size
	return k.id
}

// values is the kept form.
func (k *keptPreview) values() url.Values {
	v, _ := url.ParseQuery(k.form) // Encode's, which it reads back
	return v
}

// drop forgets the preview at order[i] (under mu).
func (ps *previewStore) drop(i int) {
	ps.bytes -= ps.m[ps.order[i]].size
	delete(ps.m, ps.order[i])
	ps.order = append(ps.order[:i], ps.order[i+1:]...)
}

// get is a copy of session s's preview id in region, nil if it has none
// (another session's is none: the same answer).
func (ps *previewStore) get(s *session, id, region string) *keptPreview {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	k := ps.m[id]
	if k == nil || k.session != s.id || k.region != region {
		return nil
	}
	c := *k
	return &c
}

// claim marks session s's preview id of a region as being applied (an
// apply sent to another region's address is not its); false when it is
// applied or being applied already, or no longer kept: a second send of
// its apply (a double click, a retry, another tab) must not make the
// change twice, and sends of one that is gone could not be told apart.
func (ps *previewStore) claim(s *session, id, region string) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	k := ps.m[id]
	if k == nil || k.session != s.id || k.region != region {
		return false
	}
	if k.applying || k.done != "" {
		return false
	}
	k.applying = true
	return true
}

// release ends session s's claim on preview id: applied (done, with the
// page its Back leads to) or not (done "": it may be applied again).
func (ps *previewStore) release(s *session, id, done, back string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if k := ps.m[id]; k != nil && k.session == s.id {
		k.applying, k.done, k.back = false, done, back
	}
}

// previewPage draws a kept preview: the change on the resources as they
// are now, or, once applied, what its apply did; or an apply's refusal.
func (c *Console) previewPage(p *page) {
	k := c.previews.get(p.s, p.r.PathValue("id"), p.region)
	if k == nil {
		c.notFound(p, "No change of this session was previewed at this address (it may have expired, or been signed out): make the change again.")
		return
	}
	if r := k.refused; r != nil {
		data := map[string]any{"Err": r.err, "Partly": r.partly, "Back": r.back}
		if r.what != "" {
			data["Change"] = &pendingChange{What: r.what}
		}
		c.render(p.w, r.err.Status, "preview", c.base(p, "Refused", data))
		return
	}
	if k.done != "" {
		c.render(p.w, http.StatusOK, "preview", c.base(p, "Applied", map[string]any{"Done": k.done, "Back": k.back}))
		return
	}
	if k.applying { // a second send of its apply, while the first runs
		c.render(p.w, http.StatusOK, "preview", c.base(p, "Applying", map[string]any{
			"Done": "This change is being applied: reload this page in a moment to see what it did.", "Back": c.backOf(p, k.values())}))
		return
	}
	c.previewChange(p, k.values(), k.id, k.changed)
}
