package kerneltest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"golang.org/x/sys/unix"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/dataplane/sessions"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestDeniedSessionsAreCut: established connections (TCP, and a UDP flow
// with replies) that a change through the API denies are cut, as in ECS,
// where only a session whose verdict becomes drop is affected: a rule
// revoked (TCP 8080), a higher-priority Drop rule added (UDP 5353), the
// client moved out of the group a rule admits (TCP 8082; moved as ECS
// advises, into its new group first). Their next packets no longer pass,
// while connections another rule still accepts (TCP 8081, UDP 5354) keep
// flowing. With the server on the
// client's host, and on a host of its own (whose agent enforces the
// ingress side that now drops).
func TestDeniedSessionsAreCut(t *testing.T) {
	testenv.NeedKernel(t)
	for _, tc := range []struct {
		name    string
		srvHost string
	}{
		{"one host", "h0"},
		{"two hosts", "h1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
			vpc := &model.VPC{ID: "vpc-cut", CIDR: netip.MustParsePrefix("10.6.0.0/16")}
			res := api.Resources{VPCs: []*model.VPC{vpc}, Groups: []*model.SecurityGroup{
				modeltest.Group("sg-cli", vpc.ID, "isolated"),
				modeltest.Group("sg-other", vpc.ID, "isolated"),
				modeltest.Group("sg-srv", vpc.ID, "isolated",
					modeltest.Rule("sgr-from-cli", "in accept 1 TCP 8082/8082 sg-cli"),
					modeltest.Rule("sgr-tcp-cut", "in accept 1 TCP 8080/8080 10.6.0.0/16"),
					modeltest.Rule("sgr-tcp-kept", "in accept 1 TCP 8081/8081 10.6.0.0/16"),
					modeltest.Rule("sgr-udp", "in accept 5 UDP 5353/5354 10.6.0.0/16"))},
				Instances: []*model.Instance{
					modeltest.Instance("i-cli", vpc.ID, "10.6.0.10", "sg-cli"),
					modeltest.Instance("i-srv", vpc.ID, "10.6.0.20", "sg-srv")}}
			if _, err := srv.Ops.Import(ctx, "cn-hangzhou", res); err != nil {
				t.Fatal(err)
			}
			hosts := []string{"h0"}
			if tc.srvHost != "h0" {
				hosts = append(hosts, tc.srvHost)
			}
			l := testenv.StartLab(t, srv, lab.Spec{Name: testenv.LabName("s"), Hosts: hosts, Instances: []lab.Instance{
				{ID: "i-cli", VPC: vpc.ID, PrivateIP: netip.MustParseAddr("10.6.0.10"), Host: "h0"},
				{ID: "i-srv", VPC: vpc.ID, PrivateIP: netip.MustParseAddr("10.6.0.20"), Host: tc.srvHost}}})
			cut := map[string]*atomic.Int64{}
			for _, h := range hosts {
				n := &atomic.Int64{}
				cut[h] = n
				cfg := l.AgentConfig(h)
				cfg.OnCut = func(r sessions.Result) { n.Add(int64(r.Cut)) }
				l.RunAgent(t, cfg)
			}
			l.WaitApplied(t, hosts...)

			// Echo servers on i-srv, clients on i-cli.
			srvNs, cliNs := l.InstanceNetns("i-srv"), l.InstanceNetns("i-cli")
			for _, port := range []int{8080, 8081, 8082} {
				echoTCP(t, srvNs, fmt.Sprintf("10.6.0.20:%d", port))
			}
			for _, port := range []int{5353, 5354} {
				echoUDP(t, srvNs, fmt.Sprintf("10.6.0.20:%d", port))
			}
			conns := map[string]net.Conn{}
			for _, c := range []struct{ name, network, addr string }{
				{"tcp 8080", "tcp", "10.6.0.20:8080"}, {"tcp 8081", "tcp", "10.6.0.20:8081"}, {"tcp 8082", "tcp", "10.6.0.20:8082"},
				{"udp 5353", "udp", "10.6.0.20:5353"}, {"udp 5354", "udp", "10.6.0.20:5354"},
			} {
				conn := dialIn(t, cliNs, c.network, c.addr)
				conns[c.name] = conn
				if err := echoes(conn, "hello", 10*time.Second); err != nil {
					t.Fatalf("%s before the change: %v", c.name, err)
				}
			}

			// The changes, through the API.
			ec := srv.ECS(t)
			rv := ecs.CreateRevokeSecurityGroupRequest()
			rv.SecurityGroupId, rv.SecurityGroupRuleId = "sg-srv", &[]string{"sgr-tcp-cut"}
			if _, err := ec.RevokeSecurityGroup(rv); err != nil {
				t.Fatal(err)
			}
			au := ecs.CreateAuthorizeSecurityGroupRequest()
			au.SecurityGroupId = "sg-srv"
			au.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{{Policy: "drop", Priority: "1", IpProtocol: "UDP", PortRange: "5353/5353", SourceCidrIp: "10.6.0.0/16"}}
			if _, err := ec.AuthorizeSecurityGroup(au); err != nil {
				t.Fatal(err)
			}
			join := ecs.CreateJoinSecurityGroupRequest()
			join.InstanceId, join.SecurityGroupId = "i-cli", "sg-other"
			if _, err := ec.JoinSecurityGroup(join); err != nil {
				t.Fatal(err)
			}
			leave := ecs.CreateLeaveSecurityGroupRequest()
			leave.InstanceId, leave.SecurityGroupId = "i-cli", "sg-cli"
			if _, err := ec.LeaveSecurityGroup(leave); err != nil {
				t.Fatal(err)
			}
			l.WaitApplied(t, hosts...)

			// The agent of the server's host cuts the three denied connections
			// (its NIC's ingress drops them now); the client's host, whose
			// egress still accepts them, leaves its own entries.
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				return cut[tc.srvHost].Load() == 3, fmt.Sprintf("the agent of %s cut %d connections, want 3", tc.srvHost, cut[tc.srvHost].Load())
			})
			if tc.srvHost != "h0" && cut["h0"].Load() != 0 {
				t.Errorf("the client's host cut %d connections; its side accepts them", cut["h0"].Load())
			}
			// (UDP 5354's entry, left alone, is not looked for: its 30 s
			// idle timeout may end it on a slow run; its echo below shows
			// it flows.)
			tracked := trackedPorts(t, l.HostNetns(tc.srvHost))
			for port, want := range map[uint16]bool{8080: false, 8081: true, 8082: false, 5353: false} {
				if tracked[port] != want {
					t.Errorf("port %d: tracked=%v on %s, want %v", port, tracked[port], tc.srvHost, want)
				}
			}

			// The cut connections' next packets are dropped; the others flow.
			for name, cutOff := range map[string]bool{"tcp 8080": true, "tcp 8081": false, "tcp 8082": true, "udp 5353": true, "udp 5354": false} {
				timeout := 10 * time.Second
				if cutOff {
					timeout = time.Second // an echo would take a millisecond
				}
				err := echoes(conns[name], "again", timeout)
				if cutOff && err == nil {
					t.Errorf("%s: the connection still flows after the change denied it", name)
				}
				if !cutOff && err != nil {
					t.Errorf("%s: the connection another rule accepts no longer flows: %v", name, err)
				}
			}
		})
	}
}

// inNetns runs fn on a thread in the named namespace: the sockets it opens
// stay there.
func inNetns(t *testing.T, ns string, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, in the other namespace
		f, err := os.Open(filepath.Join(nft.NetnsDir, ns))
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in %s: %v", ns, err)
	}
}

// echoTCP serves an echo on addr in a namespace until the test ends.
func echoTCP(t *testing.T, ns, addr string) {
	var ln net.Listener
	inNetns(t, ns, func() (err error) { ln, err = net.Listen("tcp", addr); return err })
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go func() {
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					c.Write(buf[:n])
				}
			}()
		}
	}()
}

// echoUDP sends each datagram back to its sender until the test ends.
func echoUDP(t *testing.T, ns, addr string) {
	var pc net.PacketConn
	inNetns(t, ns, func() (err error) { pc, err = net.ListenPacket("udp", addr); return err })
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
}

// dialIn connects from a namespace.
func dialIn(t *testing.T, ns, network, addr string) net.Conn {
	var c net.Conn
	inNetns(t, ns, func() (err error) { c, err = net.DialTimeout(network, addr, 10*time.Second); return err })
	t.Cleanup(func() { c.Close() })
	return c
}

// echoes sends msg and waits for it back.
func echoes(c net.Conn, msg string, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if !bytes.Equal(buf[:n], []byte(msg)) {
		return fmt.Errorf("echo %q, sent %q", buf[:n], msg)
	}
	return nil
}

// trackedPorts are the destination ports of the connections a namespace's
// conntrack holds.
func trackedPorts(t *testing.T, ns string) map[uint16]bool {
	t.Helper()
	k, err := sessions.Open(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	flows, err := k.Dump()
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint16]bool{}
	for _, f := range flows {
		out[f.TupleOrig.Proto.DestinationPort] = true
	}
	return out
}
