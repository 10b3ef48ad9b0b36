package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/dataplane/agent"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/lab"
)

// NeedKernel skips the test unless it can build network namespaces and
// program nftables.
func NeedKernel(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces and nftables)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nftables (apt-get install nftables)")
	}
}

var labSeq atomic.Int32

// LabName is a short lab name unique to this process (namespace names are
// built from it and must stay short).
func LabName(prefix string) string {
	return fmt.Sprintf("%s%d%d", prefix, os.Getpid()%10000, labSeq.Add(1))
}

// UpLab builds a lab and takes it down when the test ends, pass or fail.
func UpLab(t TB, spec lab.Spec) *lab.Lab {
	t.Helper()
	l, err := lab.Up(context.Background(), spec)
	if err != nil {
		t.Fatalf("lab up %s: %v", spec.Name, err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab down %s: %v", spec.Name, err)
		}
	})
	return l
}

// Lab is a lab whose instances the server knows are bound to their lab
// hosts and interfaces, ready for agents.
type Lab struct {
	*lab.Lab
	Server *Server
	API    *apiclient.Client // the first tenant's client
	// Operator is the operator's client, which binds the instances.
	Operator *apiclient.Client
	// AgentServers, if set, is the --server list agent processes get
	// (several servers of one installation); "" is Server's address.
	AgentServers string
}

// StartLab builds the lab for spec and binds each of its instances on the
// server (PalisadeBindInstance) to its host and interface. The instances
// must exist on the server already.
func StartLab(t TB, srv *Server, spec lab.Spec) *Lab {
	t.Helper()
	l := &Lab{Lab: UpLab(t, spec), Server: srv, API: srv.API(t), Operator: srv.Operator(t)}
	for _, in := range l.Spec.Instances {
		if err := l.Operator.Call(context.Background(), "PalisadeBindInstance",
			map[string]string{"InstanceId": in.ID, "HostName": in.Host, "Interface": l.Interface(in.ID)}, nil, 0); err != nil {
			t.Fatalf("bind %s to %s: %v", in.ID, in.Host, err)
		}
	}
	return l
}

// AgentConfig is an in-process agent's configuration for host: the
// operator's key, the host's namespace, the lab's interfaces, merged runs and
// a quiet log. Change what a test needs before RunAgent.
func (l *Lab) AgentConfig(host string) agent.Config {
	return agent.Config{Server: l.Server.Addr, AccessKeyID: l.Server.OperatorKeyID, Secret: l.Server.OperatorSecret, Host: host,
		Netns: l.HostNetns(host), NFT: nft.Options{InterfacePrefix: lab.IfacePrefix, MergeRuns: true}, Log: Quiet()}
}

// RunAgent runs an agent in this process until the test ends; the
// clean-up stops it and waits for it to return.
func (l *Lab) RunAgent(t TB, cfg agent.Config) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		agent.Run(ctx, cfg)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// StartAgentProcess runs `palisade agent` (bin from BuildPalisade) for host
// as a child process, so a test can kill it; the clean-up kills it if it
// still runs. Its standard error goes to the test log.
func (l *Lab) StartAgentProcess(t TB, bin, host string) *exec.Cmd {
	t.Helper()
	servers := l.Server.Addr
	if l.AgentServers != "" {
		servers = l.AgentServers
	}
	cmd := exec.Command(bin, "agent", "--server", servers, "--host", host, "--netns", l.HostNetns(host))
	cmd.Env = append(os.Environ(), "PALISADE_ACCESS_KEY_ID="+l.Server.OperatorKeyID, "PALISADE_ACCESS_KEY_SECRET="+l.Server.OperatorSecret)
	cmd.Stderr = prefixWriter{t, "agent " + host}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start agent %s: %v", host, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// WaitApplied waits until each host has applied the store's current
// revision.
func (l *Lab) WaitApplied(t TB, hosts ...string) {
	t.Helper()
	l.Server.WaitApplied(t, hosts...)
}

// WaitApplied waits until each host's agent has applied the store's
// current revision.
func (s *Server) WaitApplied(t TB, hosts ...string) {
	t.Helper()
	rev, err := s.Store.Revision(context.Background())
	if err != nil {
		t.Fatalf("revision: %v", err)
	}
	for _, h := range hosts {
		s.WaitRevision(t, h, rev)
	}
}

// WaitRevision waits (30 s at most) until host's agent has applied rev.
func (s *Server) WaitRevision(t TB, host string, rev int64) {
	t.Helper()
	Eventually(t, 30*time.Second, func() (bool, string) {
		got := s.Ops.AppliedRevision(host)
		return got >= rev, fmt.Sprintf("host %s applied revision %d, want %d", host, got, rev)
	})
}

// Eventually polls cond until it holds, failing the test with cond's last
// explanation when timeout passes first. Tests wait on an observable
// condition with it instead of sleeping and hoping.
func Eventually(t TB, timeout time.Duration, cond func() (ok bool, why string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// BuildPalisade builds the palisade binary once per process and returns
// its path. A package that calls it runs its tests through Main, which
// removes the binary (100 MB) when they end.
func BuildPalisade(t TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "palisade-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "palisade")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, "github.com/palisade-sg/palisade/cmd/palisade").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatalf("%v", buildOnce.err)
	}
	return buildOnce.path
}

// Main runs a package's tests (from its TestMain) and removes what
// BuildPalisade built for them; it returns the exit code.
func Main(m interface{ Run() int }) int {
	code := m.Run()
	if buildOnce.path != "" {
		os.RemoveAll(filepath.Dir(buildOnce.path))
	}
	return code
}

// prefixWriter logs a child's output through the test.
type prefixWriter struct {
	t      TB
	prefix string
}

func (w prefixWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s: %s", w.prefix, b)
	return len(b), nil
}
