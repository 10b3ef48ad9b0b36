package nft

import (
	"errors"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// plug creates an "instance" namespace wired to the host namespace by a veth
// pair: hostIf in the host with gw/24, eth0 in the instance with addr/24 and
// a default route through the host.
func plug(t *testing.T, host, hostIf, addr, gw string) string {
	t.Helper()
	return plugTB(t, host, hostIf, addr, gw)
}

func plugTB(t testing.TB, host, hostIf, addr, gw string) string {
	t.Helper()
	ns := newNetns(t, hostIf)
	run(t, "ip", "-n", host, "link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", ns)
	run(t, "ip", "-n", host, "addr", "add", gw+"/24", "dev", hostIf)
	run(t, "ip", "-n", host, "link", "set", hostIf, "up")
	run(t, "ip", "-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
	run(t, "ip", "-n", ns, "link", "set", "eth0", "up")
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	run(t, "ip", "-n", ns, "route", "add", "default", "via", gw)
	return ns
}

// listen accepts connections on the ports in a namespace until the test ends.
func listen(t *testing.T, ns, addr string, ports ...int) {
	t.Helper()
	for _, p := range ports {
		var l net.Listener
		inNetns(t, ns, func() {
			var err error
			if l, err = net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(p))); err != nil {
				t.Fatal(err)
			}
		})
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
}

// connect reports whether a TCP connection from a namespace succeeds. A
// dropped SYN shows as a timeout; a refused one (no listener) fails the test,
// since it would not tell a drop from a misconfigured test.
func connect(t *testing.T, ns, addr string, port int) bool {
	t.Helper()
	return connectFrom(t, ns, "", addr, port)
}

// connectFrom is connect from a given source address of the namespace
// ("" lets the kernel pick).
func connectFrom(t *testing.T, ns, src, addr string, port int) bool {
	t.Helper()
	var err error
	inNetns(t, ns, func() {
		d := net.Dialer{Timeout: 2 * time.Second} // patient: a loaded machine is not a drop
		if src != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
		}
		var c net.Conn
		c, err = d.Dial("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
		if err == nil {
			c.Close()
		}
	})
	var ne net.Error
	if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("connect %s → %s:%d: %v", ns, addr, port, err)
	}
	return err == nil
}

// TestPackets sends real TCP connections through the host namespace:
// i-app (behind pi-app) and i-web1 (behind pi-web1) are instances of
// webCloud; pi-c is an interface no instance owns.
func TestPackets(t *testing.T) {
	needKernel(t)
	merged := func(c *policy.Cloud, host string, o Options) *Ruleset {
		o.MergeRuns = true
		return Build(c, host, o)
	}
	// Merged rules in verdict maps going to label chains: counted by the
	// maps' elements, like the tuple sets'.
	flowLog := func(c *policy.Cloud, host string, o Options) *Ruleset {
		o.MergeRuns, o.FlowLog = true, true
		return Build(c, host, o)
	}
	for _, l := range []struct {
		name  string
		build func(*policy.Cloud, string, Options) *Ruleset
	}{{"Build", Build}, {"BuildLinear", BuildLinear}, {"Build+MergeRuns", merged}, {"Build+MergeRuns+FlowLog", flowLog}} {
		t.Run(l.name, func(t *testing.T) { testPackets(t, l.build) })
	}
}

func testPackets(t *testing.T, build func(*policy.Cloud, string, Options) *Ruleset) {
	host := newNetns(t, "host")
	run(t, "ip", "netns", "exec", host, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	app := plug(t, host, "pi-app", "10.0.2.10", "10.0.2.1")
	web := plug(t, host, "pi-web1", "10.0.1.10", "10.0.1.1")
	stranger := plug(t, host, "pi-c", "10.0.3.10", "10.0.3.1")
	listen(t, web, "10.0.1.10", 80, 5432, 23)
	listen(t, app, "10.0.2.10", 80)

	// The namespaces are up; before any policy everything flows.
	if !connect(t, stranger, "10.0.1.10", 80) {
		t.Fatal("the test network does not forward; no policy was applied yet")
	}

	o := Options{InterfacePrefix: "pi-"}
	c, groups, ins := webCloud()
	k := openKernel(t, host)
	// The agent reads counters through a Kernel of their own, opened with
	// the one it applies with: it must see what the other applies.
	kc := openKernel(t, host)
	if _, err := kc.Counters(); err != nil {
		t.Fatal(err)
	}
	rs := build(c, "h1", o)
	apply(t, k, rs)
	t.Logf("%d rules, %d sets", countRules(rs), len(rs.Sets))
	flows := []struct {
		name     string
		from, to string
		port     int
		want     bool
	}{
		{"group peer sg-app may reach postgres", app, "10.0.1.10", 5432, true},
		{"0.0.0.0/0 may reach http", app, "10.0.1.10", 80, true},
		{"no rule for telnet: default ingress drop", app, "10.0.1.10", 23, false},
		{"i-app's ingress has no rule", web, "10.0.2.10", 80, false},
		{"an interface no instance owns is closed", stranger, "10.0.1.10", 80, false},
	}
	for _, f := range flows {
		if got := connect(t, f.from, f.to, f.port); got != f.want {
			t.Errorf("%s: connected=%v, want %v", f.name, got, f.want)
		}
	}

	pg := RuleKey{"sg-web", "sgr-pg"}
	for _, tbl := range []struct {
		name string
		k    *Kernel
	}{{"applying Kernel", k}, {"counter Kernel", kc}} {
		counters, err := tbl.k.Counters()
		if err != nil {
			t.Fatal(err)
		}
		for key, want := range map[RuleKey]uint64{pg: 1, {"sg-web", "sgr-http"}: 1, {"sg-web", "sgr-ssh"}: 0} {
			// Only a connection's first packet reaches the rules.
			if got, ok := counters[key]; !ok || got.Packets != want {
				t.Errorf("%s: counter of %v: %d packets (listed: %v), want %d", tbl.name, key, got.Packets, ok, want)
			}
		}
	}

	// Replacing sg-web's chain carries its counters into the new chain in
	// the kernel: a new Kernel (an agent restart) still sees them.
	groups[0].Rules[3].PortRange = model.PortRange{Start: 2222, End: 2222}
	if st := apply(t, k, build(policy.NewCloud(groups, ins, nil), "h1", o)); st.ChainsAdded != 1 {
		t.Fatalf("rule change: %+v, want one chain replaced", st)
	}
	if !connect(t, app, "10.0.1.10", 5432) {
		t.Error("postgres no longer reachable after an unrelated rule changed")
	}
	// The same Kernel still counts the http connection, whether its rule
	// was carried in the kernel or (a merged rule) in memory.
	for _, tbl := range []struct {
		name string
		k    *Kernel
	}{{"applying Kernel", k}, {"counter Kernel", kc}} {
		now, err := tbl.k.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if got := now[RuleKey{"sg-web", "sgr-http"}].Packets; got != 1 {
			t.Errorf("%s: counter of sgr-http after its chain was replaced: %d packets, want 1", tbl.name, got)
		}
	}
	k2 := openKernel(t, host)
	after, err := k2.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if got := after[pg].Packets; got != 2 {
		t.Errorf("counter of %v after the chain was replaced and one more connection: %d packets, want 2", pg, got)
	}
	if m := regexp.MustCompile(`tcp dport 5432 ip saddr \S+( \S+)*? counter packets (\d+)`).FindStringSubmatch(nftIn(t, host, "list", "table", "inet", "palisade")); len(m) < 3 || m[2] != "2" {
		t.Errorf("the kernel's sgr-pg rule: %v, want counter packets 2", m)
	}
}

// TestKernelFailClosed: a table that holds no policy (missing, or
// flushed, its chains left empty) is given the fail-closed one, which drops the
// traffic of instance interfaces; a table holding a policy is left as it
// is. Real packets tell.
func TestKernelFailClosed(t *testing.T) {
	needKernel(t)
	host := newNetns(t, "fc")
	run(t, "ip", "netns", "exec", host, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	app := plug(t, host, "pi-app", "10.0.2.10", "10.0.2.1")
	listen(t, plug(t, host, "pi-web1", "10.0.1.10", "10.0.1.1"), "10.0.1.10", 80)
	const web = "10.0.1.10"
	o := Options{InterfacePrefix: "pi-"}
	closed := Build(policy.NewCloud(nil, nil, nil), "h1", o)
	c, _, _ := webCloud()
	policyRS := Build(c, "h1", o)
	k := openKernel(t, host)
	for _, step := range []struct {
		name    string
		before  func()
		applied bool // FailClosed applies the fail-closed ruleset
		flows   bool // i-app reaches i-web1's http after it
	}{
		{"no table", func() {}, true, false},
		{"the table holds a policy", func() { apply(t, k, policyRS) }, false, true},
		{"the table flushed", func() { nftIn(t, host, "flush", "table", "inet", "palisade") }, true, false},
	} {
		step.before()
		applied, err := k.FailClosed(closed)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if applied != step.applied {
			t.Errorf("%s: applied the fail-closed ruleset: %v, want %v", step.name, applied, step.applied)
		}
		if got := connect(t, app, web, 80); got != step.flows {
			t.Errorf("%s: i-app reaches i-web1: %v, want %v", step.name, got, step.flows)
		}
	}
}
