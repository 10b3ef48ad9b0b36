package lab

import (
	"bytes"
	"context"
	"os/exec"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// A saved lab can be found, used and taken down by another process, and
// Down leaves no namespace behind.
func TestLifecycle(t *testing.T) {
	needRoot(t)
	spec := SpecFromCloud(handCloud(), testLabName(t, "l"), 2, nil)
	l := upLab(t, spec)

	if _, err := Up(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second Up of the same lab: %v, want an 'already exists' error", err)
	}

	dir := t.TempDir()
	if err := l.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Spec, l.Spec) || !reflect.DeepEqual(got.Interfaces, l.Interfaces) {
		t.Errorf("loaded lab differs:\n%+v\nwant\n%+v", got, l)
	}

	// The instance's namespace has its addresses.
	var out bytes.Buffer
	cmd := exec.Command("ip", "-o", "addr", "show", "dev", "eth0")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := StartIn(got.InstanceNetns("i-a1"), cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	for _, want := range []string{"10.1.0.11/32", "2001:db8:a::11/128"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("eth0 of i-a1 lacks %s:\n%s", want, out.String())
		}
	}

	if err := Exec(got, "i-a1", []string{"grep", "-q", "eth0:", "/proc/net/dev"}); err != nil {
		t.Errorf("Exec: %v", err)
	}
	if err := Exec(got, "i-a1", []string{"grep", "-q", "pi-a1:", "/proc/net/dev"}); err == nil {
		t.Errorf("Exec in i-a1 sees the host's interface")
	}
	if err := Exec(got, "i-zz", []string{"true"}); err == nil {
		t.Errorf("Exec in an unknown instance succeeded")
	}
	if got.HostNetns("h0") == "" || got.HostNetns("h9") != "" {
		t.Errorf("HostNetns: h0 %q, h9 %q", got.HostNetns("h0"), got.HostNetns("h9"))
	}

	if err := got.Down(); err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, list)
	}
	if strings.Contains(string(list), nsPrefix(spec.Name)) {
		t.Errorf("namespaces left after Down:\n%s", list)
	}
	if _, err := Load(dir, spec.Name); err == nil {
		t.Errorf("the state file outlived Down")
	}
	if err := l.Down(); err != nil {
		t.Errorf("a second Down: %v", err)
	}
}

// An Up that fails half way (here: cancelled while building instances)
// removes what it built.
func TestUpCleansUpAfterFailure(t *testing.T) {
	needRoot(t)
	spec := SpecFromCloud(handCloud(), testLabName(t, "f"), 2, nil)
	t.Cleanup(func() { Remove(spec.Name) })
	// The shared namespaces (fabric, internet, 2 hosts) and two instances
	// start; then the context reports cancellation.
	ctx := &countdownCtx{Context: context.Background(), left: 6}
	if _, err := Up(ctx, spec); err == nil {
		t.Fatal("Up succeeded with a cancelled context")
	}
	if ctx.calls.Load() <= 4 {
		t.Fatalf("the context was consulted %d times: the failure came before any instance", ctx.calls.Load())
	}
	if left, _ := listNetns(nsPrefix(spec.Name)); len(left) > 0 {
		t.Errorf("namespaces left: %v", left)
	}
}

// countdownCtx is cancelled after its Err has been asked a number of times.
type countdownCtx struct {
	context.Context
	left  int64
	calls atomic.Int64
}

func (c *countdownCtx) Err() error {
	if c.calls.Add(1) > c.left {
		return context.Canceled
	}
	return nil
}
