package cloudgen

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestMoreIPv6OnlyAdds: the further IPv6 addresses are drawn apart, so a
// seed's cloud and flows are the ones it gave without them, with only the
// addresses added; each is in its NIC's /64 and no NIC shares one.
func TestMoreIPv6OnlyAdds(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
	}{{"Small", Small}, {"Full", Full}} {
		without := tt.cfg
		without.MoreIPv6Share = 0
		nics, flows, named := 0, 0, 0
		for seed := range uint64(30) {
			got, want := Generate(seed, tt.cfg), Generate(seed, without)
			seen := map[netip.Addr]string{}
			for _, in := range got.Instances {
				for _, a := range in.IPv6s() { // classic instances share IPv4 addresses with the first VPC
					if other, ok := seen[a]; ok {
						t.Fatalf("%s seed %d: %s holds %s, as %s does", tt.name, seed, in.ID, a, other)
					}
					seen[a] = in.ID
				}
				for _, a := range in.MoreIPv6 {
					if p := netip.PrefixFrom(in.IPv6, 64).Masked(); !p.Contains(a) {
						t.Errorf("%s seed %d: %s's further address %s is outside its /64 %s", tt.name, seed, in.ID, a, p)
					}
				}
				if len(in.MoreIPv6) > 0 {
					nics++
				}
				in.MoreIPv6 = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s seed %d: the cloud differs in more than the further addresses", tt.name, seed)
			}
			// The flows are those of the cloud without the addresses.
			g := Generate(seed, tt.cfg)
			plain := g.Flows(seed, 200)
			if !reflect.DeepEqual(plain, want.Flows(seed, 200)) {
				t.Fatalf("%s seed %d: the flows differ", tt.name, seed)
			}
			at := g.AtMoreIPv6(plain, seed)
			for i, f := range at {
				for _, e := range []struct {
					id string
					a  netip.Addr
				}{{f.From, f.FromAddr}, {f.To, f.ToAddr}} {
					if !e.a.IsValid() {
						continue
					}
					if in := nic(g, e.id); in == nil || !slices.Contains(in.MoreIPv6, e.a) {
						t.Fatalf("%s seed %d: flow %+v names %s, not a further address of %s", tt.name, seed, f, e.a, e.id)
					}
					named++
				}
				f.FromAddr, f.ToAddr = netip.Addr{}, netip.Addr{}
				if f != plain[i] {
					t.Fatalf("%s seed %d: flow %d is %+v, was %+v", tt.name, seed, i, f, plain[i])
				}
			}
			flows += len(at)
		}
		// Rare, and nothing would meet them.
		if nics < 30 || named < flows/100 {
			t.Errorf("%s: %d NICs with further addresses, %d of %d flows name one", tt.name, nics, named, flows)
		}
	}
}

func nic(c *Cloud, id string) *model.Instance {
	for _, in := range c.Instances {
		if in.ID == id {
			return in
		}
	}
	return nil
}

// TestMoreIPv6Locals: MoreIPv6's rules differ from Full's only in local
// sides that hold further IPv6 addresses of their VPC and no first one.
func TestMoreIPv6Locals(t *testing.T) {
	narrowed := 0
	for seed := range uint64(30) {
		got, want := Generate(seed, MoreIPv6), Generate(seed, Full)
		var first, further []netip.Addr
		for _, in := range got.Instances {
			if in.IPv6.IsValid() {
				first = append(first, in.IPv6)
			}
			further = append(further, in.MoreIPv6...)
		}
		for gi, g := range got.Groups {
			for ri := range g.Rules {
				r, w := g.Rules[ri], want.Groups[gi].Rules[ri]
				if r.Local == w.Local {
					continue
				}
				narrowed++
				if slices.ContainsFunc(first, r.Local.Contains) || !slices.ContainsFunc(further, r.Local.Contains) {
					t.Errorf("seed %d %s: local side %s holds a first IPv6 address or no further one", seed, r.ID, r.Local)
				}
				r.Local = w.Local
				if !reflect.DeepEqual(r, w) {
					t.Errorf("seed %d %s: the rule differs in more than its local side", seed, r.ID)
				}
			}
		}
	}
	if narrowed < 30 {
		t.Errorf("%d local sides narrowed in 30 clouds", narrowed)
	}
}
