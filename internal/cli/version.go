package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// versionText is what "palisade --version" prints: the module version (or
// "devel" for a build from a work tree), the VCS revision when the build
// recorded one (not with -buildvcs=false), and the Go version.
func versionText(info *debug.BuildInfo, ok bool) string {
	version, rev, dirty := "devel", "", false
	goVersion := runtime.Version()
	if ok {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			version = v
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	out := "palisade " + version
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		out += " (" + rev
		if dirty {
			out += ", modified"
		}
		out += ")"
	}
	return out + " " + goVersion
}

func printVersion(stdout io.Writer) int {
	info, ok := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, versionText(info, ok))
	return 0
}
