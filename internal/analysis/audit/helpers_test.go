package audit

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Builders for small clouds. They validate rules with model.ParseRule, as
// the API does, and panic on a bad spec: a typo in a test table is a bug in
// the test.

const testOwner = "1000000000000001"

// rl builds rule id from "dir policy priority protocol ports peer [key=value…]":
// dir is in or out; peer a CIDR block, sg-… or pl-…; keys are desc (the
// description, with _ for spaces), owner (of a peer group), nic and local.
//
//	rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0 desc=ssh_from_anywhere")
func rl(id, spec string) model.Rule {
	f := strings.Fields(spec)
	if len(f) < 6 {
		panic("rule spec needs 6 fields: " + spec)
	}
	dir := model.Ingress
	if f[0] == "out" {
		dir = model.Egress
	}
	in := model.RuleInput{Policy: f[1], Priority: f[2], IpProtocol: f[3], PortRange: f[4]}
	peer, local, classic := f[5], "", false
	var owner string
	for _, kv := range f[6:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "desc":
			in.Description = strings.ReplaceAll(v, "_", " ")
		case "owner":
			owner = v
		case "nic":
			in.NicType, classic = v, true
		case "local":
			local = v
		default:
			panic("unknown key in rule spec: " + kv)
		}
	}
	// The peer is the source of ingress rules and the destination of egress rules.
	src4, src6, srcG, srcPL, dst4, dst6, dstG, dstPL := &in.SourceCidrIp, &in.Ipv6SourceCidrIp, &in.SourceGroupId, &in.SourcePrefixListId,
		&in.DestCidrIp, &in.Ipv6DestCidrIp, &in.DestGroupId, &in.DestPrefixListId
	if dir == model.Egress {
		src4, src6, srcG, srcPL, dst4, dst6 = dst4, dst6, dstG, dstPL, src4, src6
	}
	switch {
	case strings.HasPrefix(peer, "sg-"):
		*srcG = peer
	case strings.HasPrefix(peer, "pl-"):
		*srcPL = peer
	case strings.Contains(peer, ":"):
		*src6 = peer
	default:
		*src4 = peer
	}
	if local != "" {
		if strings.Contains(local, ":") {
			*dst6 = local
		} else {
			*dst4 = local
		}
	}
	r, _, err := model.ParseRule(dir, in, classic)
	if err != nil {
		panic(fmt.Sprintf("rule %s %q: %v", id, spec, err))
	}
	r.ID, r.Peer.GroupOwner = id, owner
	return r
}

// grp builds a group; vpc "" is the classic network. Basic groups start
// with InnerAccessPolicy Accept, as ECS creates them.
func grp(id, vpc string, typ model.GroupType, rules ...model.Rule) *model.SecurityGroup {
	g := &model.SecurityGroup{ID: id, Owner: testOwner, Name: id[3:] + "-group", Description: "test group " + id,
		Type: typ, VpcID: vpc, InnerAccessPolicy: model.InnerAccept, Rules: rules}
	if typ == model.Enterprise {
		g.InnerAccessPolicy = model.InnerDrop
	}
	return g
}

// described returns the rules with a description each, so that SGA-018
// does not fire on them.
func described(rules ...model.Rule) []model.Rule {
	for i := range rules {
		if rules[i].Description == "" {
			rules[i].Description = "test rule"
		}
	}
	return rules
}

// vm builds an instance with a private address (and an IPv6 address after a
// comma: "10.0.1.5,2001:db8::5").
func vm(id, vpc, addrs string, groups ...string) *model.Instance {
	v4, v6, _ := strings.Cut(addrs, ",")
	in := &model.Instance{ID: id, Owner: testOwner, VpcID: vpc, PrivateIP: netip.MustParseAddr(v4), SecurityGroups: groups}
	if v6 != "" {
		in.IPv6 = netip.MustParseAddr(v6)
	}
	return in
}

func plist(id string, maxEntries int, cidrs ...string) *model.PrefixList {
	pl := &model.PrefixList{ID: id, Owner: testOwner, MaxEntries: maxEntries, AddressFamily: "IPv4"}
	for _, c := range cidrs {
		p := netip.MustParsePrefix(c)
		if p.Addr().Is6() {
			pl.AddressFamily = "IPv6"
		}
		pl.Entries = append(pl.Entries, model.PrefixEntry{CIDR: p})
	}
	return pl
}

// world is a cloud under construction.
type world struct {
	groups []*model.SecurityGroup
	insts  []*model.Instance
	pls    []*model.PrefixList
}

func (w world) cloud() *policy.Cloud { return policy.NewCloud(w.groups, w.insts, w.pls) }

// checkCase is one run of one check and the findings it must give, each as
// "resource ruleID severity" (ruleID "-" for none); no want: must not fire.
type checkCase struct {
	name  string
	check string
	w     world
	opts  Options
	want  []string
	// contains, if set, must appear in every finding's message.
	contains string
}

func runCheck(t *testing.T, id string, c *policy.Cloud, o Options) []Finding {
	t.Helper()
	for _, ch := range Checks() {
		if ch.ID == id {
			return ch.Run(&Input{Cloud: c, Options: o.withDefaults()})
		}
	}
	t.Fatalf("check %s is not registered", id)
	return nil
}

func runCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.check+"/"+tc.name, func(t *testing.T) {
			fs := runCheck(t, tc.check, tc.w.cloud(), tc.opts)
			var got []string
			for _, f := range fs {
				rule := f.RuleID
				if rule == "" {
					rule = "-"
				}
				got = append(got, fmt.Sprintf("%s %s %s", f.Resource, rule, f.Severity))
				checkWording(t, f)
				if tc.contains != "" && !strings.Contains(f.Message, tc.contains) {
					t.Errorf("message %q does not mention %q", f.Message, tc.contains)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("findings:\n got %q\nwant %q", got, want)
				for _, f := range fs {
					t.Logf("%s: %s", f.Resource, f.Message)
				}
			}
		})
	}
}

// checkWording holds a finding to the catalogue's form: its own check ID,
// one sentence saying what is wrong, and a fix.
func checkWording(t *testing.T, f Finding) {
	t.Helper()
	if !strings.HasPrefix(f.Check, "SGA-") || f.Resource == "" {
		t.Errorf("finding lacks its check or resource: %+v", f)
	}
	if !strings.HasSuffix(f.Message, ".") || strings.Contains(f.Message, ". ") {
		t.Errorf("message is not one sentence: %q", f.Message)
	}
	if len(f.Fix) < 20 || !strings.HasSuffix(f.Fix, ".") {
		t.Errorf("fix does not say how to fix: %q", f.Fix)
	}
}
