package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// A rule change rewrites its whole group, and encoding the group's rules
// is most of what storing it costs; all but the changed rules were encoded
// by the previous write of the group already. groupJSON keeps the last
// JSON of groups written lately, by ID, with the rules it was made of and
// where each rule's JSON lies in it: the next encoding of the group takes
// the JSON of every rule equal to the one at (or just past) the same place
// from there, and encodes only the others (the group's own fields too,
// when they are unchanged). The rules kept are the written group's own,
// not a copy (a copy per write was a fifth of a rule write's allocation):
// a value handed to the store is not modified after (see PutGroup and
// view.VerifyObjects), and a rule is compared by value with the next ones
// only where it is not the same memory, so an edit in place of the very
// rules encoded last is encoded anew.
var groupJSON struct {
	mu    sync.Mutex
	m     map[string]*groupEnc
	rules int // rules kept in m
}

// groupEnc is one group's JSON, immutable once kept.
type groupEnc struct {
	shell model.SecurityGroup // the group without its rules, as encoded
	head  int                 // data[:head] is the shell's JSON up to the rules' '['
	rules []model.Rule        // as encoded (the written group's, read only)
	data  []byte              // the whole group
	spans []ruleSpan          // rules[i]'s JSON is data[spans[i].from:spans[i].to]
}

type ruleSpan struct{ from, to int32 }

// groupJSONMax bounds the groups and rules kept (a few MiB: each entry
// counts one plus its rules); the cache starts over when full.
const groupJSONMax = 8192

func cachedGroup(id string) *groupEnc {
	groupJSON.mu.Lock()
	defer groupJSON.mu.Unlock()
	return groupJSON.m[id]
}

func keepGroup(id string, e *groupEnc) {
	groupJSON.mu.Lock()
	defer groupJSON.mu.Unlock()
	if old := groupJSON.m[id]; old != nil {
		groupJSON.rules -= 1 + len(old.rules)
	}
	if groupJSON.m == nil || groupJSON.rules+1+len(e.rules) > groupJSONMax {
		groupJSON.m, groupJSON.rules = map[string]*groupEnc{}, 0
	}
	groupJSON.m[id] = e
	groupJSON.rules += 1 + len(e.rules)
}

// rulesTail is how json.Marshal ends a group without rules: Rules is its
// last field.
const rulesTail = `"rules":null}`

// reuseWindow is how far past a rule's place in the kept encoding its
// equal is looked for: a revoke shifts the rules after it by one (by a
// few when several rules go).
const reuseWindow = 4

// encodeGroup returns json.Marshal(g), byte for byte: the group without
// its rules, then each rule's JSON (from the group's last encoding when
// the rule is unchanged). Should Rules not be the last field any more, it
// is json.Marshal(g).
func encodeGroup(g *model.SecurityGroup) ([]byte, error) {
	if g.Rules == nil {
		return json.Marshal(g)
	}
	shell := *g
	shell.Rules = nil
	prev := cachedGroup(g.ID)
	var out []byte
	if prev != nil && sameShell(&prev.shell, &shell) {
		out = make([]byte, 0, len(prev.data)+256)
		out = append(out, prev.data[:prev.head]...)
	} else {
		head, err := json.Marshal(&shell)
		if err != nil {
			return nil, err
		}
		if !bytes.HasSuffix(head, []byte(rulesTail)) {
			return json.Marshal(g)
		}
		out = make([]byte, 0, len(head)+256*len(g.Rules))
		out = append(out, head[:len(head)-len("null}")]...)
		out = append(out, '[')
	}
	head := len(out)
	spans := make([]ruleSpan, len(g.Rules))
	// Rules that follow each other in prev as here are copied as one run
	// of its bytes, commas included: run is prev.data[runFrom:runTo],
	// to go at out[runAt:], prevK the prev index of its last rule.
	runFrom, runTo, runAt, prevK := 0, 0, 0, -2
	flush := func() {
		out = append(out, prev.data[runFrom:runTo]...)
		runTo = runFrom
	}
	next := 0 // where in prev the next rule is looked for
	for i := range g.Rules {
		r := &g.Rules[i]
		k := -1
		if prev != nil {
			for j := next; j < len(prev.rules) && j <= next+reuseWindow; j++ {
				if p := &prev.rules[j]; p != r && *p == *r {
					k = j
					break
				}
			}
		}
		if k >= 0 && k == prevK+1 && runTo > runFrom {
			// Extends the run: this rule and the comma before it.
			s := prev.spans[k]
			runTo = int(s.to)
			spans[i] = ruleSpan{int32(runAt + int(s.from) - runFrom), int32(runAt + int(s.to) - runFrom)}
			prevK, next = k, k+1
			continue
		}
		if runTo > runFrom {
			flush()
		}
		if i > 0 {
			out = append(out, ',')
		}
		if k >= 0 {
			s := prev.spans[k]
			runFrom, runTo, runAt = int(s.from), int(s.to), len(out)
			spans[i] = ruleSpan{int32(runAt), int32(runAt + int(s.to-s.from))}
			prevK, next = k, k+1
			continue
		}
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		spans[i] = ruleSpan{int32(len(out)), int32(len(out) + len(b))}
		out = append(out, b...)
		prevK = -2
	}
	if runTo > runFrom {
		flush()
	}
	out = append(out, ']', '}')
	// A group without rules has nothing worth reusing.
	if g.ID != "" && len(g.Rules) > 0 && len(out) < 1<<30 {
		shell.Tags = slices.Clone(shell.Tags)
		keepGroup(g.ID, &groupEnc{shell: shell, head: head, rules: g.Rules, data: out, spans: spans})
	}
	return out, nil
}

// sameShell reports whether two groups without their rules are the same
// value, so the same JSON (TestSameShell holds it to every field).
func sameShell(a, b *model.SecurityGroup) bool {
	return a.ID == b.ID && a.Region == b.Region && a.Owner == b.Owner && a.Name == b.Name &&
		a.Description == b.Description && a.Type == b.Type && a.VpcID == b.VpcID &&
		a.InnerAccessPolicy == b.InnerAccessPolicy && a.ResourceGroupID == b.ResourceGroupID &&
		slices.Equal(a.Tags, b.Tags) && a.Created == b.Created && a.Rules == nil && b.Rules == nil
}

// PutGroup stores a security group. g is the store's from then on (the
// view's value once committed): the caller does not modify it after.
func PutGroup(tx store.Tx, g *model.SecurityGroup) error {
	data, err := encodeGroup(g)
	if err != nil {
		return fmt.Errorf("store: encode %s/%s: %w", KindGroup, g.ID, err)
	}
	return tx.Put(store.Record{Kind: KindGroup, ID: g.ID, Account: g.Owner, Region: g.Region, Data: data, Object: g})
}
