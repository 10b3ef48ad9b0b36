package kerneltest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestAgentCrash kills an agent (SIGKILL) in the middle of a stream of
// policy changes and restarts it. Throughout, probes of flows that every
// policy of the stream denies must never be delivered, and a connection the
// policy allows, established before the crash, must keep working after the
// restart. After the restart the kernel must converge to the last policy.
// On two servers of one etcd installation, the agents are given both and
// the first server stops half way (between the crash and the restart): the
// stream goes on through the second, which the agents move to.
func TestAgentCrash(t *testing.T) {
	testenv.NeedKernel(t)
	bin := testenv.BuildPalisade(t)
	for _, tc := range []struct {
		name    string
		servers int
	}{{"one server", 1}, {"two servers on etcd", 2}} {
		t.Run(tc.name, func(t *testing.T) { agentCrash(t, bin, tc.servers) })
	}
}

func agentCrash(t *testing.T, bin string, servers int) {
	ctx := context.Background()
	srvs := []*testenv.Server{testenv.Start(t, testenv.Config{Log: testenv.Quiet()})}
	if servers > 1 {
		srvs = testenv.StartCluster(t, servers, testenv.Config{Log: testenv.Quiet()})
	}
	srv := srvs[0]

	// A client A, a server B and an outsider C; B accepts TCP 7000 from A's
	// group and nothing else but what the stream below opens and closes.
	vpc := &model.VPC{ID: "vpc-crash", CIDR: netip.MustParsePrefix("10.9.0.0/16")}
	groupA := modeltest.Group("sg-a", vpc.ID, "basic")
	groupB := modeltest.Group("sg-b", vpc.ID, "basic", modeltest.Rule("sgr-b-1", "in accept 1 TCP 7000/7000 sg-a"))
	groupC := modeltest.Group("sg-c", vpc.ID, "basic")
	inst := func(id, ip, group string) *model.Instance { return modeltest.Instance(id, vpc.ID, ip, group) }
	a, b, c := inst("i-a", "10.9.0.10", "sg-a"), inst("i-b", "10.9.0.20", "sg-b"), inst("i-c", "10.9.0.30", "sg-c")
	if _, err := srv.Ops.Import(ctx, "cn-hangzhou", api.Resources{VPCs: []*model.VPC{vpc},
		Groups: []*model.SecurityGroup{groupA, groupB, groupC}, Instances: []*model.Instance{a, b, c}}); err != nil {
		t.Fatal(err)
	}
	l := testenv.StartLab(t, srv, lab.Spec{Name: testenv.LabName("c"), Hosts: []string{"h0", "h1"}, Instances: []lab.Instance{
		{ID: "i-a", VPC: vpc.ID, PrivateIP: a.PrivateIP, Host: "h0"},
		{ID: "i-b", VPC: vpc.ID, PrivateIP: b.PrivateIP, Host: "h1"},
		{ID: "i-c", VPC: vpc.ID, PrivateIP: c.PrivateIP, Host: "h0"}}})
	if servers > 1 {
		var addrs []string
		for _, s := range srvs {
			addrs = append(addrs, s.Addr)
		}
		l.AgentServers = strings.Join(addrs, ",")
	}
	api := l.API
	call := func(action string, params map[string]string) {
		t.Helper()
		if err := api.Call(ctx, action, params, nil, 0); err != nil {
			t.Fatalf("%s %v: %v", action, params, err)
		}
	}
	agents := map[string]*exec.Cmd{}
	for _, h := range l.Spec.Hosts {
		agents[h] = l.StartAgentProcess(t, bin, h)
	}
	l.WaitApplied(t, "h0", "h1")

	// The established connection, allowed by sgr-b-1.
	ln, err := lab.Listen(l.Lab, "i-b", 7000)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(conn, conn) // echo
		}
	}()
	conn, err := lab.Dial(ctx, l.Lab, "i-a", netip.AddrPortFrom(b.PrivateIP, 7000))
	if err != nil {
		t.Fatalf("the allowed connection did not open: %v", err)
	}
	defer conn.Close()
	echo(t, conn, "before")

	// Flows every policy of the stream denies, probed all along.
	denied := []lab.ProbeSpec{
		{From: "i-c", To: "i-b", Proto: model.TCP, Port: 7000}, // C is not in sg-a
		{From: "i-a", To: "i-b", Proto: model.TCP, Port: 7200}, // never opened
		{From: "i-c", To: "i-b", Proto: model.UDP, Port: 7100}, // the stream opens 7100 to sg-a only
		{From: "i-c", To: "i-b", Proto: model.ICMP},            // no ICMP rule
		{From: "i-a", To: "i-b", Proto: model.GRE},             // no GRE rule
	}
	var probes, leaked, rounds atomic.Int64
	stopProbing := make(chan struct{})
	var wg sync.WaitGroup
	stop := sync.OnceFunc(func() { close(stopProbing); wg.Wait() })
	defer stop() // also on a failure, before the test's end: the prober logs through t
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopProbing:
				return
			default:
			}
			for i, r := range lab.ProbeWith(ctx, l.Lab, denied, lab.ProbeOptions{Timeout: 150 * time.Millisecond}) {
				probes.Add(1)
				if r.Err != nil {
					t.Errorf("probe %v: %v", denied[i], r.Err)
				}
				if r.Delivered {
					leaked.Add(1)
					t.Errorf("a denied flow was delivered: %+v (%s)", denied[i], r.Detail)
				}
			}
			rounds.Add(1)
		}
	}()
	// afterChange waits until a whole round of probes has run after a
	// change, so every state of the stream meets the probes (the round in
	// flight when the change was made may have started before it).
	afterChange := func() {
		t.Helper()
		from := rounds.Load()
		testenv.Eventually(t, 30*time.Second, func() (bool, string) {
			return rounds.Load() >= from+2, "the prober did not finish a round after the change"
		})
	}

	// The stream: open and close UDP 7100 from sg-a, move C in and out of a
	// group of its own, and kill B's agent half way, restarting it later.
	open7100 := map[string]string{"SecurityGroupId": "sg-b", "IpProtocol": "udp", "PortRange": "7100/7100", "SourceGroupId": "sg-a"}
	// The variant on two servers is shorter: it adds the server's
	// failover to what the first shows.
	changes, minProbes := 30, int64(50)
	if servers > 1 {
		changes, minProbes = 12, 20
	}
	for i := range changes {
		if i%2 == 0 {
			call("AuthorizeSecurityGroup", open7100)
		} else {
			call("RevokeSecurityGroup", open7100)
		}
		if i%5 == 0 {
			call("ModifySecurityGroupPolicy", map[string]string{"SecurityGroupId": "sg-c", "InnerAccessPolicy": []string{"Drop", "Accept"}[i/5%2]})
		}
		switch i {
		case changes / 3:
			agents["h1"].Process.Signal(syscall.SIGKILL)
			agents["h1"].Wait()
			echo(t, conn, "while the agent is down")
		case changes / 2:
			if servers > 1 {
				// The first server goes; the last one serves the rest.
				srv.Stop()
				srv = srvs[len(srvs)-1]
				api = srv.API(t)
			}
		case 2 * changes / 3:
			agents["h1"] = l.StartAgentProcess(t, bin, "h1")
		}
		afterChange()
	}
	// The stream ended with UDP 7100 closed (an even number of changes, the
	// last a revoke).
	last, _ := srv.Store.Revision(ctx)
	srv.WaitRevision(t, "h1", last)
	// Keep probing the restarted agent's policy for another round at least,
	// and long enough for a fair count.
	afterChange()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		return probes.Load() >= minProbes, fmt.Sprintf("%d probes of denied flows, want %d", probes.Load(), minProbes)
	})
	stop()
	echo(t, conn, "after the restart")

	final := lab.ProbeWith(ctx, l.Lab, []lab.ProbeSpec{
		{From: "i-a", To: "i-b", Proto: model.UDP, Port: 7100},
		{From: "i-a", To: "i-b", Proto: model.TCP, Port: 7000, SourcePort: 41000},
	}, lab.ProbeOptions{Timeout: lab.RecheckTimeout})
	if final[0].Delivered || !final[1].Delivered {
		t.Errorf("after the restart: UDP 7100 delivered=%v (closed by the last change), TCP 7000 delivered=%v (allowed)", final[0].Delivered, final[1].Delivered)
	}
	if probes.Load() < minProbes || leaked.Load() != 0 {
		t.Fatalf("%d probes of denied flows, %d delivered", probes.Load(), leaked.Load())
	}
	t.Logf("%d probes of denied flows during %d changes and an agent crash; none delivered", probes.Load(), changes)
}

func echo(t *testing.T, conn net.Conn, when string) {
	t.Helper()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	msg := []byte("ping " + when)
	if _, err := conn.Write(msg); err != nil {
		t.Fatalf("the established connection broke %s: %v", when, err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != string(msg) {
		t.Fatalf("the established connection broke %s: %v %q", when, err, buf)
	}
}
