package cli

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionText(t *testing.T) {
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "palisade devel go"},
		{"work tree, no vcs", &debug.BuildInfo{GoVersion: "go1.23.4", Main: debug.Module{Version: "(devel)"}}, true, "palisade devel go1.23.4"},
		{"release", &debug.BuildInfo{GoVersion: "go1.23.4", Main: debug.Module{Version: "v0.3.0"}}, true, "palisade v0.3.0 go1.23.4"},
		{"vcs", &debug.BuildInfo{GoVersion: "go1.23.4", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "c78d5ee0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}}, true,
			"palisade devel (c78d5ee01234, modified) go1.23.4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionText(tc.info, tc.ok); !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	for _, arg := range []string{"--version", "version", "-version"} {
		var out, errb bytes.Buffer
		if code := Main([]string{arg}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "palisade ") || !strings.Contains(out.String(), " go1.") {
			t.Errorf("palisade %s: exit %d, stdout %q, stderr %q", arg, code, out.String(), errb.String())
		}
	}
}
