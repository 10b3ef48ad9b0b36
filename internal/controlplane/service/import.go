package service

import (
	"context"
	"errors"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Resources is a set of resources to load verbatim, IDs included: a scenario
// file played in the lab, or an account imported for analysis.
type Resources struct {
	VPCs           []*model.VPC
	PrefixLists    []*model.PrefixList
	PortRangeLists []*model.PortRangeList
	Groups         []*model.SecurityGroup
	Instances      []*model.Instance
	ENIs           []*model.NetworkInterface // secondary ENIs
}

// Import writes resources as they are, in one transaction (one revision),
// replacing records with the same IDs. Resources without an owner go to the
// first tenant, as do those of 1000000000000001, the owner that scenario
// files and generated clouds give resources that name none (it was the
// first account's UID before UIDs were random); those without a region go
// to region. It bypasses the
// actions' checks: callers load resources that were validated on their way
// in (the scenario loader applies the API's checks).
func (s *Service) Import(ctx context.Context, region string, r Resources) (int64, error) {
	var first string
	if err := s.read(ctx, func(tx store.ReadTx) error {
		var err error
		first, err = firstTenant(tx)
		return err
	}); err != nil {
		return 0, err
	}
	ownerless := false // with no first tenant (no Bootstrap yet) they would belong to nobody
	fix := func(owner, reg *string) {
		if *owner == legacyFirstUID && first != "" {
			*owner = first
		}
		if *owner == "" {
			*owner, ownerless = first, ownerless || first == ""
		}
		if *reg == "" {
			*reg = region
		}
	}
	return s.commit(ctx, func(tx store.Tx) error {
		for _, v := range r.VPCs {
			fix(&v.Owner, &v.Region)
			if err := store.PutAs(tx, KindVPC, v.ID, v.Owner, v.Region, v); err != nil {
				return err
			}
		}
		for _, p := range r.PrefixLists {
			fix(&p.Owner, &p.Region)
			if err := store.PutAs(tx, KindPrefixList, p.ID, p.Owner, p.Region, p); err != nil {
				return err
			}
		}
		for _, l := range r.PortRangeLists {
			fix(&l.Owner, &l.Region)
			if err := store.PutAs(tx, KindPortRangeList, l.ID, l.Owner, l.Region, l); err != nil {
				return err
			}
		}
		for _, g := range r.Groups {
			fix(&g.Owner, &g.Region)
			for i := range g.Rules {
				if p := &g.Rules[i].Peer; p.GroupOwner == legacyFirstUID && first != "" {
					p.GroupOwner = first
				}
			}
			if err := PutGroup(tx, g); err != nil {
				return err
			}
		}
		for _, in := range r.Instances {
			fix(&in.Owner, &in.Region)
			if in.Status == "" {
				in.Status = "Running"
			}
			if err := PutInstance(tx, in); err != nil {
				return err
			}
		}
		for _, n := range r.ENIs {
			fix(&n.Owner, &n.Region)
			if err := putENI(tx, n); err != nil {
				return err
			}
		}
		if ownerless {
			return errors.New("import: resources without an owner, and no first tenant to give them to (bootstrap the service first)")
		}
		return nil
	})
}
