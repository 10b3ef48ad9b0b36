package labctl

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestRemoveStore: a lab's store goes whole, its flow records' folder
// included, and another lab's (a name that only starts the same) stays.
func TestRemoveStore(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.db", "a.db-wal", "a.db.events", "a.db.flows/seg-1", "a.db.server-id", "ab.db", "ab.db.flows/seg-1", "a-server.log"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removeStore(dir, "a")
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			left = append(left, rel)
		}
		return nil
	})
	slices.Sort(left)
	if want := []string{"a-server.log", "ab.db", "ab.db.flows/seg-1"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

// TestDownRefusesABadName: a name that is not a lab's ("*", a path) is
// refused before anything is removed: it makes the globs of Down.
func TestDownRefusesABadName(t *testing.T) {
	for _, name := range []string{"*", "a*", "../x", ""} {
		if err := Down(name, &Control{}); err == nil || !strings.Contains(err.Error(), "lowercase letters and digits") {
			t.Errorf("Down(%q): %v; want the name refused", name, err)
		}
	}
}

// TestLabAgentsFlowState: the agents of one host name in two labs mark
// their flow-log windows in files of their own, in the lab's folder (not
// the agent's default, named by the host alone), and a lab's down removes
// its agents' and no other lab's.
func TestLabAgentsFlowState(t *testing.T) {
	dir := t.TempDir()
	stateOf := func(args []string) string {
		i := slices.Index(args, "--flow-state")
		if i < 0 || i+1 >= len(args) {
			t.Fatalf("agent arguments %v: no --flow-state", args)
		}
		return args[i+1]
	}
	paths := map[string]string{}
	for _, name := range []string{"a", "ab", "b"} {
		p := stateOf(agentArgs(dir, name, "127.0.0.1:1", "h0", "pl-"+name+"-host-h0"))
		if filepath.Dir(p) != dir {
			t.Errorf("lab %s: flow state %s, want a file in the lab's folder %s", name, p, dir)
		}
		for other, q := range paths {
			if q == p {
				t.Errorf("labs %s and %s: one flow state file %s for their agents of h0", other, name, p)
			}
		}
		paths[name] = p
		if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removeFiles(dir, "a")
	for name, p := range paths {
		_, err := os.Stat(p)
		if gone := os.IsNotExist(err); gone != (name == "a") {
			t.Errorf("after lab a's down, lab %s's flow state %s gone: %v", name, p, gone)
		}
	}
}

// TestDownStopsOnlyTheLabsProcesses: of the pids a lab's control lists,
// Down signals those that still are the lab's server or agents; a pid
// since taken by another process (the lab's exited, the pid was reused)
// is left alone.
func TestDownStopsOnlyTheLabsProcesses(t *testing.T) {
	dir := t.TempDir()
	// sh -c CMD ARG0 ARG1…: the arguments stay on its command line, which
	// is sh's once it says so.
	start := func(args ...string) *exec.Cmd {
		c := exec.Command("sh", append([]string{"-c", "echo ready; sleep 30"}, args...)...)
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name string
		args []string
		ours bool
	}{
		{"the lab's server", []string{"serve", "--db", filepath.Join(dir, "a.db")}, true},
		{"the lab's agent", []string{"agent", "--netns", "pl-a-host-h0"}, true},
		{"another lab's agent", []string{"agent", "--netns", "pl-ab-host-h0"}, false},
		{"another lab's server", []string{"serve", "--db", filepath.Join(dir, "ab.db")}, false},
		{"a process that took the pid", []string{"sh"}, false},
	} {
		c := start(tc.args...)
		stopped := stopProcesses([]int{c.Process.Pid}, dir, "a")
		if got := len(stopped) == 1; got != tc.ours {
			t.Errorf("%s: signalled %v, want %v", tc.name, got, tc.ours)
		}
		if !tc.ours {
			if err := c.Process.Signal(syscall.Signal(0)); err != nil {
				t.Errorf("%s: gone (%v), want it running", tc.name, err)
			}
		}
	}
}
