package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/testkit/signedpost"
)

// threadsAtNice counts this process's threads whose nice value is n.
func threadsAtNice(t *testing.T, n string) int {
	tasks, err := filepath.Glob("/proc/self/task/*/stat")
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		s := string(b)
		// The fields after the command name: state is the 3rd field, nice the 19th.
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]); len(f) > 16 && f[16] == n {
			count++
		}
	}
	return count
}

// TestAnalysesRunNiced: an analysis request runs on a thread at
// DefaultAnalysisNice (kept idle for the next one afterwards); an ordinary
// request makes none.
func TestAnalysesRunNiced(t *testing.T) {
	s := startLimited(t, Limits{})
	nice := "10"
	if threadsAtNice(t, nice) != 0 {
		t.Skip("this process already has threads at nice 10")
	}
	post := func(p map[string]string) {
		if _, err := signedpost.Post(context.Background(), http.DefaultClient, s.Addr, s.Key.ID, s.Key.Secret, p); err != nil {
			t.Fatalf("%s: %v", p["Action"], err)
		}
	}
	post(map[string]string{"Action": "DescribeRegions"})
	if n := threadsAtNice(t, nice); n != 0 {
		t.Errorf("after an ordinary request: %d threads at nice %s, want 0", n, nice)
	}
	post(map[string]string{"Action": "PalisadeDescribeReachability"})
	if n := threadsAtNice(t, nice); n != 1 {
		t.Errorf("after an analysis: %d threads at nice %s, want 1 (kept for the next)", n, nice)
	}
}
