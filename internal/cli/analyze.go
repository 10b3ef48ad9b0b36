package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/ecsimport"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// The analysis commands (verify, effective, reach, plan, audit) answer over a
// live server (--endpoint, through Palisade's own API actions) or offline
// over a scenario file (--scenario) or a saved real ECS account (--ecs-dir).

// source is where an analysis command reads the cloud from.
type source struct {
	endpoint, region string
	scenario         string
	ecsDir           string
	ecsRegion        string // read a real ECS account live
	ecsEndpoint      string
	asJSON           bool
	inside           []netip.Prefix // reach.InsideBlocks, when the source knows them: not the internet
	vpcs             []*model.VPC   // the source's VPCs, when it knows them
	stdout, stderr   io.Writer
	name             string
}

// newSource makes the source of an analysis command and its flag set, with
// the source's flags registered (the ECS ones when ecs: see flags).
func newSource(name string, ecs bool, stdout, stderr io.Writer) (*source, *flag.FlagSet) {
	s := &source{stdout: stdout, stderr: stderr, name: name}
	fs := flag.NewFlagSet("palisade "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	s.flags(fs, ecs)
	return s, fs
}

// flags registers the source flags; ecs adds --ecs-dir and --ecs-region,
// which the commands that read a cloud (not plan, which runs a change)
// take.
func (s *source) flags(fs *flag.FlagSet, ecs bool) {
	fs.StringVar(&s.endpoint, "endpoint", envOr("PALISADE_ENDPOINT", defaultEndpoint), "Palisade API endpoint `HOST:PORT` (key from PALISADE_ACCESS_KEY_ID/_SECRET)")
	fs.StringVar(&s.region, "region", envOr("PALISADE_REGION", defaultRegion), "region `ID`")
	fs.StringVar(&s.scenario, "scenario", "", "work offline on a scenario `FILE` instead of a server")
	if ecs {
		fs.StringVar(&s.ecsDir, "ecs-dir", "", "work offline on a `DIR` of saved Describe* JSON responses (ECS's, and the VPC API's DescribeVpcs)")
		fs.StringVar(&s.ecsRegion, "ecs-region", "", "work offline on a real ECS account read live from `REGION` (key from ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET)")
		fs.StringVar(&s.ecsEndpoint, "ecs-endpoint", "", "with --ecs-region: the endpoint `HOST` to read ECS (and DescribeVpcs) from (default: the region's public ECS and VPC endpoints)")
	}
	fs.BoolVar(&s.asJSON, "json", false, "print JSON instead of a table")
}

func (s *source) offline() bool { return s.scenario != "" || s.ecsDir != "" || s.ecsRegion != "" }

// cloud loads an offline source.
func (s *source) cloud() (*policy.Cloud, error) {
	switch {
	case btoi(s.scenario != "")+btoi(s.ecsDir != "")+btoi(s.ecsRegion != "") > 1:
		return nil, errors.New("give one of --scenario, --ecs-dir and --ecs-region")
	case s.scenario != "":
		sc, err := scenario.Load(s.scenario)
		if err != nil {
			return nil, err
		}
		s.vpcs = sc.VPCs
		s.inside = reach.InsideBlocks("", sc.VPCs, slices.Values(sc.Instances))
		return sc.Cloud(), nil
	}
	var acct *ecsimport.Account
	var err error
	switch {
	case s.ecsDir != "":
		acct, err = loadECSDir(s.ecsDir, s.stderr)
	case s.ecsRegion != "":
		acct, err = loadECSLive(s.ecsRegion, s.ecsEndpoint, s.stderr)
	default:
		return nil, errors.New("no offline source")
	}
	if err != nil {
		return nil, err
	}
	s.vpcs = acct.VPCs
	s.inside = reach.InsideBlocks("", acct.VPCs, slices.Values(acct.Instances))
	return acct.Cloud(), nil
}

// call runs one of Palisade's analysis actions on the server.
func (s *source) call(action string, params map[string]string, out any) error {
	id, secret, ok := credentials()
	if !ok {
		return errors.New("no access key: set PALISADE_ACCESS_KEY_ID and PALISADE_ACCESS_KEY_SECRET, or work offline with --scenario FILE")
	}
	c, err := apiclient.New(s.endpoint, id, secret, s.region)
	if err != nil {
		return err
	}
	params["RegionId"] = s.region
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return c.Call(ctx, action, params, out, time.Minute)
}

func (s *source) printJSON(v any) {
	enc := json.NewEncoder(s.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *source) fail(err error) int {
	fmt.Fprintf(s.stderr, "palisade %s: %s\n", s.name, apiclient.RedactURLs(err.Error()))
	printHint(s.stderr, err)
	return 1
}

// parseAnalysisFlags parses flags that may come before or after positionals.
func parseAnalysisFlags(fs *flag.FlagSet, args []string, stdout io.Writer, usage string) (pos []string, code int, done bool) {
	flagArgs, pos, help := splitArgs(fs, args)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	if help {
		fs.SetOutput(stdout)
		fs.Usage()
		return nil, 0, true
	}
	if err := parseQuiet(fs, flagArgs); err != nil {
		return nil, 2, true
	}
	return pos, 0, false
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// jsonRoundTrip turns an action's answer into the shape a command reads, as
// it would arrive over the wire.
func jsonRoundTrip[T any](v any) (*T, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := new(T)
	return out, json.Unmarshal(b, out)
}
