package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/apiclient"
)

// Defaults of the common client flags.
const (
	defaultEndpoint = "127.0.0.1:8080"
	defaultRegion   = "cn-hangzhou"
)

// command is one client subcommand, such as "sg show".
type command struct {
	name     string
	synopsis string // what follows "palisade GROUP NAME"
	summary  string
	min, max int // positional arguments allowed; max < 0 means no limit
	// setup declares the command's flags and returns the code that runs
	// once they are parsed.
	setup func(fs *flag.FlagSet) func(c *call) int
}

// call is one parsed client command, ready to talk to the API.
type call struct {
	stdout, stderr io.Writer
	args           []string // positional arguments
	region         string
	scheme         string // "http" or "https"
	json           bool   // print SDK responses as JSON
	ecs            *ecs.Client
	vpc            *vpc.Client
	ram            *ram.Client // RAM 2015-05-01: palisade key
	name           string      // "sg show", for messages
}

// operatorGroups are the client commands of the operator, which take the
// operator's pair from PALISADE_OPERATOR_KEY_ID/_SECRET when it is set.
var operatorGroups = map[string]bool{"account": true, "host": true}

// clientGroups lists the subcommands of each client command.
var clientGroups = map[string][]command{
	"sg":       sgCommands,
	"instance": instanceCommands,
	"vpc":      vpcCommands,
	"account":  accountCommands,
	"key":      keyCommands,
	"host":     hostCommands,
}

var clientSummaries = map[string]string{
	"sg":       "manage security groups and their rules",
	"instance": "manage instances and the groups they are in",
	"vpc":      "manage VPCs and vSwitches",
	"account":  "create, list and disable tenants, and set their quotas (with the operator's key: PALISADE_OPERATOR_KEY_ID/_SECRET when set, else PALISADE_ACCESS_KEY_ID/_SECRET)",
	"key":      "manage your account's access keys (RAM's CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey)",
	"host":     "issue host keys for agents (with the operator's key: PALISADE_OPERATOR_KEY_ID/_SECRET when set, else PALISADE_ACCESS_KEY_ID/_SECRET)",
}

// client runs "palisade sg|instance|vpc SUBCOMMAND ...".
func client(group string, args []string, stdout, stderr io.Writer) int {
	cmds := clientGroups[group]
	if len(args) == 0 {
		groupUsage(stderr, group, cmds)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		groupUsage(stdout, group, cmds)
		return 0
	}
	for i := range cmds {
		if cmds[i].name == args[0] {
			return runCommand(group, &cmds[i], args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "palisade %s: unknown command %q\n\n", group, args[0])
	groupUsage(stderr, group, cmds)
	return 2
}

func groupUsage(w io.Writer, group string, cmds []command) {
	fmt.Fprintf(w, "palisade %s: %s\n\nUsage:\n", group, clientSummaries[group])
	for _, c := range cmds {
		fmt.Fprintf(w, "  %s\n        %s\n", strings.TrimSpace("palisade "+group+" "+c.name+" "+c.synopsis), c.summary)
	}
	fmt.Fprintf(w, "\nEvery command takes --endpoint HOST:PORT (default $PALISADE_ENDPOINT or %s),\n"+
		"--region (default $PALISADE_REGION or %s) and --json. Run\n"+
		"\"palisade %s COMMAND --help\" for a command's flags.\n", defaultEndpoint, defaultRegion, group)
}

// runCommand parses a subcommand's flags and arguments, connects the SDK
// clients and runs it.
func runCommand(group string, cmd *command, args []string, stdout, stderr io.Writer) int {
	name := strings.TrimSpace(group + " " + cmd.name)
	fs := flag.NewFlagSet("palisade "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", envOr("PALISADE_ENDPOINT", defaultEndpoint), "API endpoint `HOST:PORT`, plain HTTP; prefix https:// for HTTPS")
	region := fs.String("region", envOr("PALISADE_REGION", defaultRegion), "region `ID`")
	asJSON := fs.Bool("json", false, "print the API response as indented JSON instead of a table")
	run := cmd.setup(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s.\n\nFlags:\n", strings.TrimSpace("palisade "+name+" "+cmd.synopsis), upperFirst(cmd.summary))
		fs.PrintDefaults()
	}

	flagArgs, pos, help := splitArgs(fs, args)
	if help {
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	}
	if err := parseQuiet(fs, flagArgs); err != nil {
		return 2 // the flag package has printed the error
	}
	if len(pos) < cmd.min || cmd.max >= 0 && len(pos) > cmd.max {
		want := fmt.Sprintf("%d", cmd.min)
		switch {
		case cmd.max < 0:
			want = "at least " + want
		case cmd.max != cmd.min:
			want = fmt.Sprintf("%d to %d", cmd.min, cmd.max)
		}
		fmt.Fprintf(stderr, "palisade %s: want %s argument(s), got %d\n", name, want, len(pos))
		fmt.Fprintf(stderr, "Usage: %s\n", strings.TrimSpace("palisade "+name+" "+cmd.synopsis))
		return 2
	}

	scheme, host, err := parseEndpoint(*endpoint)
	if err != nil {
		fmt.Fprintf(stderr, "palisade %s: %v\n", name, err)
		return 2
	}
	if *region == "" {
		fmt.Fprintf(stderr, "palisade %s: --region is empty\n", name)
		return 2
	}
	id, secret, ok := credentials()
	if operatorGroups[group] {
		// As serve printed it: the operator's pair beside the tenant's.
		if oid, osecret := os.Getenv("PALISADE_OPERATOR_KEY_ID"), os.Getenv("PALISADE_OPERATOR_KEY_SECRET"); oid != "" && osecret != "" {
			id, secret, ok = oid, osecret, true
		}
	}
	if !ok {
		fmt.Fprintf(stderr, "palisade %s: no access key: set PALISADE_ACCESS_KEY_ID and PALISADE_ACCESS_KEY_SECRET "+
			"(or ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET)\n", name)
		return 2
	}
	c := &call{stdout: stdout, stderr: stderr, args: pos, region: *region, scheme: scheme, json: *asJSON, name: name}
	if c.ecs, err = ecs.NewClientWithAccessKey(*region, id, secret); err != nil {
		fmt.Fprintf(stderr, "palisade %s: %v\n", name, err)
		return 2
	}
	c.ecs.Domain = host
	if c.vpc, err = vpc.NewClientWithAccessKey(*region, id, secret); err != nil {
		fmt.Fprintf(stderr, "palisade %s: %v\n", name, err)
		return 2
	}
	c.vpc.Domain = vpcDomain(host)
	if c.ram, err = ram.NewClientWithAccessKey(*region, id, secret); err != nil {
		fmt.Fprintf(stderr, "palisade %s: %v\n", name, err)
		return 2
	}
	c.ram.Domain = host
	return run(c)
}

// splitArgs separates flags (with their values) from positional arguments,
// so that flags may come before or after the positionals. "--" ends the
// flags. help reports whether -h or --help was given.
func splitArgs(fs *flag.FlagSet, args []string) (flags, pos []string, help bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if name == "h" || name == "help" {
			help = true
			continue
		}
		flags = append(flags, a)
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // fs.Parse reports it
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return flags, pos, help
}

// parseEndpoint reads --endpoint (see apiclient.ParseEndpoint).
func parseEndpoint(s string) (scheme, host string, err error) {
	scheme, host, err = apiclient.ParseEndpoint(s)
	if err != nil {
		err = fmt.Errorf("--%w", err)
	}
	return scheme, host, err
}

// vpcDomain is where VPC calls go. Palisade serves both APIs on one
// address; on Alibaba Cloud, the ECS endpoint ecs[.-]REGION.aliyuncs.com has
// a VPC sibling vpc.REGION.aliyuncs.com.
func vpcDomain(ecsHost string) string {
	h, port := ecsHost, ""
	if hh, p, err := net.SplitHostPort(ecsHost); err == nil {
		h, port = hh, p
	}
	lh := strings.ToLower(h)
	if !strings.HasSuffix(lh, ".aliyuncs.com") || !(strings.HasPrefix(lh, "ecs.") || strings.HasPrefix(lh, "ecs-")) {
		return ecsHost
	}
	h = "vpc." + h[len("ecs."):]
	if port != "" {
		return net.JoinHostPort(h, port)
	}
	return h
}

// credentials reads the access key from the environment: the PALISADE_
// pair, else the ALIBABA_CLOUD_ pair.
func credentials() (id, secret string, ok bool) {
	for _, p := range []string{"PALISADE_", "ALIBABA_CLOUD_"} {
		id, secret = os.Getenv(p+"ACCESS_KEY_ID"), os.Getenv(p+"ACCESS_KEY_SECRET")
		if id != "" && secret != "" {
			return id, secret, true
		}
	}
	return "", "", false
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// prep readies a request for the configured endpoint.
func (c *call) prep(r requests.AcsRequest) {
	r.SetScheme(c.scheme)
}

// note writes a line for the user, after the answer.
func (c *call) note(s string) { fmt.Fprintln(c.stdout, s) }

// usageErr reports a usage error (exit 2).
func (c *call) usageErr(format string, a ...any) int {
	fmt.Fprintf(c.stderr, "palisade %s: %s\n", c.name, fmt.Sprintf(format, a...))
	fmt.Fprintf(c.stderr, "Run \"palisade %s --help\" for usage.\n", c.name)
	return 2
}

// fail reports an API or transport error (exit 1). Server errors show the
// ECS error code and message.
func (c *call) fail(err error) int {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		fmt.Fprintf(c.stderr, "palisade %s: %s: %s\n", c.name, se.ErrorCode(), se.Message())
		if id := se.RequestId(); id != "" {
			fmt.Fprintf(c.stderr, "  (RequestId %s)\n", id)
		}
		printHint(c.stderr, err)
		return 1
	}
	fmt.Fprintf(c.stderr, "palisade %s: %s\n", c.name, apiclient.RedactURLs(err.Error()))
	printHint(c.stderr, err)
	return 1
}

// failCode reports an error found by the client itself, in the same form
// as a server error.
func (c *call) failCode(code, format string, a ...any) int {
	fmt.Fprintf(c.stderr, "palisade %s: %s: %s\n", c.name, code, fmt.Sprintf(format, a...))
	return 1
}

// printJSON writes v as indented JSON.
func (c *call) printJSON(v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return c.fail(err)
	}
	b = append(b, '\n')
	if _, err := c.stdout.Write(b); err != nil {
		return 1
	}
	return 0
}

// table writes rows under a header, aligned; empty cells show "-".
func (c *call) table(header []string, rows [][]string) int {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = dash(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}

// fields writes "Key: value" lines, aligned.
func (c *call) fields(kv [][2]string) {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 1, ' ', 0)
	for _, f := range kv {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], dash(f[1]))
	}
	tw.Flush()
}

// dash is a cell as printed: "-" for none, and the characters a terminal
// would act on (controls, escape sequences among them, and the marks that
// reorder text) written as Go escapes. A cell may hold what another
// identity wrote: the operator's events show the tenants' actions,
// resources and regions, refused calls' included, as they were sent.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	if strings.IndexFunc(s, unsafeRune) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case !unsafeRune(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// unsafeRune reports whether a terminal may act on r rather than show it:
// C0 and C1 controls (ESC starts the sequences that move the cursor,
// clear the screen or set the title), DEL, and the bidirectional
// formatting marks that reorder what follows.
func unsafeRune(r rune) bool {
	return r < 0x20 || r >= 0x7f && r < 0xa0 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == utf8.RuneError
}

// stringList is a flag that may be repeated; each use may also carry a
// comma-separated list.
type stringList []string

func (s *stringList) String() string {
	if s == nil {
		return ""
	}
	return strings.Join(*s, ",")
}

func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// oneOf checks a flag value against its allowed (lower-case) values.
func oneOf(v string, allowed ...string) bool {
	v = strings.ToLower(v)
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// jsonList renders IDs as the JSON array string some ECS filters take.
func jsonList(ids ...string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}
