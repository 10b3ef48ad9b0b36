package analyze

import (
	"strconv"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Made is what a change's dry run made, by the dry run's IDs (which the
// applied change does not give them): the groups it created, in the order
// it wrote them, and the rules it added, to those groups or others, each
// group's in its order (an authorization's in the order given). Only the
// dry run's own writes count: not what other requests committed while it
// ran, which the cloud after it holds too.
type Made struct {
	Groups []string
	Rules  []MadeRule
}

// MadeRule is a rule a dry run added, in group Group.
type MadeRule struct {
	Group string
	Rule  model.Rule
}

// Names names what a change made, by its dry-run ID, as the change's
// preview calls it; nil is Numbered.
type Names func(Made) map[string]string

// Numbered names what a change made "new group N" and "new rule N", in
// the order it made them.
func Numbered(m Made) map[string]string {
	out := map[string]string{}
	for i, id := range m.Groups {
		out[id] = "new group " + strconv.Itoa(i+1)
	}
	for i, r := range m.Rules {
		out[r.Rule.ID] = "new rule " + strconv.Itoa(i+1)
	}
	return out
}

// namesOf is names(m), Numbered for nil.
func namesOf(names Names, m Made) map[string]string {
	if names == nil {
		names = Numbered
	}
	return names(m)
}

// wrote is what one Update of a dry run wrote: the records, in the order
// first written, and each group among them as the transaction held it
// before (nil: the write made it).
type wrote struct {
	refs   []view.Ref
	groups map[string]*model.SecurityGroup
}

// note adds ref to w, reading a group's state before its first write
// from tx (which must not hold the write yet).
func (w *wrote) note(tx store.ReadTx, ref view.Ref) error {
	if ref.Kind == service.KindGroup {
		if _, seen := w.groups[ref.ID]; !seen {
			g, err := objectOf[model.SecurityGroup](tx, ref.Kind, ref.ID)
			if err != nil {
				return err
			}
			if w.groups == nil {
				w.groups = map[string]*model.SecurityGroup{}
			}
			w.groups[ref.ID] = g
		}
	}
	w.refs = append(w.refs, ref)
	return nil
}

// made is what w made, in after (the cloud as the write leaves it).
func (w *wrote) made(after *policy.Cloud) Made {
	var m Made
	for _, ref := range w.refs {
		if ref.Kind != service.KindGroup {
			continue
		}
		g, old := after.Groups[ref.ID], w.groups[ref.ID]
		if g == nil { // deleted
			continue
		}
		had := map[string]bool{}
		if old == nil {
			m.Groups = append(m.Groups, g.ID)
		} else {
			for i := range old.Rules {
				had[old.Rules[i].ID] = true
			}
		}
		for _, r := range g.Rules {
			if !had[r.ID] {
				m.Rules = append(m.Rules, MadeRule{Group: g.ID, Rule: r})
			}
		}
	}
	return m
}
