package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"golang.org/x/sys/unix"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/cli/apply"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// The terminal "palisade apply" asks on; tests replace them.
var (
	applyStdin      io.Reader = os.Stdin
	applyIsTerminal           = func() bool {
		// A character device is not enough: /dev/null is one.
		_, err := unix.IoctlGetTermios(int(os.Stdin.Fd()), unix.TCGETS)
		return err == nil
	}
)

const applyUsage = `Usage: palisade apply FILE [--endpoint HOST:PORT] [--region ID] [--yes] [--dry-run] [--prune] [--json] [--zone ZONE]

Converge the account of the access key (PALISADE_ACCESS_KEY_ID / _SECRET) to the
VPCs, prefix lists, port range lists, security groups with their rules, and
instances and their secondary ENIs with their groups of a scenario FILE (testdata/scenarios/FORMAT.md). apply reads the account,
shows the API calls it would make and the flows they open and close, asks, and
makes the calls in dependency order, stopping at the first error. Resources it
creates carry the file's ID (tag or description palisade:id=ID), so a second apply
of the same file makes no call; resources without it are never touched.

Exit status: 0 applied or no changes, 1 an API error (or the answer was no),
2 an invalid file or flags, or changes to make with no terminal to ask on and no --yes.

Flags:
`

// applyCmd runs "palisade apply FILE".
func applyCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("palisade apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", envOr("PALISADE_ENDPOINT", defaultEndpoint), "API endpoint `HOST:PORT`, plain HTTP; prefix https:// for HTTPS")
	region := fs.String("region", envOr("PALISADE_REGION", defaultRegion), "region `ID`")
	yes := fs.Bool("yes", false, "apply without asking")
	dryRun := fs.Bool("dry-run", false, "show the plan and exit without applying")
	prune := fs.Bool("prune", false, "also remove what apply created earlier (palisade:id marker) and the file no longer names")
	asJSON := fs.Bool("json", false, "print the plan as JSON (progress goes to stderr)")
	zone := fs.String("zone", "", "`ZONE` of the vSwitches apply creates (default: the region's first zone)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), applyUsage)
		fs.PrintDefaults()
	}
	flagArgs, pos, help := splitArgs(fs, args)
	if help {
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	}
	if err := parseQuiet(fs, flagArgs); err != nil {
		return 2
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "palisade apply: "+format+"\n", a...)
		return code
	}
	if len(pos) != 1 {
		return fail(2, "want one scenario FILE, got %d arguments (run \"palisade apply --help\")", len(pos))
	}
	sc, err := scenario.Load(pos[0])
	if err != nil {
		return fail(2, "%v", err)
	}
	scheme, host, err := parseEndpoint(*endpoint)
	if err != nil {
		return fail(2, "%v", err)
	}
	id, secret, ok := credentials()
	if !ok {
		return fail(2, "no access key: set PALISADE_ACCESS_KEY_ID and PALISADE_ACCESS_KEY_SECRET (or ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET)")
	}
	c := apply.Clients{Region: *region}
	if c.ECS, err = ecs.NewClientWithAccessKey(*region, id, secret); err != nil {
		return fail(2, "%v", err)
	}
	c.ECS.Domain = host
	c.ECS.GetConfig().Scheme = scheme
	if c.VPC, err = vpc.NewClientWithAccessKey(*region, id, secret); err != nil {
		return fail(2, "%v", err)
	}
	c.VPC.Domain = vpcDomain(host)
	c.VPC.GetConfig().Scheme = scheme

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := apply.Read(ctx, c)
	if err != nil {
		// The SDK's own text of a server error spans lines (headers, a
		// link to Alibaba Cloud's troubleshooter); name the code and message.
		msg := apiclient.RedactURLs(err.Error())
		var se *sdkerrors.ServerError
		if errors.As(err, &se) {
			msg = fmt.Sprintf("%s: %s (RequestId %s)", se.ErrorCode(), se.Message(), se.RequestId())
		}
		fail(1, "reading the account at %s: %s", *endpoint, msg)
		printHint(stderr, err)
		return 1
	}
	p, err := apply.Build(sc, st, apply.Options{Region: *region, Zone: *zone, Prune: *prune})
	var fe *apply.FileError
	switch {
	case errors.As(err, &fe):
		return fail(2, "%v", err)
	case err != nil:
		return fail(1, "%v", err)
	}

	progress := stdout
	if *asJSON {
		progress = stderr
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		enc.Encode(p)
	} else {
		printPlan(stdout, p, *endpoint)
	}
	for _, w := range p.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if p.Empty() || *dryRun {
		return 0
	}
	if !*yes {
		if !applyIsTerminal() {
			return fail(2, "not applying: standard input is not a terminal to ask on; run with --yes to apply these %d changes, or --dry-run to only see them", len(p.Steps))
		}
		fmt.Fprintf(progress, "Apply these %d changes? [y/N] ", len(p.Steps))
		answer, _ := bufio.NewReader(applyStdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			fmt.Fprintln(progress, "Nothing applied.")
			return 1
		}
	}
	if err := p.Run(c, progress); err != nil {
		var se *apply.StepError
		if errors.As(err, &se) {
			fmt.Fprintf(stderr, "palisade apply: %s\n", err)
			fmt.Fprintf(stderr, "%d of %d changes were applied before the error (listed above); fix the cause and apply again to make the rest.\n", se.Applied, len(p.Steps))
			return 1
		}
		return fail(1, "%v", err)
	}
	fmt.Fprintf(progress, "Applied %d changes.\n", len(p.Steps))
	return 0
}

func printPlan(w io.Writer, p *apply.Plan, endpoint string) {
	if p.Empty() {
		fmt.Fprintf(w, "%s: no changes: the account at %s (%s) matches the file\n", p.File, endpoint, p.Region)
		return
	}
	fmt.Fprintf(w, "%s: %d changes to the account at %s (%s):\n", p.File, len(p.Steps), endpoint, p.Region)
	for i, s := range p.Steps {
		fmt.Fprintf(w, "  %3d. %s\n", i+1, s)
	}
	fmt.Fprintf(w, "Flows: %d links change (%d widen, %d narrow, %d mixed)\n", p.Summary.Links, p.Summary.Widen, p.Summary.Narrow, p.Summary.Mixed)
	for _, c := range p.Changes {
		fmt.Fprintln(w, "  "+c.String())
	}
}
