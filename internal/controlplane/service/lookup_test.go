package service

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// randomCloud writes groups and instances of two accounts whose indexed
// fields take few values, so that filters match several of them.
type randomCloud struct {
	vpcs, vswitches, hosts, names, pls, prls, addrs []string
	tags                                            []model.Tag
}

func newRandomCloud() randomCloud {
	return randomCloud{
		vpcs: []string{"vpc-a", "vpc-b"}, vswitches: []string{"vsw-a", "vsw-b", ""}, hosts: []string{"h1", "h2", ""},
		names: []string{"web", "db", ""}, pls: []string{"pl-1", "pl-2"}, prls: []string{"prl-1", "prl-2"},
		addrs: []string{"192.168.0.1", "192.168.0.2", "192.168.0.3"},
		tags:  []model.Tag{{Key: "env", Value: "prod"}, {Key: "env", Value: "dev"}, {Key: "team", Value: "a"}, {Key: "env"}},
	}
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func (rc randomCloud) tagsOf(rng *rand.Rand) []model.Tag {
	var out []model.Tag
	for _, t := range rc.tags[:3] {
		if rng.IntN(2) == 0 {
			out = append(out, t)
		}
	}
	return out
}

// write puts or deletes one random group or instance in tx.
func (rc randomCloud) write(tx store.Tx, rng *rand.Rand, c Caller) error {
	// Each resource's account follows its number, and an instance joins
	// only groups of its account, as the service ensures.
	owners := []string{c.Account, "1000000000000002"}
	if rng.IntN(2) == 0 {
		n := rng.IntN(20)
		id, owner := fmt.Sprint("sg-r", n), owners[n%2]
		if rng.IntN(6) == 0 {
			return tx.Delete(KindGroup, id)
		}
		g := model.SecurityGroup{ID: id, Region: c.Region, Owner: owner, VpcID: pick(rng, rc.vpcs), Name: pick(rng, rc.names),
			Type: model.Normal, Tags: rc.tagsOf(rng), Rules: []model.Rule{}}
		for range rng.IntN(3) {
			g.Rules = append(g.Rules, model.Rule{Peer: model.Peer{PrefixListID: pick(rng, rc.pls)}})
		}
		for range rng.IntN(3) {
			g.Rules = append(g.Rules, model.Rule{PortRangeListID: pick(rng, rc.prls)})
		}
		return PutGroup(tx, &g)
	}
	if rng.IntN(3) == 0 {
		n := rng.IntN(20)
		id, owner := fmt.Sprint("eni-r", n), owners[n%2]
		if rng.IntN(6) == 0 {
			return tx.Delete(KindENI, id)
		}
		eni := model.NetworkInterface{ID: id, Region: c.Region, Owner: owner, VpcID: pick(rng, rc.vpcs), VSwitchID: pick(rng, rc.vswitches),
			Host: pick(rng, rc.hosts), Type: model.ENISecondary, Status: model.ENIAvailable,
			SecurityGroups: []string{fmt.Sprint("sg-r", 2*rng.IntN(10)+n%2)}}
		if rng.IntN(2) == 0 {
			eni.InstanceID, eni.Status = fmt.Sprint("i-r", 2*rng.IntN(15)+n%2), model.ENIInUse
		}
		return putENI(tx, &eni)
	}
	n := rng.IntN(30)
	id, owner := fmt.Sprint("i-r", n), owners[n%2]
	if rng.IntN(6) == 0 {
		return tx.Delete(KindInstance, id)
	}
	in := model.Instance{ID: id, Region: c.Region, Owner: owner, VpcID: pick(rng, rc.vpcs), VSwitchID: pick(rng, rc.vswitches),
		Host: pick(rng, rc.hosts), PrivateIP: netip.MustParseAddr(pick(rng, rc.addrs)), Tags: rc.tagsOf(rng),
		SecurityGroups: []string{fmt.Sprint("sg-r", 2*rng.IntN(10)+n%2)}, Status: model.StatusRunning}
	if rng.IntN(3) == 0 {
		in.PublicIP = netip.MustParseAddr(pick(rng, rc.addrs))
	}
	return PutInstance(tx, &in)
}

// keys are index keys worth asking for, some matching nothing.
func (rc randomCloud) keys(c Caller) []string {
	out := []string{"nothing", "sg-r1", "sg-r2", "sg-r7", "i-r1", "i-r4", scoped(c.Account, c.Region, "vpc-a"), scoped("1000000000000002", c.Region, "vpc-b")}
	out = append(out, rc.vpcs...)
	out = append(out, rc.vswitches[:2]...)
	out = append(out, rc.hosts[:2]...)
	out = append(out, rc.pls...)
	out = append(out, rc.prls...)
	for _, acct := range []string{c.Account, "1000000000000002"} {
		for _, n := range rc.names {
			out = append(out, scoped(acct, c.Region, n))
		}
		for _, a := range rc.addrs {
			out = append(out, scoped(acct, c.Region, a))
		}
		for _, t := range rc.tags {
			out = append(out, tagKey(acct, c.Region, t))
		}
	}
	return out
}

// scanIndex is what lookup must answer, by decoding every record of kind
// that tx holds: it returns a function of an index name and key.
func scanIndex(t *testing.T, tx store.ReadTx, kind store.Kind) func(name, key string) []string {
	t.Helper()
	recs, err := tx.List(kind, store.Query{})
	if err != nil {
		t.Error(err)
	}
	objs := make([]any, len(recs))
	for i, r := range recs {
		if objs[i], err = Kinds[kind](r.Data); err != nil {
			t.Error(err)
		}
	}
	return func(name, key string) []string {
		var out []string
		for i, r := range recs {
			if objs[i] != nil && slices.Contains(indexKeys(kind, name)(objs[i]), key) {
				out = append(out, r.ID)
			}
		}
		return out
	}
}

// TestLookupEqualsScan: every index answers, through the one lookup, what
// a scan of the store finds — in writes that share batches (ahead of the
// view, with their own writes) and in reads.
func TestLookupEqualsScan(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rc := newRandomCloud()
	keys := rc.keys(e.c)
	check := func(tx store.ReadTx, in store.ReadTx, lists bool) {
		scans := map[store.Kind]func(name, key string) []string{}
		for _, ix := range Indexes {
			if scans[ix.Kind] == nil {
				scans[ix.Kind] = scanIndex(t, in, ix.Kind)
			}
			for _, key := range keys {
				recs, ok, err := lookup(tx, ix.Kind, ix.Name, key)
				if err != nil || !ok {
					t.Errorf("lookup %s/%s: %v, %v", ix.Kind, ix.Name, ok, err) // not Fatal: inside a store Update
					return
				}
				var got []string
				for _, r := range recs {
					got = append(got, r.ID)
				}
				if want := scans[ix.Kind](ix.Name, key); !slices.Equal(got, want) {
					t.Errorf("%s by %s %q: lookup %v, scan %v", ix.Kind, ix.Name, key, got, want)
				}
				// indexedList answers the same from the index and, where
				// there is no view (in), from its scan of the caller's
				// records (at the end only: the scans are slow).
				for _, c := range []Caller{{}, e.c, {Account: "1000000000000002", Region: e.c.Region}} {
					if !lists {
						break
					}
					ids := func(tx store.ReadTx) []string {
						recs, err := indexedList(tx, ix.Kind, ix.Name, key, c)
						if err != nil {
							t.Error(err)
						}
						var out []string
						for _, r := range recs {
							out = append(out, r.ID)
						}
						return out
					}
					if got, want := ids(tx), ids(in); !slices.Equal(got, want) {
						t.Errorf("indexedList %s by %s %q for %+v: indexed %v, scanned %v", ix.Kind, ix.Name, key, c, got, want)
					}
				}
			}
		}
	}
	if _, err := e.s.view.Snapshot(ctx); err != nil { // loaded: writes can ask it
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 20 {
				_, err := e.s.Store.Update(ctx, func(tx store.Tx) error {
					vt := &viewTx{Tx: tx, view: e.s.view}
					if i%2 == 0 {
						check(vt, tx, false)
					}
					for range 1 + rng.IntN(3) {
						if err := rc.write(vt, rng, e.c); err != nil {
							return err
						}
					}
					if i%5 == 0 {
						check(vt, tx, false)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	snap, err := e.s.view.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.s.Store.View(ctx, func(tx store.ReadTx) error { check(snap, tx, true); return nil })
}

// TestDescribeFiltersFromIndexes: DescribeSecurityGroups and
// DescribeInstances with filters, answered from the view's indexes, equal
// the same service reading the store (a scan of the region).
func TestDescribeFiltersFromIndexes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rc := newRandomCloud()
	rng := rand.New(rand.NewPCG(3, 3))
	for range 120 {
		if _, err := e.s.Store.Update(ctx, func(tx store.Tx) error { return rc.write(tx, rng, e.c) }); err != nil {
			t.Fatal(err)
		}
	}
	scan := *e.s
	scan.view = nil
	pages := []Page{{Number: 1, Size: 100}, {Number: 2, Size: 3, Offset: 3}, {Tokens: true, Size: 2, Offset: 2}}
	groupFilters := []DescribeGroupsInput{
		{VpcID: "vpc-a"}, {VpcID: "vpc-nope"}, {Name: "web"}, {Name: "web", VpcID: "vpc-b"},
		{Tags: []model.Tag{{Key: "env", Value: "prod"}}}, {Tags: []model.Tag{{Key: "env"}}},
		{Tags: []model.Tag{{Key: "env"}, {Key: "team", Value: "a"}}}, {IDs: []string{"sg-r1", "sg-r2", "sg-r1", "sg-none"}},
		{IDs: []string{"sg-r3"}, VpcID: "vpc-a"}, {Type: "normal"}, {NetworkType: "vpc", Name: "db"}, {VpcID: "vpc-a", Type: "enterprise"},
	}
	for _, f := range groupFilters {
		for _, pg := range pages {
			f.Caller, f.Page = e.c, pg
			fast, err1 := e.s.DescribeSecurityGroups(ctx, f)
			slow, err2 := scan.DescribeSecurityGroups(ctx, f)
			if err1 != nil || err2 != nil {
				t.Fatalf("%+v: %v, %v", f, err1, err2)
			}
			if a, b := flat(fast), flat(slow); !reflect.DeepEqual(a, b) || fast.Total != slow.Total || fast.NextToken != slow.NextToken {
				t.Errorf("DescribeSecurityGroups %+v:\nindexed %d %q %v\nscan    %d %q %v", f, fast.Total, fast.NextToken, a, slow.Total, slow.NextToken, b)
			}
		}
	}
	instFilters := []DescribeInstancesInput{
		{VpcID: "vpc-b"}, {VSwitchID: "vsw-a"}, {SecurityGroupID: "sg-r4"}, {Private: []string{"192.168.0.1", "192.168.0.3"}},
		{Public: []string{"192.168.0.2"}}, {Tags: []model.Tag{{Key: "env", Value: "dev"}}}, {Tags: []model.Tag{{Key: "team"}}, VpcID: "vpc-a"},
		{IDs: []string{"i-r1", "i-r2", "i-r3", "i-r4", "i-r5"}, VSwitchID: "vsw-b"}, {Status: model.StatusRunning}, {},
	}
	for _, f := range instFilters {
		for _, pg := range pages {
			f.Caller, f.Page = e.c, pg
			fast, err1 := e.s.DescribeInstances(ctx, f)
			slow, err2 := scan.DescribeInstances(ctx, f)
			if err1 != nil || err2 != nil {
				t.Fatalf("%+v: %v, %v", f, err1, err2)
			}
			ids := func(l Listing[InstanceView]) (out []string) {
				for _, v := range l.Items {
					out = append(out, v.Instance.ID)
				}
				return out
			}
			if a, b := ids(fast), ids(slow); !slices.Equal(a, b) || fast.Total != slow.Total || fast.NextToken != slow.NextToken {
				t.Errorf("DescribeInstances %+v:\nindexed %d %q %v\nscan    %d %q %v", f, fast.Total, fast.NextToken, a, slow.Total, slow.NextToken, b)
			}
		}
	}
}
