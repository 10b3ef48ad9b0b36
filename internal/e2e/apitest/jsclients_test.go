package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER (2^53 - 1): the
// largest integer every float64 reader of JSON, the Node.js SDKs' among
// them, reads exactly along with its neighbours.
const maxSafeInteger = 1<<53 - 1

// TestAccountIDsAreSafeJSONNumbers: answers carry an account's UID as a
// JSON number (DescribeVpcs' OwnerId, as ECS does), which the Node.js SDKs
// read with JSON.parse into a float64. UIDs were drawn from all 16-digit
// numbers, so about one account in nine got one above 2^53; an odd one
// came back one off (9421331300033313 as 9421331300033312), and a rule
// naming the group of that OwnerId was refused as naming an unknown
// account.
func TestAccountIDsAreSafeJSONNumbers(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	op := srv.Operator(t)
	for i := range 100 {
		var acct struct{ AccountId, AccessKeyId, AccessKeySecret string }
		if err := op.Call(context.Background(), "PalisadeCreateAccount", map[string]string{"AccountName": "js-" + strconv.Itoa(i)}, &acct, 0); err != nil {
			t.Fatal(err)
		}
		uid, err := strconv.ParseInt(acct.AccountId, 10, 64)
		if err != nil || len(acct.AccountId) != 16 {
			t.Fatalf("AccountId %q: want 16 digits", acct.AccountId)
		}
		if uid > maxSafeInteger {
			t.Fatalf("AccountId %s is above 2^53: a JavaScript client reads OwnerId %s as %.0f", acct.AccountId, acct.AccountId, float64(uid))
		}
		if i > 0 {
			continue
		}
		// The whole path once: the OwnerId of its VPC, read as JavaScript reads it.
		c := newV3(t, srv.Addr, acct.AccessKeyId, acct.AccessKeySecret, "")
		mustCall(t, c, vpcVersion, "CreateVpc", map[string]any{"RegionId": region, "CidrBlock": "10.0.0.0/16"})
		body := mustCall(t, c, vpcVersion, "DescribeVpcs", map[string]any{"RegionId": region})
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		var js struct {
			Vpcs struct{ Vpc []struct{ OwnerId float64 } }
		}
		if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&js); err != nil || len(js.Vpcs.Vpc) != 1 {
			t.Fatalf("DescribeVpcs: %s %v", raw, err)
		}
		if got := strconv.FormatFloat(js.Vpcs.Vpc[0].OwnerId, 'f', 0, 64); got != acct.AccountId {
			t.Fatalf("DescribeVpcs OwnerId read as a float64: %s, want %s", got, acct.AccountId)
		}
	}
}

// TestEmptyPageCounts: DescribeSecurityGroups and DescribeInstances paged
// by number answer TotalCount, PageNumber and PageSize, 0 included, and by
// token none of them. A listing of nothing left TotalCount out (the
// fields were omitted when zero, for the token paging's sake), which the
// classic Go SDK reads as 0 but a Node.js caller as undefined.
func TestEmptyPageCounts(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, action string
		q            map[string]any
		want         string // the counts as the answer has them; "" for none
	}{
		{"groups, none", "DescribeSecurityGroups", map[string]any{"SecurityGroupId": "sg-none"}, "0 1 10"},
		{"groups, none on page 2", "DescribeSecurityGroups", map[string]any{"PageNumber": "2", "PageSize": "5"}, "0 2 5"},
		{"groups, tokens", "DescribeSecurityGroups", map[string]any{"MaxResults": "5"}, ""},
		{"instances, none", "DescribeInstances", map[string]any{}, "0 1 10"},
		{"instances, tokens", "DescribeInstances", map[string]any{"MaxResults": "5"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := mustCall(t, e.v3, ecsVersion, tc.action, tc.q)
			var got []string
			for _, k := range []string{"TotalCount", "PageNumber", "PageSize"} {
				if v, ok := body[k]; ok {
					got = append(got, fmt.Sprint(v))
				}
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("TotalCount, PageNumber, PageSize: %q, want %q (%v)", got, tc.want, body)
			}
		})
	}
}
