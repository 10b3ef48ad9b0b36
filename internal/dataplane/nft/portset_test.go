package nft

import (
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// portListCloud has one group whose TCP rule takes its ports from a list
// and whose UDP rule names a list the snapshot lacks.
func portListCloud(entries ...model.PortRange) *policy.Cloud {
	tcp := rule("r-web", model.Ingress, model.Accept, 1, model.TCP, "1/1", "0.0.0.0/0")
	tcp.PortRange, tcp.PortRangeListID = model.PortRange{}, "prl-web"
	ghost := rule("r-ghost", model.Ingress, model.Accept, 1, model.UDP, "1/1", "0.0.0.0/0")
	ghost.PortRange, ghost.PortRangeListID = model.PortRange{}, "prl-gone"
	l := &model.PortRangeList{ID: "prl-web", MaxEntries: 10}
	for _, r := range entries {
		l.Entries = append(l.Entries, model.PortEntry{Range: r})
	}
	groups := []*model.SecurityGroup{group("sg-x", "vpc-a", model.Normal, model.InnerDrop, tcp, ghost)}
	ins := []*model.Instance{inst("i-1", "vpc-a", "10.0.1.10", "pi-1", "sg-x")}
	return policy.NewCloud(groups, ins, nil).WithPortRangeLists([]*model.PortRangeList{l})
}

// TestBuildPortRangeList: a port-list rule is one rule testing the list's
// named interval set (ranges merged); a list the snapshot lacks matches
// nothing; the linear layout writes one rule per range.
func TestBuildPortRangeList(t *testing.T) {
	c := portListCloud(model.PortRange{Start: 8000, End: 8080}, model.PortRange{Start: 80, End: 80}, model.PortRange{Start: 8081, End: 8090})
	rs := Build(c, "h1", Options{})
	ch := chainOf(t, rs, IngressMap, "pi-1")
	var got []string
	for _, r := range ch.Rules[:len(ch.Rules)-1] {
		got = append(got, r.String())
	}
	if want := []string{`tcp dport @r_prl-web meta nfproto ipv4 counter return comment "sg-x/r-web"`}; !slices.Equal(got, want) {
		t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	i := slices.IndexFunc(rs.Sets, func(s Set) bool { return s.Name == "r_prl-web" })
	if i < 0 {
		t.Fatalf("no set r_prl-web in %v", rs.Sets)
	}
	if s := rs.Sets[i]; s.Type != PortSet || !s.Interval || !slices.Equal(elemKeys(&s), []string{"80", "8000-8090"}) {
		t.Errorf("set %+v holds %v", s, elemKeys(&s))
	}
	lin := BuildLinear(c, "h1", Options{})
	if s := lin.String(); !strings.Contains(s, "tcp dport 80 ") || !strings.Contains(s, "tcp dport 8000-8080 ") || strings.Contains(s, "@r_") {
		t.Errorf("the linear layout should write one rule per range:\n%s", s)
	}
}

// TestKernelPortRangeLists loads a port set, and changes the list: only the
// set's elements change, no chain.
func TestKernelPortRangeLists(t *testing.T) {
	needKernel(t)
	ns := newNetns(t, "prl")
	k := openKernel(t, ns)
	rs := Build(portListCloud(model.PortRange{Start: 80, End: 80}, model.PortRange{Start: 8000, End: 8080}, model.PortRange{Start: 65000, End: 65535}), "h1", Options{})
	apply(t, k, rs)
	checkListed(t, ns, rs)
	if got := apply(t, openKernel(t, ns), rs); !got.IsZero() {
		t.Errorf("reconcile: %+v, want nothing", got)
	}
	rs = Build(portListCloud(model.PortRange{Start: 80, End: 80}, model.PortRange{Start: 443, End: 443}), "h1", Options{})
	// The interval set is refilled: three ranges out, two in; no chain changes.
	if got, want := apply(t, k, rs), (Stats{ElementsDeleted: 3, ElementsAdded: 2}); got != want {
		t.Errorf("port-list change: %+v, want %+v", got, want)
	}
	checkListed(t, ns, rs)
}
