package kerneltest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/ops"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/lab"
)

// TestAgentCrash kills an agent (SIGKILL) in the middle of a stream of
// policy changes and restarts it. Throughout, probes of flows that every
// policy of the stream denies must never be delivered, and a connection the
// policy allows, established before the crash, must keep working after the
// restart. After the restart the kernel must converge to the last policy.
func TestAgentCrash(t *testing.T) {
	needKernel(t)
	bin := buildPalisade(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	const keyID, secret = "LTAIcrashtest0000000", "crash-test-secret"
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"),
		AccessKeyID: keyID, AccessKeySecret: secret, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() { cancel(); <-served }()

	// A client A, a server B and an outsider C; B accepts TCP 7000 from A's
	// group and nothing else but what the stream below opens and closes.
	vpc := &model.VPC{ID: "vpc-crash", CIDR: netip.MustParsePrefix("10.9.0.0/16")}
	groupA := &model.SecurityGroup{ID: "sg-a", VpcID: vpc.ID, Type: model.Normal, InnerAccessPolicy: model.InnerAccept}
	groupB := &model.SecurityGroup{ID: "sg-b", VpcID: vpc.ID, Type: model.Normal, InnerAccessPolicy: model.InnerAccept,
		Rules: []model.Rule{{ID: "sgr-b-1", Direction: model.Ingress, Policy: model.Accept, Priority: 1, Protocol: model.TCP,
			PortRange: model.PortRange{Start: 7000, End: 7000}, Peer: model.Peer{GroupID: "sg-a"}, NicType: model.Intranet}}}
	groupC := &model.SecurityGroup{ID: "sg-c", VpcID: vpc.ID, Type: model.Normal, InnerAccessPolicy: model.InnerAccept}
	inst := func(id, ip, group string) *model.Instance {
		return &model.Instance{ID: id, VpcID: vpc.ID, PrivateIP: netip.MustParseAddr(ip), SecurityGroups: []string{group}}
	}
	a, b, c := inst("i-a", "10.9.0.10", "sg-a"), inst("i-b", "10.9.0.20", "sg-b"), inst("i-c", "10.9.0.30", "sg-c")
	if _, err := srv.Ops.Import(ctx, "cn-hangzhou", ops.Resources{VPCs: []*model.VPC{vpc},
		Groups: []*model.SecurityGroup{groupA, groupB, groupC}, Instances: []*model.Instance{a, b, c}}); err != nil {
		t.Fatal(err)
	}
	l, err := lab.Up(ctx, lab.Spec{Name: labName("c"), Hosts: []string{"h0", "h1"}, Instances: []lab.Instance{
		{ID: "i-a", VPC: vpc.ID, PrivateIP: a.PrivateIP, Host: "h0"},
		{ID: "i-b", VPC: vpc.ID, PrivateIP: b.PrivateIP, Host: "h1"},
		{ID: "i-c", VPC: vpc.ID, PrivateIP: c.PrivateIP, Host: "h0"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Down() })
	api, err := apiclient.New(srv.Addr, keyID, secret, "cn-hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	call := func(action string, params map[string]string) {
		t.Helper()
		if err := api.Call(ctx, action, params, nil, 0); err != nil {
			t.Fatalf("%s %v: %v", action, params, err)
		}
	}
	for _, in := range l.Spec.Instances {
		call("PalisadeBindInstance", map[string]string{"InstanceId": in.ID, "HostName": in.Host, "Interface": l.Interface(in.ID)})
	}

	agents := map[string]*exec.Cmd{}
	start := func(host string) {
		cmd := exec.Command(bin, "agent", "--server", srv.Addr, "--host", host, "--netns", l.HostNetns(host))
		cmd.Env = append(os.Environ(), "PALISADE_ACCESS_KEY_ID="+keyID, "PALISADE_ACCESS_KEY_SECRET="+secret)
		cmd.Stderr = &prefixWriter{t: t, prefix: "agent " + host}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		agents[host] = cmd
	}
	for _, h := range l.Spec.Hosts {
		start(h)
	}
	t.Cleanup(func() {
		for _, cmd := range agents {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	waitApplied(t, srv, "h0", "h1")

	// The established connection, allowed by sgr-b-1.
	ln, err := lab.Listen(l, "i-b", 7000)
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
	conn, err := lab.Dial(ctx, l, "i-a", netip.AddrPortFrom(b.PrivateIP, 7000))
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
	var probes, leaked atomic.Int64
	stopProbing := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopProbing:
				return
			default:
			}
			for i, r := range lab.ProbeWith(ctx, l, denied, lab.ProbeOptions{Timeout: 150 * time.Millisecond}) {
				probes.Add(1)
				if r.Err != nil {
					t.Errorf("probe %v: %v", denied[i], r.Err)
				}
				if r.Delivered {
					leaked.Add(1)
					t.Errorf("a denied flow was delivered: %+v (%s)", denied[i], r.Detail)
				}
			}
		}
	}()

	// The stream: open and close UDP 7100 from sg-a, move C in and out of a
	// group of its own, and kill B's agent half way, restarting it later.
	open7100 := map[string]string{"SecurityGroupId": "sg-b", "IpProtocol": "udp", "PortRange": "7100/7100", "SourceGroupId": "sg-a"}
	for i := range 30 {
		if i%2 == 0 {
			call("AuthorizeSecurityGroup", open7100)
		} else {
			call("RevokeSecurityGroup", open7100)
		}
		if i%5 == 0 {
			call("ModifySecurityGroupPolicy", map[string]string{"SecurityGroupId": "sg-c", "InnerAccessPolicy": []string{"Drop", "Accept"}[i/5%2]})
		}
		switch i {
		case 10:
			agents["h1"].Process.Signal(syscall.SIGKILL)
			agents["h1"].Wait()
			echo(t, conn, "while the agent is down")
		case 20:
			start("h1")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The stream ended with UDP 7100 closed (30 changes, the last a revoke).
	last, _ := srv.Store.Revision(ctx)
	waitRevision(t, srv, "h1", last)
	// Keep probing the restarted agent's policy for a while, and long
	// enough for a fair count on a slow machine.
	for deadline := time.Now().Add(30 * time.Second); probes.Load() < 50 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	close(stopProbing)
	wg.Wait()
	echo(t, conn, "after the restart")

	final := lab.ProbeWith(ctx, l, []lab.ProbeSpec{
		{From: "i-a", To: "i-b", Proto: model.UDP, Port: 7100},
		{From: "i-a", To: "i-b", Proto: model.TCP, Port: 7000, SourcePort: 41000},
	}, lab.ProbeOptions{Timeout: lab.RecheckTimeout})
	if final[0].Delivered || !final[1].Delivered {
		t.Errorf("after the restart: UDP 7100 delivered=%v (closed by the last change), TCP 7000 delivered=%v (allowed)", final[0].Delivered, final[1].Delivered)
	}
	if probes.Load() < 50 || leaked.Load() != 0 {
		t.Fatalf("%d probes of denied flows, %d delivered", probes.Load(), leaked.Load())
	}
	t.Logf("%d probes of denied flows during 30 changes and an agent crash; none delivered", probes.Load())
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

// waitApplied waits until each host has applied the store's revision.
func waitApplied(t *testing.T, srv *server.Server, hosts ...string) {
	t.Helper()
	rev, err := srv.Store.Revision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		waitRevision(t, srv, h, rev)
	}
}

func waitRevision(t *testing.T, srv *server.Server, host string, rev int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for srv.Ops.AppliedRevision(host) < rev {
		if time.Now().After(deadline) {
			t.Fatalf("host %s applied revision %d, want %d", host, srv.Ops.AppliedRevision(host), rev)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// buildPalisade builds the palisade binary once per test process.
func buildPalisade(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "palisade-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "palisade")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, "../../../cmd/palisade").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

// prefixWriter logs a child's output through the test.
type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s: %s", w.prefix, b)
	return len(b), nil
}
