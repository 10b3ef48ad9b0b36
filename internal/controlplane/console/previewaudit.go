package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// A preview's audit diff needs the audit of the cloud as the change would
// leave it. It is moved forward from the newest audit kept (only what the
// change reaches is audited again, see analyze.AuditAfterFrom), but even
// that may take longer than a page may. So it runs in the background,
// beside the change's plan; the preview waits for it until previewBudget
// from its start and otherwise says it is being computed, and its script
// (or a link, without scripts) fetches it from the diff's own address once
// ready. Findings from an earlier audit are never shown as the change's.

// previewBudget is how long a preview waits for its audit diff.
const previewBudget = 50 * time.Millisecond

// diffWait is how long the diff's address holds a request for the diff
// (then it answers that it is still computed, and the script asks again).
// A variable: tests shorten it.
var diffWait = 20 * time.Second

// maxDiffJobs bounds the diffs kept (the oldest is dropped first);
// maxAccountDiffs bounds one account's diffs not yet done (its oldest is
// ended first): the diffs run one at a time, so without it one account's
// sessions (it may hold a hundred) could queue a hundred audits before
// another account's one; diffTimeout bounds how long one may take.
const (
	maxDiffJobs     = 256
	maxAccountDiffs = 4
	diffTimeout     = 2 * time.Minute
)

// diffJob is one preview's audit diff, for the session that asked it.
type diffJob struct {
	session string
	account string
	cancel  context.CancelFunc
	ended   bool          // cancelled here, under diffJobs.mu
	done    chan struct{} // closed when val or err is set
	val     auditDiff
	err     error
}

type diffJobs struct {
	mu    sync.Mutex
	m     map[string]*diffJob
	order []string
}

// startAuditDiff starts computing what pc does to the audit of the
// session's account and returns the job's ID.
func (c *Console) startAuditDiff(ctx context.Context, s *session, cl service.Caller, pc *pendingChange) (string, *diffJob) {
	b := make([]byte, 16)
	rand.Read(b)
	id := hex.EncodeToString(b)
	bctx, cancel := context.WithTimeout(analyze.Ahead(context.WithoutCancel(ctx)), diffTimeout)
	j := &diffJob{session: s.id, account: s.account, cancel: cancel, done: make(chan struct{})}
	d := &c.diffs
	d.mu.Lock()
	if d.m == nil {
		d.m = map[string]*diffJob{}
	}
	// A session's newer preview ends the diff of its older one, so that a
	// stream of previews cannot queue audits; an account's diffs past its
	// bound end from the oldest (they answer PreviewSuperseded).
	var running []*diffJob // the account's, oldest first
	for _, id := range d.order {
		o := d.m[id]
		if o.session == s.id {
			o.end()
		} else if o.account == s.account && !o.ended && !o.finished() {
			running = append(running, o)
		}
	}
	for _, o := range running[:max(0, len(running)-(maxAccountDiffs-1))] {
		o.end()
	}
	if len(d.order) >= maxDiffJobs {
		d.m[d.order[0]].end()
		delete(d.m, d.order[0])
		d.order = d.order[1:]
	}
	d.m[id] = j
	d.order = append(d.order, id)
	d.mu.Unlock()
	go func() {
		defer close(j.done)
		defer cancel()
		// The audit before and the one after, both from the newest audit
		// kept, at one revision: only what changed since it, and what
		// the change reaches, is audited. It takes the console's slot for
		// work ahead.
		select {
		case c.cache.ahead <- struct{}{}:
		case <-bctx.Done():
			j.err = bctx.Err()
			return
		}
		defer func() { <-c.cache.ahead }()
		names := c.previewNames(pc)
		before, after, base, err := c.analysis.AuditAfterFrom(bctx, cl, pc.Run, c.auditOptions(), c.cache.auditBase(), names)
		c.cache.keepBase(base)
		if err != nil {
			j.err = err
			return
		}
		if base.Revision() > 0 {
			c.cache.put("audit|"+cl.Account+"|"+cl.Region, base.Revision(), before)
		}
		j.val = diffFindings(cloudFindings(before.Findings), after)
	}()
	return id, j
}

// end cancels the job (under diffJobs.mu).
func (j *diffJob) end() { j.cancel(); j.ended = true }

// finished reports whether the job is done.
func (j *diffJob) finished() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// flowLogChecks judge the flow logs the server keeps, not the cloud: the
// audit after a change (analyze.AuditAfterFrom) judges the cloud only and
// has none of their findings, so a diff against the audit now, which has
// them, listed each as resolved by any change.
var flowLogChecks = map[string]bool{"SGA-033": true, "SGA-034": true}

// cloudFindings are the findings of fs that judge the cloud.
func cloudFindings(fs []audit.Finding) []audit.Finding {
	var out []audit.Finding
	for _, f := range fs {
		if !flowLogChecks[f.Check] {
			out = append(out, f)
		}
	}
	return out
}

// diffFindings lists the findings after that were not before (Added) and
// those before that are not after (Removed). A finding whose words change
// but which stays is neither: some name the rule's match fields (an edit
// of its ports listed its SGA-018 as new and as resolved), some count a
// group's rules or members (a rule added did so with SGA-020). Such a
// finding is known by findingKey, which those changes keep.
func diffFindings(before, after []audit.Finding) auditDiff {
	old := map[audit.Finding]int{} // a finding is plain data: comparable
	for _, f := range before {
		old[f]++
	}
	var added []audit.Finding
	for _, f := range after {
		if old[f] > 0 {
			old[f]--
		} else {
			added = append(added, f)
		}
	}
	// What is left before, by key, in order, for the findings left after.
	left := map[findingKey][]audit.Finding{}
	for _, f := range before {
		if old[f] > 0 {
			old[f]--
			left[keyOf(f)] = append(left[keyOf(f)], f)
		}
	}
	var out auditDiff
	for _, f := range added {
		if k := keyOf(f); len(left[k]) > 0 {
			left[k] = left[k][1:] // the same finding, in other words
		} else {
			out.Added = append(out.Added, f)
		}
	}
	for _, f := range before {
		if k := keyOf(f); len(left[k]) > 0 && left[k][0] == f {
			out.Removed = append(out.Removed, f)
			left[k] = left[k][1:]
		}
	}
	return out
}

// findingKey is what stays of a finding when the change keeps it: its
// check, severity (a worse one is a new finding) and resource; for the
// checks whose words describe what they find without being it
// (describedChecks), the rule it names, whose ID an edit keeps, else its
// words, numbers aside (a group's count of rules or members); for an
// exposure, its rule and its gist (the ports and the internet it opens,
// not the members it reaches: one joining keeps it); for the others, all
// its words.
type findingKey struct {
	check, resource, rule, words string
	severity                     audit.Severity
}

// describedChecks are the checks whose finding stays what it is when its
// words change: a rule without a description (SGA-018) whatever its ports,
// an over-broad internal rule (SGA-010), unrestricted egress (SGA-009),
// open intra-group traffic (SGA-012) or a CIDR where a group would do
// (SGA-011) whatever the rule's fields or members, a group's rule or
// member count (SGA-009, -012, -015, -020) whatever the number. An
// exposure's ports are what it is (SGA-004 lists the ports a rule opens
// to the internet: an edit from 3306 to 6379 closes one and opens another).
var describedChecks = map[string]bool{"SGA-009": true, "SGA-010": true, "SGA-011": true, "SGA-012": true, "SGA-015": true, "SGA-018": true, "SGA-020": true}

var digits = regexp.MustCompile(`[0-9]+`)

func keyOf(f audit.Finding) findingKey {
	k := findingKey{check: f.Check, severity: f.Severity, resource: f.Resource}
	switch {
	case f.Gist != "":
		k.rule, k.words = f.RuleID, f.Gist
	case !describedChecks[f.Check]:
		k.words = f.Message
	case f.RuleID != "":
		k.rule = f.RuleID
	default:
		k.words = digits.ReplaceAllString(f.Message, "#")
	}
	return k
}

// auditDiffPage shows a preview's audit diff once computed; only the
// session that asked the preview may read it.
func (c *Console) auditDiffPage(p *page) {
	id := p.r.PathValue("id")
	c.diffs.mu.Lock()
	j := c.diffs.m[id]
	c.diffs.mu.Unlock()
	if j == nil || j.session != p.s.id {
		c.notFound(p, "No preview of this session has this audit diff (it may have expired: preview the change again).")
		return
	}
	wait := time.NewTimer(diffWait)
	defer wait.Stop()
	data, status := map[string]any{}, http.StatusOK
	select {
	case <-j.done:
		if j.err != nil {
			e := c.asECS(j.err)
			if errors.Is(j.err, context.Canceled) || errors.Is(j.err, context.DeadlineExceeded) {
				e = ecserr.New(http.StatusConflict, "PreviewSuperseded", "This audit diff was not finished: a newer preview of this session replaced it, the account's other sessions asked for more diffs at once than one account may, or it took too long. Preview the change again.")
			}
			data["Err"], status = e, e.Status
		} else {
			data["Audit"] = j.val
		}
	case <-wait.C:
		data["Pending"] = p.link("change/audit/" + id)
	case <-p.ctx().Done():
		return
	}
	c.render(p.w, status, "auditdiff", c.base(p, "Audit findings of the change", data))
}
