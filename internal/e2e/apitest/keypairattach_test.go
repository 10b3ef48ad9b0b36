package apitest

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"

	ecs3 "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// windowsImage is a catalogued Windows image: its instances take no key
// pair.
const windowsImage = "win2022_21H2_x64_dtc_en-us_40G_alibase_20240919.vhd"

// launchWith launches one classic-network instance of an image, with a
// key pair ("" for none).
func launchWith(t testing.TB, c *ecs.Client, group, image, keyPair string) string {
	t.Helper()
	r := ecs.CreateRunInstancesRequest()
	r.ImageId, r.InstanceType, r.SecurityGroupIds, r.KeyPairName = image, instanceType, &[]string{group}, keyPair
	return must(c.RunInstances(r))(t).InstanceIdSets.InstanceIdSet[0]
}

// keyPairsOf answers the caller's instances' key pairs, by instance.
func keyPairsOf(t testing.TB, c *ecs.Client) map[string]string {
	t.Helper()
	r := ecs.CreateDescribeInstancesRequest()
	r.PageSize = "100"
	out := map[string]string{}
	for _, in := range must(c.DescribeInstances(r))(t).Instances.Instance {
		out[in.InstanceId] = in.KeyPairName
	}
	return out
}

func createKeyPairs(t testing.TB, c *ecs.Client, names ...string) {
	t.Helper()
	for _, n := range names {
		r := ecs.CreateCreateKeyPairRequest()
		r.KeyPairName = n
		must(c.CreateKeyPair(r))(t)
	}
}

// keyPairCall sends AttachKeyPair or DetachKeyPair with the classic SDK,
// as alicloud_instance's key_name update does, and answers its response's
// fields in one shape.
func keyPairCall(c *ecs.Client, action, name, ids string) (total, fail string, results []ecs.Result, err error) {
	if action == "AttachKeyPair" {
		r := ecs.CreateAttachKeyPairRequest()
		r.KeyPairName, r.InstanceIds = name, ids
		res, err := c.AttachKeyPair(r)
		if err != nil {
			return "", "", nil, err
		}
		return res.TotalCount, res.FailCount, res.Results.Result, nil
	}
	r := ecs.CreateDetachKeyPairRequest()
	r.KeyPairName, r.InstanceIds = name, ids
	res, err := c.DetachKeyPair(r)
	if err != nil {
		return "", "", nil, err
	}
	return res.TotalCount, res.FailCount, res.Results.Result, nil
}

// TestAttachDetachKeyPair: AttachKeyPair makes a key pair an instance's
// (replacing the one it held), DetachKeyPair clears it where it is that
// one, as DescribeInstances answers; a Windows instance, an instance that
// does not exist and another account's fail alone, alike, and are left as
// they were; bad input refuses the whole call and changes nothing;
// DeleteKeyPairs takes a key pair once no instance holds it; both calls
// are in the caller's event trail.
func TestAttachDetachKeyPair(t *testing.T) {
	s := testenv.Start(t, testenv.Config{})
	acctA := s.NewAccount(t, "a")
	a := tenant{uid: acctA.UID, keyID: acctA.KeyID, ecs: testenv.ECSClient(t, s.Addr, acctA.KeyID, acctA.Secret), trail: trailClient(t, s.Addr, acctA.KeyID, acctA.Secret)}
	b := newTenant(t, s, "b")
	createKeyPairs(t, a.ecs, "login", "old", "spare")
	createKeyPairs(t, b.ecs, "own")
	sgA, sgB := newGroup(t, a.ecs), newGroup(t, b.ecs)
	i1 := launchWith(t, a.ecs, sgA, imageID, "")
	i2 := launchWith(t, a.ecs, sgA, imageID, "old")
	win := launchWith(t, a.ecs, sgA, windowsImage, "")
	ib := launchWith(t, b.ecs, sgB, imageID, "own")
	missing := "i-" + strings.Repeat("0", 20)
	ids := func(xs ...string) string { return `["` + strings.Join(xs, `","`) + `"]` }

	// Bad input: the whole call is refused, and no instance changes.
	var many []string
	for i := range 51 {
		many = append(many, fmt.Sprintf("i-%020d", i))
	}
	for _, action := range []string{"AttachKeyPair", "DetachKeyPair"} {
		for _, tc := range []struct {
			name, keyPair, ids string
			status             int
			code               string
		}{
			{"no key pair", "", ids(i1), 400, "MissingParameter"},
			{"no instances", "login", "", 400, "MissingParameter"},
			{"empty list", "login", "[]", 400, "MissingParameter"},
			{"not JSON", "login", i1, 400, "InvalidInstanceIds.ValueNotSupported"},
			{"not a list of strings", "login", `[1,2]`, 400, "InvalidInstanceIds.ValueNotSupported"},
			{"empty ID", "login", `["` + i1 + `",""]`, 400, "InvalidInstanceIds.ValueNotSupported"},
			{"51 instances", "login", ids(many...), 403, "InstanceKeyPairLimitExceeded"},
			{"unknown key pair", "nokey", ids(i1), 404, "InvalidKeyPairName.NotFound"},
			// B's key pair is not A's, though A names its own instance.
			{"another account's key pair", "own", ids(i1), 404, "InvalidKeyPairName.NotFound"},
		} {
			t.Run(action+"/"+tc.name, func(t *testing.T) {
				beforeA, beforeB := keyPairsOf(t, a.ecs), keyPairsOf(t, b.ecs)
				_, _, _, err := keyPairCall(a.ecs, action, tc.keyPair, tc.ids)
				wantErr(t, err, tc.status, tc.code)
				if afterA, afterB := keyPairsOf(t, a.ecs), keyPairsOf(t, b.ecs); !maps.Equal(afterA, beforeA) || !maps.Equal(afterB, beforeB) {
					t.Fatalf("the refused call changed key pairs: %v %v; were %v %v", afterA, afterB, beforeA, beforeB)
				}
			})
		}
	}

	// Each step's call, what it answers per instance (code, "200" for
	// success), and every instance's key pair after it.
	type want struct{ a, b map[string]string }
	for _, tc := range []struct {
		name, action, keyPair string
		as                    tenant
		ids                   []string
		codes                 []string
		after                 want
	}{
		{"attach: another account's, a missing and a Windows instance fail alone", "AttachKeyPair", "login", a,
			[]string{i1, ib, missing, win, i1}, []string{"200", "InvalidInstanceId.NotFound", "InvalidInstanceId.NotFound", "DependencyViolation.WindowsInstance"},
			want{map[string]string{i1: "login", i2: "old", win: ""}, map[string]string{ib: "own"}}},
		{"attach replaces the key pair held", "AttachKeyPair", "login", a, []string{i2}, []string{"200"},
			want{map[string]string{i1: "login", i2: "login", win: ""}, map[string]string{ib: "own"}}},
		{"attach again changes nothing", "AttachKeyPair", "login", a, []string{i2}, []string{"200"},
			want{map[string]string{i1: "login", i2: "login", win: ""}, map[string]string{ib: "own"}}},
		{"B cannot touch A's instance", "AttachKeyPair", "own", b, []string{i1, ib}, []string{"InvalidInstanceId.NotFound", "200"},
			want{map[string]string{i1: "login", i2: "login", win: ""}, map[string]string{ib: "own"}}},
		{"B's detach leaves A's instance", "DetachKeyPair", "own", b, []string{i1}, []string{"InvalidInstanceId.NotFound"},
			want{map[string]string{i1: "login", i2: "login", win: ""}, map[string]string{ib: "own"}}},
		{"attach spare", "AttachKeyPair", "spare", a, []string{i1}, []string{"200"},
			want{map[string]string{i1: "spare", i2: "login", win: ""}, map[string]string{ib: "own"}}},
		{"detach clears only that key pair", "DetachKeyPair", "login", a, []string{i1, i2, win, ib},
			[]string{"200", "200", "200", "InvalidInstanceId.NotFound"},
			want{map[string]string{i1: "spare", i2: "", win: ""}, map[string]string{ib: "own"}}},
		{"B detaches its own", "DetachKeyPair", "own", b, []string{ib}, []string{"200"},
			want{map[string]string{i1: "spare", i2: "", win: ""}, map[string]string{ib: ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			total, fail, results, err := keyPairCall(tc.as.ecs, tc.action, tc.keyPair, ids(tc.ids...))
			noErr(t, err)
			wantFail := 0
			for _, c := range tc.codes {
				if c != "200" {
					wantFail++
				}
			}
			if total != fmt.Sprint(len(tc.codes)) || fail != fmt.Sprint(wantFail) || len(results) != len(tc.codes) {
				t.Fatalf("TotalCount %s, FailCount %s, %d results; want %d, %d, %d: %+v", total, fail, len(results), len(tc.codes), wantFail, len(tc.codes), results)
			}
			for i, r := range results {
				if r.InstanceId != tc.ids[i] || r.Code != tc.codes[i] || r.Success != fmt.Sprint(tc.codes[i] == "200") {
					t.Errorf("result %d: %+v; want %s %s", i, r, tc.ids[i], tc.codes[i])
				}
				// Another account's instance is answered as one that does
				// not exist: nothing of it is told.
				if r.Code == "InvalidInstanceId.NotFound" && strings.ReplaceAll(r.Message, r.InstanceId, "ID") != fmt.Sprintf("The specified InstanceId %q does not exist in this account and region.", "ID") {
					t.Errorf("not found message %q", r.Message)
				}
			}
			if got := keyPairsOf(t, a.ecs); !maps.Equal(got, tc.after.a) {
				t.Errorf("A's instances' key pairs %v; want %v", got, tc.after.a)
			}
			if got := keyPairsOf(t, b.ecs); !maps.Equal(got, tc.after.b) {
				t.Errorf("B's instances' key pairs %v; want %v", got, tc.after.b)
			}
		})
	}

	// A key pair no instance holds any more is deleted; one held is not.
	del := func(names string) error {
		r := ecs.CreateDeleteKeyPairsRequest()
		r.KeyPairNames = names
		_, err := a.ecs.DeleteKeyPairs(r)
		return err
	}
	wantErr(t, del(`["login","spare"]`), http.StatusBadRequest, "InvalidParameter.KeypairAlreadyAttachedInstance")
	noErr(t, del(`["login","old"]`))

	// The typed SDK reads the answer too.
	c3, _ := teaClients(t, s.Addr, acctA.KeyID, acctA.Secret)
	body := must(c3.DetachKeyPair(&ecs3.DetachKeyPairRequest{RegionId: str(region), KeyPairName: str("spare"), InstanceIds: str(ids(i1))}))(t).Body
	if dara.StringValue(body.TotalCount) != "1" || dara.StringValue(body.FailCount) != "0" || dara.StringValue(body.KeyPairName) != "spare" ||
		len(body.Results.Result) != 1 || dara.StringValue(body.Results.Result[0].Success) != "true" {
		t.Fatalf("typed DetachKeyPair answered %v", body)
	}
	noErr(t, del(`["spare"]`))

	got := map[string]int{}
	for _, ev := range lookup(t, a.trail) {
		code, _ := ev["errorCode"].(string)
		got[ev["eventName"].(string)+" "+code]++
	}
	for _, k := range []string{"AttachKeyPair ", "DetachKeyPair ", "AttachKeyPair InvalidKeyPairName.NotFound"} {
		if got[k] == 0 {
			t.Errorf("no %q event in A's trail: %v", k, got)
		}
	}
}
