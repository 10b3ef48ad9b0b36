package service

import (
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// PrefixListAssociations maps each prefix list of a region to the groups
// (of any account) whose rules use it, in group ID order, one entry per group.
func PrefixListAssociations(tx store.ReadTx, region string) (map[string][]string, error) {
	groups, err := store.ListAs[model.SecurityGroup](tx, KindGroup, store.Query{Region: region})
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, g := range groups {
		for _, r := range g.Rules {
			id := r.Peer.PrefixListID
			if id != "" && !slices.Contains(out[id], g.ID) {
				out[id] = append(out[id], g.ID)
			}
		}
	}
	return out, nil
}

// PrefixListUses returns the IDs of the groups in a region whose rules use
// prefix list id, for DeletePrefixList and the association limit
// (model.MaxPrefixListUses) that rule changes must respect.
func PrefixListUses(tx store.ReadTx, region, id string) (groupIDs []string, err error) {
	m, err := PrefixListAssociations(tx, region)
	if err != nil {
		return nil, err
	}
	return m[id], nil
}
