package service

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestPrefixListLifecycle(t *testing.T) {
	e := newEnv(t)
	five, zero := 5, 0
	for _, tt := range []struct {
		name string
		in   CreatePrefixListInput
		code string
	}{
		{"no max", CreatePrefixListInput{Name: "office", AddressFamily: "IPv4"}, "MissingParameter"},
		{"max zero", CreatePrefixListInput{Name: "office", AddressFamily: "IPv4", MaxEntries: &zero}, "InvalidParameter.MaxEntries"},
		{"no name", CreatePrefixListInput{AddressFamily: "IPv4", MaxEntries: &five}, "MissingParameter"},
		{"wrong family", CreatePrefixListInput{Name: "office", AddressFamily: "IPv6", MaxEntries: &five, Entries: []PrefixEntryInput{{Cidr: "10.0.0.0/8"}}}, model.CodePrefixListFamily},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Caller = e.c
			_, err := e.s.CreatePrefixList(e.ctx, tt.in)
			wantCode(t, err, tt.code)
		})
	}
	res, err := e.s.CreatePrefixList(e.ctx, CreatePrefixListInput{Caller: e.c, Name: "office", AddressFamily: "ipv4", MaxEntries: &five,
		Entries: []PrefixEntryInput{{Cidr: "10.0.0.0/8", Description: "hq"}}})
	wantCode(t, err, "")
	id := res.PrefixListId

	name := "offices"
	wantCode(t, e.s.ModifyPrefixList(e.ctx, ModifyPrefixListInput{Caller: e.c, PrefixListID: id, Name: &name,
		AddEntries: []PrefixEntryInput{{Cidr: "172.16.0.0/12"}}, RemoveEntries: []string{"10.0.0.0/8"}}), "")
	wantCode(t, e.s.ModifyPrefixList(e.ctx, ModifyPrefixListInput{Caller: e.c, PrefixListID: id, RemoveEntries: []string{"10.0.0.0/8"}}), "InvalidParam.EntryNotFound")
	pl, err := e.s.DescribePrefixListAttributes(e.ctx, e.c, id)
	wantCode(t, err, "")
	if pl.Name != name || len(pl.Entries) != 1 || pl.Entries[0].CIDR.String() != "172.16.0.0/12" {
		t.Fatalf("after modify: %q %v", pl.Name, pl.Entries)
	}

	// A rule that uses the list holds it.
	vpc := e.vpc()
	sg := e.group(CreateGroupInput{VpcID: vpc})
	wantCode(t, e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress,
		Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "22/22", SourcePrefixListId: id}}}), "")
	lists, err := e.s.DescribePrefixLists(e.ctx, DescribePrefixListsInput{Caller: e.c, AddressFamily: "IPv4", Page: Page{Tokens: true, Size: 10}})
	wantCode(t, err, "")
	if len(lists.Items) != 1 || lists.Items[0].Associations != 1 || lists.NextToken != "" {
		t.Fatalf("lists %+v", lists)
	}
	groups, err := e.s.DescribePrefixListAssociations(e.ctx, e.c, id, Page{Tokens: true, Size: 10})
	wantCode(t, err, "")
	if len(groups.Items) != 1 || groups.Items[0] != sg {
		t.Fatalf("associations %v", groups)
	}
	wantCode(t, e.s.DeletePrefixList(e.ctx, PrefixListRef{Caller: e.c, PrefixListID: id}), CodePrefixListInUse)
	wantCode(t, e.s.DeleteSecurityGroup(e.ctx, GroupRef{Caller: e.c, SecurityGroupID: sg}), "")
	wantCode(t, e.s.DeletePrefixList(e.ctx, PrefixListRef{Caller: e.c, PrefixListID: id}), "")
}
