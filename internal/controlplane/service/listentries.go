package service

import (
	"slices"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// entryEdit is what editEntries needs of a kind of list (prefix lists,
// port range lists), whose entries E are keyed by K (a CIDR block, a port
// range) and carry a description.
type entryEdit[K comparable, E any] struct {
	parse    func(s, param string) (K, *ecserr.Error) // a key as a request gives it; param names it in errors
	param    string                                   // the key's parameter: AddEntry.N.<param>, RemoveEntry.N.<param>
	dup      string                                   // the code of a key named twice in one call
	conflict string                                   // the code of a key both added and removed
	list     string                                   // the list in messages ("Prefix list pl-…")
	describe string                                   // the action that lists its entries
	key      func(E) K
	entry    func(k K, description string) E
}

// entryInput is an entry to add as a request gives it.
type entryInput struct{ key, description string }

// editEntries applies a Modify call's removals, then its additions, to a
// list's entries and returns the new entries: a removed key must be
// listed, an added key already listed takes the new description, and no
// key is named twice or both added and removed.
func editEntries[K comparable, E any](ed entryEdit[K, E], entries []E, removes []string, adds []entryInput) ([]E, *ecserr.Error) {
	index := func(es []E, k K) int { return slices.IndexFunc(es, func(e E) bool { return ed.key(e) == k }) }
	var gone []K
	for _, s := range removes {
		k, e := ed.parse(s, "RemoveEntry.N."+ed.param)
		if e != nil {
			return nil, e
		}
		if slices.Contains(gone, k) {
			return nil, ecserr.BadRequest(ed.dup, "RemoveEntry names %v more than once.", k)
		}
		gone = append(gone, k)
	}
	var added []E
	for _, a := range adds {
		k, e := ed.parse(a.key, "AddEntry.N."+ed.param)
		if e != nil {
			return nil, e
		}
		if a.description != "" {
			if e := model.ValidateEntryDescription(a.description); e != nil {
				return nil, e
			}
		}
		if index(added, k) >= 0 {
			return nil, ecserr.BadRequest(ed.dup, "AddEntry names %v more than once.", k)
		}
		if slices.Contains(gone, k) {
			return nil, ecserr.BadRequest(ed.conflict, "%v is both added and removed; to change an entry's description, only add it again with the new description.", k)
		}
		added = append(added, ed.entry(k, a.description))
	}
	out := slices.Clone(entries)
	for _, k := range gone {
		i := index(out, k)
		if i < 0 {
			return nil, ecserr.BadRequest("InvalidParam.EntryNotFound", "%s has no entry %v to remove; %s lists its entries.", ed.list, k, ed.describe)
		}
		out = slices.Delete(out, i, i+1)
	}
	for _, a := range added {
		if i := index(out, ed.key(a)); i >= 0 {
			out[i] = a
			continue
		}
		out = append(out, a)
	}
	return out, nil
}
