package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// plAccount returns the account UID of an env.
func plAccount(e *env) string {
	e.t.Helper()
	uid, ok := e.s.AccountOfKey(e.ctx, e.key)
	if !ok {
		e.t.Fatal("no account for the env's key")
	}
	return uid
}

// plPutGroup stores a VPC group of e's account in cn-hangzhou whose rules
// use the given prefix lists, bypassing the rule actions.
func plPutGroup(e *env, id string, prefixLists ...string) {
	e.t.Helper()
	g := &model.SecurityGroup{ID: id, Region: "cn-hangzhou", Owner: plAccount(e), Name: "g", Type: model.Normal,
		VpcID: "vpc-test", InnerAccessPolicy: model.InnerAccept, Rules: []model.Rule{}}
	for i, pl := range prefixLists {
		g.Rules = append(g.Rules, model.Rule{ID: fmt.Sprintf("sgr-%s-%d", id, i), Direction: model.Ingress, Policy: model.Accept,
			Priority: 1, Protocol: model.TCP, PortRange: model.PortRange{Start: 22, End: 22 + int32(i)},
			Peer: model.Peer{PrefixListID: pl}, NicType: model.Intranet})
	}
	if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error { return putGroup(tx, g) }); err != nil {
		e.t.Fatal(err)
	}
}

// plCreate creates a prefix list with defaults for the required parameters.
func plCreate(e *env, params map[string]string) string {
	e.t.Helper()
	p := map[string]string{"AddressFamily": "IPv4", "MaxEntries": "10", "PrefixListName": "office"}
	for k, v := range params {
		p[k] = v
	}
	return e.ecs("CreatePrefixList", p).(*createPrefixListResponse).PrefixListId
}

func plAttrs(e *env, id string) *describePrefixListAttributesResponse {
	e.t.Helper()
	return e.ecs("DescribePrefixListAttributes", map[string]string{"PrefixListId": id}).(*describePrefixListAttributesResponse)
}

// plEntries renders a list's entries as "cidr=description" strings.
func plEntries(e *env, id string) []string {
	e.t.Helper()
	var out []string
	for _, en := range plAttrs(e, id).Entries.Entry {
		out = append(out, en.Cidr+"="+en.Description)
	}
	return out
}

func TestPrefixListCreateAndDescribe(t *testing.T) {
	e := newEnv(t)
	id := plCreate(e, map[string]string{"PrefixListName": "office", "Description": "office networks", "MaxEntries": "5",
		"Entry.1.Cidr": "10.1.1.1", "Entry.1.Description": "one host",
		"Entry.2.Cidr": "10.0.0.0/8",
		"Entry.3.Cidr": "192.168.0.0/16", "Entry.3.Description": "lab"})
	if !strings.HasPrefix(id, "pl-") {
		t.Fatalf("PrefixListId %q does not start with pl-", id)
	}
	a := plAttrs(e, id)
	if a.PrefixListId != id || a.PrefixListName != "office" || a.Description != "office networks" ||
		a.AddressFamily != "IPv4" || a.MaxEntries != 5 || a.CreationTime == "" {
		t.Fatalf("attributes = %+v", a)
	}
	want := []string{"10.1.1.1/32=one host", "10.0.0.0/8=", "192.168.0.0/16=lab"}
	if got := plEntries(e, id); !slices.Equal(got, want) {
		t.Fatalf("entries = %v, want %v", got, want)
	}

	six := plCreate(e, map[string]string{"AddressFamily": "ipv6", "PrefixListName": "v6",
		"Entry.1.Cidr": "2001:DB8::/32", "Entry.2.Cidr": "2001:DB8:0:0:0:0:0:1"})
	if got, want := plEntries(e, six), []string{"2001:db8::/32=", "2001:db8::1/128="}; !slices.Equal(got, want) {
		t.Fatalf("IPv6 entries = %v, want %v", got, want)
	}
	if f := plAttrs(e, six).AddressFamily; f != "IPv6" {
		t.Fatalf("AddressFamily = %q, want IPv6", f)
	}
}

func TestPrefixListCreateErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		params map[string]string
		code   string
		status int
	}{
		{"no region", map[string]string{"RegionId": ""}, "MissingParameter", 400},
		{"no family", map[string]string{"AddressFamily": ""}, "MissingParameter", 400},
		{"bad family", map[string]string{"AddressFamily": "IPv5"}, "InvalidParameter.AddressFamily", 400},
		{"no max", map[string]string{"MaxEntries": ""}, "MissingParameter", 400},
		{"max not a number", map[string]string{"MaxEntries": "ten"}, "InvalidParameter", 400},
		{"max zero", map[string]string{"MaxEntries": "0"}, "InvalidParameter.MaxEntries", 400},
		{"max too big", map[string]string{"MaxEntries": "201"}, "InvalidParameter.MaxEntries", 400},
		{"no name", map[string]string{"PrefixListName": ""}, "MissingParameter", 400},
		{"name starts with digit", map[string]string{"PrefixListName": "1office"}, "InvalidPrefixListName.Malformed", 400},
		{"name too short", map[string]string{"PrefixListName": "o"}, "InvalidPrefixListName.Malformed", 400},
		{"name com.aliyun", map[string]string{"PrefixListName": "com.aliyun.x"}, "InvalidPrefixListName.Malformed", 400},
		{"name com.alibabacloud", map[string]string{"PrefixListName": "Com.AlibabaCloud-x"}, "InvalidPrefixListName.Malformed", 400},
		{"name url", map[string]string{"PrefixListName": "http://x"}, "InvalidPrefixListName.Malformed", 400},
		{"description short", map[string]string{"Description": "x"}, "InvalidDescription.Malformed", 400},
		{"description url", map[string]string{"Description": "https://x"}, "InvalidDescription.Malformed", 400},
		{"entry description short", map[string]string{"Entry.1.Cidr": "10.0.0.0/8", "Entry.1.Description": "x"}, "InvalidEntryDescription.Malformed", 400},
		{"entry description long", map[string]string{"Entry.1.Cidr": "10.0.0.0/8", "Entry.1.Description": long33()}, "InvalidEntryDescription.Malformed", 400},
		{"entry without cidr", map[string]string{"Entry.1.Description": "lonely"}, "MissingParameter", 400},
		{"bad cidr", map[string]string{"Entry.1.Cidr": "10.0.0.0/33"}, "InvalidParam.Cidr", 400},
		{"not an address", map[string]string{"Entry.1.Cidr": "office"}, "InvalidParam.Cidr", 400},
		{"IPv6 in IPv4 list", map[string]string{"Entry.1.Cidr": "2001:db8::/32"}, "InvalidParam.AddressFamilyMismatch", 400},
		{"IPv4 in IPv6 list", map[string]string{"AddressFamily": "IPv6", "Entry.1.Cidr": "10.0.0.0/8"}, "InvalidParam.AddressFamilyMismatch", 400},
		{"duplicate entry", map[string]string{"Entry.1.Cidr": "10.0.0.1", "Entry.2.Cidr": "10.0.0.1/32"}, "InvalidParam.DuplicateCidr", 400},
		{"duplicate", map[string]string{"Entry.1.Cidr": "10.0.0.0/8", "Entry.2.Cidr": "10.0.0.0/8"}, "InvalidParam.DuplicateCidr", 400},
		{"host bits (one canonical form: refused, not cleared)", map[string]string{"Entry.1.Cidr": "10.9.9.9/8"}, "InvalidParam.Cidr", 400},
		{"zoned IPv6", map[string]string{"AddressFamily": "IPv6", "Entry.1.Cidr": "fe80::1%eth0"}, "InvalidParam.Cidr", 400},
		{"more than MaxEntries", map[string]string{"MaxEntries": "1", "Entry.1.Cidr": "10.0.0.0/8", "Entry.2.Cidr": "11.0.0.0/8"}, "InvalidParam.EntriesExceedMaxEntries", 400},
		{"bad tag", map[string]string{"Tag.1.Key": "aliyun-x"}, "InvalidTagKey.Malformed", 400},
		{"long client token", map[string]string{"ClientToken": strings.Repeat("t", 65)}, "InvalidClientToken.Malformed", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := plSubtest(e, t)
			p := map[string]string{"AddressFamily": "IPv4", "MaxEntries": "10", "PrefixListName": "office"}
			for k, v := range tc.params {
				p[k] = v
			}
			e.ecsErr(tc.code, tc.status, "CreatePrefixList", p)
		})
	}
	if n := len(e.ecs("DescribePrefixLists", nil).(*describePrefixListsResponse).PrefixLists.PrefixList); n != 0 {
		t.Fatalf("failed creates left %d lists", n)
	}
}

func TestPrefixListRegionQuota(t *testing.T) {
	e := newEnv(t)
	acct := plAccount(e)
	// Fill the quota directly: a hundred API calls would only slow the test.
	_, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error {
		for i := range model.MaxPrefixListsRegion {
			pl := model.PrefixList{ID: fmt.Sprintf("pl-fill%03d", i), Region: "cn-hangzhou", Owner: acct, Name: "fill",
				AddressFamily: "IPv4", MaxEntries: 1, Entries: []model.PrefixEntry{}}
			if err := store.PutAs(tx, KindPrefixList, pl.ID, pl.Owner, pl.Region, pl); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p := map[string]string{"AddressFamily": "IPv4", "MaxEntries": "1", "PrefixListName": "office"}
	e.ecsErr("QuotaExceed.PrefixList", http.StatusForbidden, "CreatePrefixList", p)
	// The quota is per account and region.
	plCreate(e, map[string]string{"RegionId": "cn-shanghai"})
	plCreate(e.otherAccount(), nil)
}

func TestPrefixListClientToken(t *testing.T) {
	e := newEnv(t)
	p := map[string]string{"ClientToken": "tok-1", "Entry.1.Cidr": "10.0.0.0/8"}
	first := plCreate(e, p)
	if again := plCreate(e, p); again != first {
		t.Fatalf("retry with the same ClientToken made %s, want %s", again, first)
	}
	if n := len(e.ecs("DescribePrefixLists", nil).(*describePrefixListsResponse).PrefixLists.PrefixList); n != 1 {
		t.Fatalf("%d lists after an idempotent retry, want 1", n)
	}
	e.ecsErr("IdempotentParameterMismatch", 400, "CreatePrefixList", map[string]string{"ClientToken": "tok-1",
		"AddressFamily": "IPv4", "MaxEntries": "10", "PrefixListName": "other"})
	// Another account's token space is its own.
	o := e.otherAccount()
	if id := plCreate(o, p); id == first {
		t.Fatal("another account's create with the same ClientToken returned the first account's list")
	}
}

func TestPrefixListModify(t *testing.T) {
	e := newEnv(t)
	id := plCreate(e, map[string]string{"MaxEntries": "3", "Entry.1.Cidr": "10.0.0.0/8", "Entry.1.Description": "ten",
		"Entry.2.Cidr": "172.16.0.0/12"})
	e.ecs("ModifyPrefixList", map[string]string{"PrefixListId": id, "PrefixListName": "renamed", "Description": "new text",
		"AddEntry.1.Cidr": "192.168.1.1", "AddEntry.1.Description": "host",
		"AddEntry.2.Cidr": "10.0.0.0/8", "AddEntry.2.Description": "ten again", // re-adding sets the description
		"RemoveEntry.1.Cidr": "172.16.0.0/12"})
	a := plAttrs(e, id)
	if a.PrefixListName != "renamed" || a.Description != "new text" || a.MaxEntries != 3 || a.AddressFamily != "IPv4" {
		t.Fatalf("attributes = %+v", a)
	}
	want := []string{"10.0.0.0/8=ten again", "192.168.1.1/32=host"}
	if got := plEntries(e, id); !slices.Equal(got, want) {
		t.Fatalf("entries = %v, want %v", got, want)
	}
	// A full list can swap an entry in one call: removes count first.
	e.ecs("ModifyPrefixList", map[string]string{"PrefixListId": id, "AddEntry.1.Cidr": "11.0.0.0/8"})
	e.ecs("ModifyPrefixList", map[string]string{"PrefixListId": id, "RemoveEntry.1.Cidr": "11.0.0.0/8", "AddEntry.1.Cidr": "12.0.0.0/8"})
	want = []string{"10.0.0.0/8=ten again", "192.168.1.1/32=host", "12.0.0.0/8="}
	if got := plEntries(e, id); !slices.Equal(got, want) {
		t.Fatalf("entries after swap = %v, want %v", got, want)
	}

	for _, tc := range []struct {
		name   string
		params map[string]string
		code   string
		status int
	}{
		{"no id", map[string]string{"PrefixListId": ""}, "MissingParameter", 400},
		{"malformed id", map[string]string{"PrefixListId": "sg-123"}, "InvalidPrefixListId.Malformed", 400},
		{"unknown id", map[string]string{"PrefixListId": "pl-nothere"}, "InvalidPrefixListId.NotFound", 404},
		{"bad name", map[string]string{"PrefixListName": "com.aliyun"}, "InvalidPrefixListName.Malformed", 400},
		{"bad description", map[string]string{"Description": "x"}, "InvalidDescription.Malformed", 400},
		{"host bits set", map[string]string{"AddEntry.1.Cidr": "10.0.0.1/8"}, "InvalidParam.Cidr", 400},
		{"remove with host bits", map[string]string{"RemoveEntry.1.Cidr": "10.0.0.1/8"}, "InvalidParam.Cidr", 400},
		{"bad cidr", map[string]string{"AddEntry.1.Cidr": "10.0.0/8"}, "InvalidParam.Cidr", 400},
		{"wrong family", map[string]string{"AddEntry.1.Cidr": "2001:db8::/32"}, "InvalidParam.AddressFamilyMismatch", 400},
		{"bad entry description", map[string]string{"AddEntry.1.Cidr": "13.0.0.0/8", "AddEntry.1.Description": long33()}, "InvalidEntryDescription.Malformed", 400},
		{"add twice", map[string]string{"AddEntry.1.Cidr": "13.0.0.0/8", "AddEntry.2.Cidr": "13.0.0.0/8"}, "InvalidParam.DuplicateCidr", 400},
		{"remove twice", map[string]string{"RemoveEntry.1.Cidr": "12.0.0.0/8", "RemoveEntry.2.Cidr": "12.0.0.0/8"}, "InvalidParam.DuplicateCidr", 400},
		{"add and remove", map[string]string{"AddEntry.1.Cidr": "12.0.0.0/8", "RemoveEntry.1.Cidr": "12.0.0.0/8"}, "InvalidParam.CidrConflict", 400},
		{"remove missing", map[string]string{"AddEntry.1.Cidr": "13.0.0.0/8", "RemoveEntry.1.Cidr": "14.0.0.0/8"}, "InvalidParam.EntryNotFound", 400},
		{"over MaxEntries", map[string]string{"AddEntry.1.Cidr": "13.0.0.0/8"}, "InvalidParam.EntriesExceedMaxEntries", 400},
		{"add without cidr", map[string]string{"AddEntry.1.Description": "lonely"}, "MissingParameter", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := plSubtest(e, t)
			p := map[string]string{"PrefixListId": id}
			for k, v := range tc.params {
				p[k] = v
			}
			e.ecsErr(tc.code, tc.status, "ModifyPrefixList", p)
		})
	}
	// Failed calls changed nothing.
	if got := plEntries(e, id); !slices.Equal(got, want) {
		t.Fatalf("entries after failed modifies = %v, want %v", got, want)
	}
	if n := plAttrs(e, id).PrefixListName; n != "renamed" {
		t.Fatalf("name after failed modifies = %q", n)
	}
}

// plSubtest returns e reporting to t, for use inside subtests.
func plSubtest(e *env, t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func long33() string { return strings.Repeat("d", 33) }

func TestPrefixListDeleteAndAssociations(t *testing.T) {
	e := newEnv(t)
	o := e.otherAccount()
	id := plCreate(e, nil)
	unused := plCreate(e, map[string]string{"PrefixListName": "unused"})
	plPutGroup(e, "sg-a", id, id) // two rules, one association
	plPutGroup(o, "sg-b", id)     // another account's group counts too
	plPutGroup(e, "sg-c", unused+"x")

	e.ecsErr("NotAllowed.AssociationExist", 400, "DeletePrefixList", map[string]string{"PrefixListId": id})

	as := e.ecs("DescribePrefixListAssociations", map[string]string{"PrefixListId": id}).(*describePrefixListAssociationsResponse)
	got := as.PrefixListAssociations.PrefixListAssociation
	want := []prefixListAssociationItem{{"sg-a", "securitygroup"}, {"sg-b", "securitygroup"}}
	if !slices.Equal(got, want) || as.NextToken != "" {
		t.Fatalf("associations = %v (next %q), want %v", got, as.NextToken, want)
	}
	page := e.ecs("DescribePrefixListAssociations", map[string]string{"PrefixListId": id, "MaxResults": "1"}).(*describePrefixListAssociationsResponse)
	if len(page.PrefixListAssociations.PrefixListAssociation) != 1 || page.NextToken == "" {
		t.Fatalf("first page = %+v", page)
	}
	page = e.ecs("DescribePrefixListAssociations", map[string]string{"PrefixListId": id, "MaxResults": "1", "NextToken": page.NextToken}).(*describePrefixListAssociationsResponse)
	if got := page.PrefixListAssociations.PrefixListAssociation; len(got) != 1 || got[0].ResourceId != "sg-b" || page.NextToken != "" {
		t.Fatalf("second page = %+v", page)
	}

	counts := map[string]int{}
	for _, pl := range e.ecs("DescribePrefixLists", nil).(*describePrefixListsResponse).PrefixLists.PrefixList {
		counts[pl.PrefixListId] = pl.AssociationCount
	}
	if counts[id] != 2 || counts[unused] != 0 {
		t.Fatalf("AssociationCount = %v, want %s:2 %s:0", counts, id, unused)
	}

	e.s.Store.View(e.ctx, func(tx store.ReadTx) error {
		uses, err := prefixListUses(tx, "cn-hangzhou", id)
		if err != nil || !slices.Equal(uses, []string{"sg-a", "sg-b"}) {
			t.Errorf("prefixListUses = %v, %v", uses, err)
		}
		if uses, _ := prefixListUses(tx, "cn-shanghai", id); len(uses) != 0 {
			t.Errorf("prefixListUses in another region = %v", uses)
		}
		return nil
	})

	// Once no rule uses it, the list can go.
	plPutGroup(e, "sg-a")
	plPutGroup(o, "sg-b")
	e.ecs("DeletePrefixList", map[string]string{"PrefixListId": id})
	e.ecsErr("InvalidPrefixListId.NotFound", 404, "DescribePrefixListAttributes", map[string]string{"PrefixListId": id})
	e.ecsErr("InvalidPrefixListId.NotFound", 404, "DeletePrefixList", map[string]string{"PrefixListId": id})
	e.ecsErr("MissingParameter", 400, "DeletePrefixList", nil)
	e.ecsErr("MissingParameter", 400, "DescribePrefixListAssociations", nil)
}

func TestPrefixListDescribeFiltersAndPaging(t *testing.T) {
	e := newEnv(t)
	var v4, v6 []string
	for i := range 3 {
		v4 = append(v4, plCreate(e, map[string]string{"PrefixListName": fmt.Sprintf("four%d", i)}))
	}
	for i := range 2 {
		v6 = append(v6, plCreate(e, map[string]string{"AddressFamily": "IPv6", "PrefixListName": fmt.Sprintf("six%d", i)}))
	}
	ids := func(e *env, params map[string]string) []string {
		e.t.Helper()
		var out []string
		for _, pl := range e.ecs("DescribePrefixLists", params).(*describePrefixListsResponse).PrefixLists.PrefixList {
			out = append(out, pl.PrefixListId)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s ...string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	for _, tc := range []struct {
		name   string
		params map[string]string
		want   []string
	}{
		{"all", nil, sorted(append(slices.Clone(v4), v6...)...)},
		{"family", map[string]string{"AddressFamily": "IPv6"}, sorted(v6...)},
		{"family any case", map[string]string{"AddressFamily": "ipv4"}, sorted(v4...)},
		{"name", map[string]string{"PrefixListName": "four1"}, []string{v4[1]}},
		{"ids", map[string]string{"PrefixListId.1": v4[0], "PrefixListId.2": v6[1]}, sorted(v4[0], v6[1])},
		{"ids and family", map[string]string{"PrefixListId.1": v4[0], "PrefixListId.2": v6[1], "AddressFamily": "IPv6"}, []string{v6[1]}},
		{"no match", map[string]string{"PrefixListName": "nothing"}, nil},
		{"unknown id", map[string]string{"PrefixListId.1": "pl-nothere"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(plSubtest(e, t), tc.params); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	var all []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		r := e.ecs("DescribePrefixLists", map[string]string{"MaxResults": "2", "NextToken": token}).(*describePrefixListsResponse)
		if len(r.PrefixLists.PrefixList) > 2 {
			t.Fatalf("page of %d items with MaxResults 2", len(r.PrefixLists.PrefixList))
		}
		for _, pl := range r.PrefixLists.PrefixList {
			all = append(all, pl.PrefixListId)
		}
		if token = r.NextToken; token == "" {
			break
		}
	}
	if want := sorted(append(slices.Clone(v4), v6...)...); !slices.Equal(sorted(all...), want) {
		t.Fatalf("paged through %v, want %v", all, want)
	}

	for _, tc := range []struct {
		params map[string]string
		code   string
	}{
		{map[string]string{"MaxResults": "0"}, "InvalidParameter.MaxResults"},
		{map[string]string{"MaxResults": "101"}, "InvalidParameter.MaxResults"},
		{map[string]string{"NextToken": "abc"}, "InvalidNextToken.Malformed"},
		{map[string]string{"AddressFamily": "IPv5"}, "InvalidParameter.AddressFamily"},
	} {
		e.ecsErr(tc.code, 400, "DescribePrefixLists", tc.params)
	}
}

func TestPrefixListOtherAccount(t *testing.T) {
	e := newEnv(t)
	o := e.otherAccount()
	id := plCreate(e, map[string]string{"Entry.1.Cidr": "10.0.0.0/8"})
	for _, tc := range []struct {
		action string
		params map[string]string
	}{
		{"DescribePrefixListAttributes", nil},
		{"DescribePrefixListAssociations", nil},
		{"ModifyPrefixList", map[string]string{"PrefixListName": "stolen"}},
		{"ModifyPrefixList", map[string]string{"AddEntry.1.Cidr": "11.0.0.0/8"}},
		{"DeletePrefixList", nil},
	} {
		p := map[string]string{"PrefixListId": id}
		for k, v := range tc.params {
			p[k] = v
		}
		o.ecsErr("InvalidPrefixListId.NotFound", 404, tc.action, p)
	}
	if n := len(o.ecs("DescribePrefixLists", map[string]string{"PrefixListId.1": id}).(*describePrefixListsResponse).PrefixLists.PrefixList); n != 0 {
		t.Fatalf("another account sees %d lists", n)
	}
	// Nor is it visible from another region of the owner.
	e.ecsErr("InvalidPrefixListId.NotFound", 404, "DescribePrefixListAttributes", map[string]string{"PrefixListId": id, "RegionId": "cn-shanghai"})
	if a := plAttrs(e, id); a.PrefixListName != "office" || len(a.Entries.Entry) != 1 {
		t.Fatalf("list changed by another account: %+v", a)
	}
}

// The JSON of the responses has the SDK's wrappers and never null lists.
func TestPrefixListResponseShape(t *testing.T) {
	e := newEnv(t)
	id := plCreate(e, nil)
	for _, tc := range []struct {
		action string
		params map[string]string
		want   []string
	}{
		{"DescribePrefixLists", nil, []string{`"PrefixLists":{"PrefixList":[{"PrefixListId":"` + id + `"`, `"AssociationCount":0`, `"NextToken":""`}},
		{"DescribePrefixListAttributes", map[string]string{"PrefixListId": id}, []string{`"Entries":{"Entry":[]}`, `"MaxEntries":10`, `"CreationTime":"`}},
		{"DescribePrefixListAssociations", map[string]string{"PrefixListId": id}, []string{`"PrefixListAssociations":{"PrefixListAssociation":[]}`}},
	} {
		b, err := json.Marshal(e.ecs(tc.action, tc.params))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s JSON %s lacks %s", tc.action, b, w)
			}
		}
	}
}
