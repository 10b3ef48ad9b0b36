package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// parseFlags parses a command's flags. Asking for help (-h, -help, --help
// before a "--") is not an error: the usage goes to stdout and the command
// exits 0. A bad flag is named on stderr with a pointer to --help, not
// followed by the whole usage, which would scroll the error out of sight.
// done says the command is finished, with exit code code.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, done bool) {
	if helpAsked(fs, args) {
		fs.SetOutput(stdout)
		fs.Usage()
		return 0, true
	}
	if parseQuiet(fs, args) != nil {
		return 2, true
	}
	return 0, false
}

// parseQuiet is fs.Parse, whose error is followed by a pointer to --help
// instead of the whole usage.
func parseQuiet(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	fs.Usage = func() { fmt.Fprintf(fs.Output(), "Run \"%s --help\" for its flags.\n", fs.Name()) }
	defer func() { fs.Usage = usage }()
	return fs.Parse(args)
}

// helpAsked reports whether -h, -help or --help is among the flags that
// fs.Parse reads: those before the first argument that is not a flag (or
// "--"), so that "lab exec i-1 ls -h" runs "ls -h".
func helpAsked(fs *flag.FlagSet, args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			return false
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if name == "h" || name == "help" {
			return true
		}
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
				i++ // its value
			}
		}
	}
	return false
}
