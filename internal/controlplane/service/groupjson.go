package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// A rule change rewrites its whole group, and encoding the group's rules
// is most of what storing it costs; all but the changed rule were encoded
// by the previous write already. ruleJSON keeps the JSON of rules seen
// lately, by ID with the rule it was made of: a rule equal to that one has
// the same JSON (a rule modified since is encoded again).
var ruleJSON struct {
	mu sync.Mutex
	m  map[string]cachedRule
}

type cachedRule struct {
	rule model.Rule
	json []byte
}

// ruleJSONMax bounds the rules kept (a few MiB); the cache starts over
// when full.
const ruleJSONMax = 4096

// encodeRule returns json.Marshal(r), from the cache when it holds r.
func encodeRule(r *model.Rule) ([]byte, error) {
	ruleJSON.mu.Lock()
	c, ok := ruleJSON.m[r.ID]
	ruleJSON.mu.Unlock()
	if ok && c.rule == *r {
		return c.json, nil
	}
	b, err := json.Marshal(r)
	if err != nil || r.ID == "" {
		return b, err
	}
	ruleJSON.mu.Lock()
	if ruleJSON.m == nil || len(ruleJSON.m) >= ruleJSONMax {
		ruleJSON.m = make(map[string]cachedRule, ruleJSONMax)
	}
	ruleJSON.m[r.ID] = cachedRule{*r, b}
	ruleJSON.mu.Unlock()
	return b, nil
}

// rulesTail is how json.Marshal ends a group without rules: Rules is its
// last field.
const rulesTail = `"rules":null}`

// encodeGroup returns json.Marshal(g), byte for byte: the group without
// its rules, then each rule's JSON (encodeRule). Should Rules not be the
// last field any more, it is json.Marshal(g).
func encodeGroup(g *model.SecurityGroup) ([]byte, error) {
	if g.Rules == nil {
		return json.Marshal(g)
	}
	shell := *g
	shell.Rules = nil
	head, err := json.Marshal(&shell)
	if err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(head, []byte(rulesTail)) {
		return json.Marshal(g)
	}
	out := make([]byte, 0, len(head)+256*len(g.Rules))
	out = append(out, head[:len(head)-len("null}")]...)
	out = append(out, '[')
	for i := range g.Rules {
		if i > 0 {
			out = append(out, ',')
		}
		b, err := encodeRule(&g.Rules[i])
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return append(out, ']', '}'), nil
}

// PutGroup stores a security group.
func PutGroup(tx store.Tx, g *model.SecurityGroup) error {
	data, err := encodeGroup(g)
	if err != nil {
		return fmt.Errorf("store: encode %s/%s: %w", KindGroup, g.ID, err)
	}
	return tx.Put(store.Record{Kind: KindGroup, ID: g.ID, Account: g.Owner, Region: g.Region, Data: data, Object: g})
}
