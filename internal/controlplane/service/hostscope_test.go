package service

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"runtime/debug"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// world is the state a property test writes, kept beside the store so
// that mutations pick from what exists.
type world struct {
	groups    map[string]*model.SecurityGroup
	instances map[string]*model.Instance
	enis      map[string]*model.NetworkInterface
	pls       map[string]*model.PrefixList
	prls      map[string]*model.PortRangeList
	vpcs      []string // "" is the classic network
	n         int      // for fresh IDs, addresses and interface names
}

var testHosts = []string{"h0", "h1", "h2", "h3"}

func newWorld(seed uint64) (*world, Resources) {
	c := cloudgen.Generate(seed, cloudgen.Config{VPCs: 2, Groups: 6, Instances: 14, RulesPerGroup: 6, PrefixLists: 3,
		PortRangeLists: 2, MaxGroups: 3, PublicShare: 0.3, IPv6Share: 0.5, Enterprise: 0.2, MoreIPv6Share: 0.5})
	w := &world{groups: map[string]*model.SecurityGroup{}, instances: map[string]*model.Instance{},
		enis: map[string]*model.NetworkInterface{}, pls: map[string]*model.PrefixList{}, prls: map[string]*model.PortRangeList{}}
	for _, v := range c.VPCs {
		w.vpcs = append(w.vpcs, v.ID)
	}
	w.vpcs = append(w.vpcs, "")
	// The classic network: groups whose rule sets differ per path.
	c.Groups = append(c.Groups,
		modeltest.Group("sg-classic0", "", "basic", modeltest.Rule("sgr-c0a", "in accept 1 TCP 22/22 10.0.0.0/8 nic=intranet"),
			modeltest.Rule("sgr-c0b", "in accept 1 TCP 80/80 0.0.0.0/0 nic=internet")),
		modeltest.Group("sg-classic1", "", "isolated", modeltest.Rule("sgr-c1a", "in accept 1 TCP 443/443 sg-classic0 nic=intranet")))
	for i := range 4 {
		c.Instances = append(c.Instances, modeltest.Instance(fmt.Sprintf("i-classic%d", i), "", fmt.Sprintf("10.250.0.%d", 10+i),
			[]string{"sg-classic0", "sg-classic1"}[i%2]))
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	for _, in := range c.Instances {
		w.instances[in.ID] = in
		if rng.IntN(2) == 0 {
			w.bind(rng, in)
		}
	}
	for _, g := range c.Groups {
		w.groups[g.ID] = g
	}
	for _, p := range c.PrefixLists {
		w.pls[p.ID] = p
	}
	for _, l := range c.PortRangeLists {
		w.prls[l.ID] = l
	}
	for range 5 {
		n := w.newENI(rng)
		w.enis[n.ID] = n
	}
	r := Resources{VPCs: c.VPCs, Groups: c.Groups, Instances: c.Instances, PrefixLists: c.PrefixLists, PortRangeLists: c.PortRangeLists}
	for _, n := range w.enis {
		r.ENIs = append(r.ENIs, n)
	}
	for _, g := range r.Groups {
		g.Owner = legacyFirstUID
	}
	for _, in := range r.Instances {
		in.Owner = legacyFirstUID
	}
	for _, n := range r.ENIs {
		n.Owner = legacyFirstUID
	}
	// The import hands its values to the view; the world mutates its own.
	return w, deepCopy(r)
}

// deepCopy is v through JSON: no value shared with v.
func deepCopy[T any](v T) T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func pickKey[T any](rng *rand.Rand, m map[string]T) (string, T) {
	keys := slices.Sorted(maps.Keys(m))
	var zero T
	if len(keys) == 0 {
		return "", zero
	}
	k := keys[rng.IntN(len(keys))]
	return k, m[k]
}

func (w *world) fresh() int { w.n++; return w.n }

func (w *world) bind(rng *rand.Rand, in *model.Instance) {
	if rng.IntN(5) == 0 {
		in.Host, in.Interface = "", ""
		return
	}
	in.Host, in.Interface = testHosts[rng.IntN(len(testHosts))], fmt.Sprintf("pi%d", w.fresh())
}

func (w *world) groupsOf(rng *rand.Rand, vpc string) []string {
	var ids []string
	for _, id := range slices.Sorted(maps.Keys(w.groups)) {
		if w.groups[id].VpcID == vpc {
			ids = append(ids, id)
		}
	}
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return ids[:min(len(ids), 1+rng.IntN(3))]
}

func (w *world) addr(vpc string) netip.Addr {
	n := w.fresh()
	if vpc == "" {
		return netip.AddrFrom4([4]byte{10, 250, 1, byte(n)})
	}
	return netip.AddrFrom4([4]byte{10, byte(slices.Index(w.vpcs, vpc)), 200, byte(n)})
}

func (w *world) newENI(rng *rand.Rand) *model.NetworkInterface {
	_, in := pickKey(rng, w.instances)
	n := &model.NetworkInterface{ID: fmt.Sprintf("eni-t%d", w.fresh()), Type: model.ENISecondary, Status: model.ENIInUse,
		InstanceID: in.ID, VpcID: in.VpcID, PrivateIP: w.addr(in.VpcID), SecurityGroups: w.groupsOf(rng, in.VpcID)}
	if rng.IntN(2) == 0 {
		n.Host, n.Interface = testHosts[rng.IntN(len(testHosts))], fmt.Sprintf("pe%d", w.fresh())
	}
	return n
}

// jsonOnly writes records without handing their values to the view: the
// world keeps mutating the values it wrote, which the view would share.
type jsonOnly struct{ store.Tx }

func (t jsonOnly) Put(r store.Record) error {
	r.Object = nil
	return t.Tx.Put(r)
}

// mutate makes one random change in tx.
func (w *world) mutate(rng *rand.Rand, tx store.Tx) error {
	tx = jsonOnly{tx}
	defer func() {
		if r := recover(); r != nil {
			panic(fmt.Sprintf("%v\n%s", r, debug.Stack()))
		}
	}()
	putInst := func(in *model.Instance) error { return PutInstance(tx, in) }
	putGroup := func(g *model.SecurityGroup) error { return PutGroup(tx, g) }
	switch rng.IntN(14) {
	case 0: // bind, move or unbind an instance
		_, in := pickKey(rng, w.instances)
		w.bind(rng, in)
		return putInst(in)
	case 1: // join other groups (now and then a classic one from a VPC,
		// which the API refuses but the engine and the scope handle)
		_, in := pickKey(rng, w.instances)
		in.SecurityGroups = w.groupsOf(rng, in.VpcID)
		if rng.IntN(6) == 0 && in.VpcID != "" {
			in.SecurityGroups = w.groupsOf(rng, "")
		}
		return putInst(in)
	case 2: // new addresses
		_, in := pickKey(rng, w.instances)
		in.PrivateIP = w.addr(in.VpcID)
		if rng.IntN(2) == 0 {
			in.IPv6 = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 9, 15: byte(w.fresh())})
		} else {
			in.IPv6 = netip.Addr{}
		}
		return putInst(in)
	case 3: // an instance goes, another comes
		id, _ := pickKey(rng, w.instances)
		delete(w.instances, id)
		if err := tx.Delete(KindInstance, id); err != nil {
			return err
		}
		vpc := w.vpcs[rng.IntN(len(w.vpcs))]
		in := &model.Instance{ID: fmt.Sprintf("i-t%d", w.fresh()), Owner: legacyFirstUID, Region: "cn-hangzhou", VpcID: vpc,
			PrivateIP: w.addr(vpc), Status: model.StatusRunning, SecurityGroups: w.groupsOf(rng, vpc)}
		w.bind(rng, in)
		w.instances[in.ID] = in
		return putInst(in)
	case 4: // a rule naming a group, a prefix list or a port range list
		_, g := pickKey(rng, w.groups)
		peer, _ := pickKey(rng, w.groups)
		spec := fmt.Sprintf("in accept %d TCP 22/22 %s", 1+rng.IntN(5), peer)
		if pl, _ := pickKey(rng, w.pls); pl != "" && rng.IntN(3) == 0 && !g.Classic() {
			spec = fmt.Sprintf("out drop 2 UDP 53/53 %s", pl)
		}
		if g.Classic() {
			spec += " nic=intranet"
		}
		r := modeltest.Rule(fmt.Sprintf("sgr-t%d", w.fresh()), spec)
		if l, _ := pickKey(rng, w.prls); l != "" && rng.IntN(3) == 0 {
			r.PortRange, r.PortRangeListID = model.PortRange{}, l
		}
		g.Rules = append(slices.Clone(g.Rules), r)
		return putGroup(g)
	case 5: // a rule goes
		_, g := pickKey(rng, w.groups)
		if len(g.Rules) > 0 {
			i := rng.IntN(len(g.Rules))
			g.Rules = slices.Delete(slices.Clone(g.Rules), i, i+1)
		}
		return putGroup(g)
	case 6: // members reach each other, or not; a name that no agent needs
		_, g := pickKey(rng, w.groups)
		if rng.IntN(2) == 0 {
			g.Name = fmt.Sprintf("renamed%d", w.fresh())
		} else if g.Type == model.Normal {
			g.InnerAccessPolicy = map[string]string{model.InnerAccept: model.InnerDrop, model.InnerDrop: model.InnerAccept}[g.InnerAccessPolicy]
		}
		return putGroup(g)
	case 7: // a group goes, another comes
		id, _ := pickKey(rng, w.groups)
		delete(w.groups, id)
		if err := tx.Delete(KindGroup, id); err != nil {
			return err
		}
		g := modeltest.Group(fmt.Sprintf("sg-t%d", w.fresh()), w.vpcs[rng.IntN(len(w.vpcs))], []string{"basic", "isolated", "enterprise"}[rng.IntN(3)])
		g.Owner, g.Region = legacyFirstUID, "cn-hangzhou"
		w.groups[g.ID] = g
		return putGroup(g)
	case 8: // a prefix list's entries
		_, pl := pickKey(rng, w.pls)
		if pl == nil {
			return nil
		}
		cidr := "198.51.100.0/24"
		if pl.AddressFamily == "IPv6" {
			cidr = "2001:db8:1::/48"
		}
		pl.Entries = append(slices.Clone(pl.Entries), model.PrefixEntry{CIDR: netip.MustParsePrefix(cidr).Masked()})
		if len(pl.Entries) > 3 {
			pl.Entries = pl.Entries[1:]
		}
		return store.PutAs(tx, KindPrefixList, pl.ID, pl.Owner, pl.Region, pl)
	case 9: // a port range list's entries
		_, l := pickKey(rng, w.prls)
		if l == nil {
			return nil
		}
		p := int32(1000 + w.fresh())
		l.Entries = append(slices.Clone(l.Entries), model.PortEntry{Range: model.PortRange{Start: p, End: p}})
		return store.PutAs(tx, KindPortRangeList, l.ID, l.Owner, l.Region, l)
	case 10: // an ENI changes groups, host, attachment; goes or comes
		id, n := pickKey(rng, w.enis)
		op := rng.IntN(5)
		if n == nil {
			op = 1
		}
		switch op {
		case 0:
			delete(w.enis, id)
			return tx.Delete(KindENI, id)
		case 1:
			n = w.newENI(rng)
			w.enis[n.ID] = n
		case 2:
			n.SecurityGroups = w.groupsOf(rng, n.VpcID)
		case 3:
			if n.Status == model.ENIInUse {
				n.Status = model.ENIAvailable
			} else {
				n.Status = model.ENIInUse
			}
		default:
			n.Host, n.Interface = testHosts[rng.IntN(len(testHosts))], fmt.Sprintf("pe%d", w.fresh())
		}
		return store.PutAs(tx, KindENI, n.ID, legacyFirstUID, "cn-hangzhou", n)
	case 12: // an instance's or an ENI's secondary addresses: group peers' addresses
		_, n := pickKey(rng, w.enis)
		if n != nil && rng.IntN(2) == 0 {
			n.SecondaryIPs = append(slices.Clone(n.SecondaryIPs), w.addr(n.VpcID))
			if len(n.SecondaryIPs) > 2 {
				n.SecondaryIPs = nil
			}
			return store.PutAs(tx, KindENI, n.ID, legacyFirstUID, "cn-hangzhou", n)
		}
		_, in := pickKey(rng, w.instances)
		in.SecondaryIPs = append(slices.Clone(in.SecondaryIPs), w.addr(in.VpcID))
		if len(in.SecondaryIPs) > 2 {
			in.SecondaryIPs = in.SecondaryIPs[1:]
		}
		return putInst(in)
	case 11: // not a policy record
		return store.PutAs(tx, KindVPC, "vpc-other", legacyFirstUID, "cn-hangzhou", model.VPC{ID: "vpc-other", Name: fmt.Sprint(w.fresh())})
	default: // an instance's name and tags: nothing any agent needs
		_, in := pickKey(rng, w.instances)
		in.Name = fmt.Sprintf("n%d", w.fresh())
		return putInst(in)
	}
}

// agentCopy is what an agent holds, applied as internal/dataplane/agent
// applies snapshots and changes.
type agentCopy struct {
	rev       int64
	groups    map[string]*model.SecurityGroup
	instances map[string]*model.Instance
	enis      map[string]*model.NetworkInterface
	pls       map[string]*model.PrefixList
	prls      map[string]*model.PortRangeList
}

func copyOf(s Snapshot) *agentCopy {
	a := &agentCopy{rev: s.Revision, groups: map[string]*model.SecurityGroup{}, instances: map[string]*model.Instance{},
		enis: map[string]*model.NetworkInterface{}, pls: map[string]*model.PrefixList{}, prls: map[string]*model.PortRangeList{}}
	a.put(s)
	return a
}

func (a *agentCopy) put(s Snapshot) {
	for _, g := range s.Groups {
		a.groups[g.ID] = g
	}
	for _, in := range s.Instances {
		a.instances[in.ID] = in
	}
	for _, n := range s.ENIs {
		a.enis[n.ID] = n
	}
	for _, p := range s.PrefixLists {
		a.pls[p.ID] = p
	}
	for _, l := range s.PortRangeLists {
		a.prls[l.ID] = l
	}
}

// held reports whether the copy holds a record equal to v.
func (a *agentCopy) held(id string, v any) bool {
	var have any
	switch v.(type) {
	case *model.SecurityGroup:
		have = a.groups[id]
	case *model.Instance:
		have = a.instances[id]
	case *model.NetworkInterface:
		have = a.enis[id]
	case *model.PrefixList:
		have = a.pls[id]
	case *model.PortRangeList:
		have = a.prls[id]
	}
	return reflect.DeepEqual(have, v)
}

func (a *agentCopy) snapshot() Snapshot {
	return Snapshot{Revision: a.rev, Groups: sortedByID(a.groups), Instances: sortedByID(a.instances), ENIs: sortedByID(a.enis),
		PrefixLists: sortedByID(a.pls), PortRangeLists: sortedByID(a.prls)}
}

func sortedByID[T any](m map[string]*T) []*T {
	var out []*T
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// ruleset is what the agent of host compiles from a snapshot.
func ruleset(s Snapshot, host string) *nft.Ruleset {
	c := policy.NewCloud(s.Groups, model.NICs(s.Instances, s.ENIs), s.PrefixLists).WithPortRangeLists(s.PortRangeLists)
	return nft.Build(c, host, nft.Options{})
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestHostScopedStreamsConverge is the property behind host keys: after
// random changes, what each host's agent holds (its scoped snapshot plus
// every scoped watch answer since) is exactly the scoped snapshot at the
// same revision; it compiles to exactly the ruleset the whole cloud gives
// that host; a watch answer carries no record the agent already holds and
// deletes none it lacks (changes outside the host's scope are not sent);
// and the operator's stream still rebuilds the whole cloud. A host's
// watch starts from its kept scope or, half the time, from the scope
// rebuilt as it was from the history. One run keeps
// a short history, so that watchers fall behind it (hosts resync, the
// operator reads the store).
func TestHostScopedStreamsConverge(t *testing.T) {
	for _, tc := range []struct {
		seed    uint64
		history int
	}{{1, 0}, {2, 0}, {3, 0}, {4, 6}} {
		t.Run(fmt.Sprintf("seed%d-history%d", tc.seed, tc.history), func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(":memory:")
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			s := New(st)
			if tc.history > 0 {
				s.InMemory().SetHistoryLimit(tc.history)
			}
			w, res := newWorld(tc.seed)
			if _, err := s.Import(ctx, "cn-hangzhou", res); err != nil {
				t.Fatal(err)
			}
			op := Caller{Account: legacyFirstUID, Operator: true}
			callers := map[string]Caller{"operator": op}
			for _, h := range testHosts {
				callers[h] = Caller{Host: h}
			}
			copies := map[string]*agentCopy{}
			for name, c := range callers {
				snap, err := s.GetSnapshot(ctx, c)
				if err != nil {
					t.Fatal(err)
				}
				copies[name] = copyOf(snap)
			}
			rng := rand.New(rand.NewPCG(tc.seed, 5))
			sent, resyncs := 0, 0
			for step := range 150 {
				for range 1 + rng.IntN(3) {
					if _, err := st.Update(ctx, func(tx store.Tx) error {
						for range 1 + rng.IntN(3) {
							if err := w.mutate(rng, tx); err != nil {
								return err
							}
						}
						return nil
					}); err != nil {
						t.Fatal(err)
					}
				}
				full, err := s.GetSnapshot(ctx, op)
				if err != nil {
					t.Fatal(err)
				}
				for _, name := range slices.Sorted(maps.Keys(callers)) {
					c, a := callers[name], copies[name]
					if rng.IntN(3) == 0 && step < 149 {
						continue // this agent polls later: changes pile up
					}
					if c.Host != "" && rng.IntN(2) == 0 {
						// Forget the host's kept scope: the watch computes
						// its scope at a.rev from the history's old values.
						s.hosts.mu.Lock()
						delete(s.hosts.scopes, c.Host)
						s.hosts.mu.Unlock()
					}
					ch, err := s.WatchChanges(ctx, WatchInput{Caller: c, AfterRevision: a.rev})
					if err != nil {
						t.Fatalf("step %d %s: %v", step, name, err)
					}
					if ch.Resync {
						resyncs++
						snap, err := s.GetSnapshot(ctx, c)
						if err != nil {
							t.Fatal(err)
						}
						copies[name], a = copyOf(snap), copyOf(snap)
					} else {
						var recs []struct {
							id string
							v  any
						}
						for _, g := range ch.Groups {
							recs = append(recs, struct {
								id string
								v  any
							}{g.ID, g})
						}
						for _, in := range ch.Instances {
							recs = append(recs, struct {
								id string
								v  any
							}{in.ID, in})
						}
						for _, n := range ch.ENIs {
							recs = append(recs, struct {
								id string
								v  any
							}{n.ID, n})
						}
						if c.Host != "" {
							for _, r := range recs {
								if a.held(r.id, r.v) {
									t.Errorf("step %d %s: sent %s, which it holds already", step, name, r.id)
								}
							}
							for _, d := range ch.Deleted {
								if a.groups[d.Id] == nil && a.instances[d.Id] == nil && a.enis[d.Id] == nil && a.pls[d.Id] == nil && a.prls[d.Id] == nil {
									t.Errorf("step %d %s: deleted %s, which it does not hold", step, name, d.Id)
								}
							}
						}
						sent += len(recs) + len(ch.Deleted)
						a.put(ch.snapshot())
						for _, d := range ch.Deleted {
							delete(a.groups, d.Id)
							delete(a.instances, d.Id)
							delete(a.enis, d.Id)
							delete(a.pls, d.Id)
							delete(a.prls, d.Id)
						}
						a.rev = ch.Revision
					}
					want, err := s.GetSnapshot(ctx, c)
					if err != nil {
						t.Fatal(err)
					}
					if a.rev != want.Revision {
						t.Fatalf("step %d %s: at revision %d, snapshot at %d", step, name, a.rev, want.Revision)
					}
					if got, want := jsonOf(a.snapshot()), jsonOf(want); got != want {
						t.Fatalf("step %d %s: the stream rebuilt\n%s\nthe snapshot is\n%s", step, name, got, want)
					}
					if c.Host != "" {
						if got, want := ruleset(a.snapshot(), c.Host), ruleset(full, c.Host); !reflect.DeepEqual(got, want) {
							t.Fatalf("step %d %s: the scoped records compile to\n%+v\nthe whole cloud to\n%+v", step, name, got, want)
						}
					}
				}
			}
			if tc.history > 0 && resyncs == 0 {
				t.Error("no watcher fell behind the short history")
			}
			t.Logf("%d records sent, %d resyncs", sent, resyncs)
		})
	}
}

// snapshot is the records of changes as a Snapshot.
func (c Changes) snapshot() Snapshot {
	return Snapshot{Groups: c.Groups, Instances: c.Instances, ENIs: c.ENIs, PrefixLists: c.PrefixLists, PortRangeLists: c.PortRangeLists}
}
