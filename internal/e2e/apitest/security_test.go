package apitest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

// replayer is an http.RoundTripper for the classic SDK. It records every
// request it sends; once armed, it sends the recorded request again, byte
// for byte, in place of whatever the SDK built. The SDK then decodes the
// server's answer to the replay as it would any other.
type replayer struct {
	mu     sync.Mutex
	armed  bool
	method string
	url    string
	header http.Header
	body   []byte
}

func (r *replayer) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.armed {
		out, err := http.NewRequestWithContext(req.Context(), r.method, r.url, bytes.NewReader(r.body))
		if err != nil {
			return nil, err
		}
		out.Header = r.header.Clone()
		return http.DefaultTransport.RoundTrip(out)
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.method, r.url, r.header, r.body = req.Method, req.URL.String(), req.Header.Clone(), body
	return http.DefaultTransport.RoundTrip(req)
}

// countGroups is the number of groups DescribeSecurityGroups reports.
func countGroups(t testing.TB, c *ecs.Client) int {
	t.Helper()
	return must(c.DescribeSecurityGroups(ecs.CreateDescribeSecurityGroupsRequest()))(t).TotalCount
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)

	t.Run("V1 wrong secret", func(t *testing.T) {
		_, err := newECS(t, e.addr, e.ak, "not-the-secret").DescribeRegions(ecs.CreateDescribeRegionsRequest())
		wantErr(t, err, 400, "SignatureDoesNotMatch")
		// The SDK compares the server's string to sign (from the message)
		// with its own: equal means it blames the secret, not itself.
		var se *sdkerrors.ServerError
		if !errors.As(err, &se) || !strings.Contains(se.Recommend(), "InvalidAccessKeySecret") {
			t.Errorf("the server's string to sign differs from the SDK's: %v", err)
		}
	})
	t.Run("V1 GET", func(t *testing.T) {
		r := ecs.CreateDescribeRegionsRequest()
		r.Method = "GET"
		if _, err := e.ecs.DescribeRegions(r); err != nil {
			t.Errorf("GET: %v", err)
		}
	})
	t.Run("V3 wrong secret", func(t *testing.T) {
		_, err := call(newV3(t, e.addr, e.ak, "not-the-secret", ""), ecsVersion, "DescribeRegions", nil, nil)
		wantErr(t, err, 400, "SignatureDoesNotMatch")
	})
	t.Run("V1 through darabonba, wrong secret", func(t *testing.T) {
		_, err := call(newV3(t, e.addr, e.ak, "not-the-secret", "v2"), ecsVersion, "DescribeRegions", nil, nil)
		wantErr(t, err, 400, "SignatureDoesNotMatch")
	})
	t.Run("V1 unknown key", func(t *testing.T) {
		_, err := newECS(t, e.addr, "LTAInosuchkey0000000000", e.secret).DescribeRegions(ecs.CreateDescribeRegionsRequest())
		wantErr(t, err, 400, "InvalidAccessKeyId.NotFound")
	})
	t.Run("V3 unknown key", func(t *testing.T) {
		_, err := call(newV3(t, e.addr, "LTAInosuchkey0000000000", e.secret, ""), ecsVersion, "DescribeRegions", nil, nil)
		wantErr(t, err, 400, "InvalidAccessKeyId.NotFound")
	})
	t.Run("VPC API wrong secret", func(t *testing.T) {
		_, err := newVPC(t, e.addr, e.ak, "not-the-secret").DescribeVpcs(vpc.CreateDescribeVpcsRequest())
		wantErr(t, err, 400, "SignatureDoesNotMatch")
	})
	if n := countGroups(t, e.ecs); n != 0 {
		t.Fatalf("%d groups before the replay tests", n)
	}

	t.Run("V1 replay", func(t *testing.T) {
		rp := &replayer{}
		c := newECS(t, e.addr, e.ak, e.secret)
		c.SetTransport(rp)
		r := ecs.CreateCreateSecurityGroupRequest()
		r.SecurityGroupName = "once"
		must(c.CreateSecurityGroup(r))(t)
		rp.mu.Lock()
		rp.armed = true
		rp.mu.Unlock()
		_, err := c.CreateSecurityGroup(ecs.CreateCreateSecurityGroupRequest())
		wantErr(t, err, 400, "SignatureNonceUsed")
		if n := countGroups(t, e.ecs); n != 1 {
			t.Errorf("%d groups after a create and its replay, want 1", n)
		}
	})
	t.Run("V3 replay", func(t *testing.T) {
		// x-acs-signature-nonce given in the request headers replaces the
		// SDK's fresh one and is signed: the second call is a true replay.
		h := map[string]string{"x-acs-signature-nonce": "apitest-fixed-nonce-1"}
		q := func() map[string]any { return map[string]any{"SecurityGroupName": "twice"} }
		if _, err := call(e.v3, ecsVersion, "CreateSecurityGroup", q(), h); err != nil {
			t.Fatal(err)
		}
		_, err := call(e.v3, ecsVersion, "CreateSecurityGroup", q(), h)
		wantErr(t, err, 400, "SignatureNonceUsed")
		if n := countGroups(t, e.ecs); n != 2 {
			t.Errorf("%d groups, want 2", n)
		}
	})
	t.Run("V3 expired timestamp", func(t *testing.T) {
		old := time.Now().UTC().Add(-20 * time.Minute).Format(ecsTime)
		_, err := call(e.v3, ecsVersion, "CreateSecurityGroup", map[string]any{"SecurityGroupName": "late"}, map[string]string{"x-acs-date": old})
		wantErr(t, err, 400, "InvalidTimeStamp.Expired")
	})
	t.Run("V3 timestamp from the future", func(t *testing.T) {
		ahead := time.Now().UTC().Add(20 * time.Minute).Format(ecsTime)
		_, err := call(e.v3, ecsVersion, "CreateSecurityGroup", map[string]any{"SecurityGroupName": "early"}, map[string]string{"x-acs-date": ahead})
		wantErr(t, err, 400, "InvalidTimeStamp.Expired")
	})
	t.Run("V3 timestamp 10 minutes old is fine", func(t *testing.T) {
		old := time.Now().UTC().Add(-10 * time.Minute).Format(ecsTime)
		if _, err := call(e.v3, ecsVersion, "DescribeRegions", nil, map[string]string{"x-acs-date": old}); err != nil {
			t.Errorf("within the 15-minute window: %v", err)
		}
	})
	t.Run("V1 expired timestamp", func(t *testing.T) {
		// darabonba's V1 path lets request parameters override Timestamp,
		// and signs what it sends.
		old := time.Now().UTC().Add(-20 * time.Minute).Format(ecsTime)
		c := newV3(t, e.addr, e.ak, e.secret, "v2")
		_, err := call(c, ecsVersion, "CreateSecurityGroup", map[string]any{"SecurityGroupName": "late", "Timestamp": old}, nil)
		wantErr(t, err, 400, "InvalidTimeStamp.Expired")
	})
	if n := countGroups(t, e.ecs); n != 2 {
		t.Errorf("%d groups after refused creates, want 2", n)
	}

	t.Run("unknown action", func(t *testing.T) {
		_, err := call(e.v3, ecsVersion, "DescribeSecurityGroupz", nil, nil)
		wantErr(t, err, 404, "InvalidAction.NotFound")
	})
	t.Run("ECS action under the VPC version", func(t *testing.T) {
		_, err := call(e.v3, vpcVersion, "CreateSecurityGroup", nil, nil)
		wantErr(t, err, 404, "InvalidAction.NotFound")
	})
}

// TestAccountIsolation: a second account sees none of the first account's
// resources and can change none of them; every attempt is NotFound, as if
// the resource did not exist.
func TestAccountIsolation(t *testing.T) {
	e := newEnv(t)
	n := newNetwork(t, e, "10.0.0.0/16")
	inst := runInstance(t, e.ecs, n.vsw, n.sgA)
	noErr(t, authorize(e.ecs, n.sgA, cidrIngress("TCP", "22/22", "10.0.0.0/8")))
	before := attr(t, e.ecs, n.sgA, "")
	pr := ecs.CreateCreatePrefixListRequest()
	pr.AddressFamily, pr.MaxEntries, pr.PrefixListName = "IPv4", "2", "private"
	pl := must(e.ecs.CreatePrefixList(pr))(t).PrefixListId
	eip := must(e.vpc.AllocateEipAddress(vpc.CreateAllocateEipAddressRequest()))(t).AllocationId
	other := e.newAccount(t, "intruder")
	c := other.ecs
	theirEIP := must(other.vpc.AllocateEipAddress(vpc.CreateAllocateEipAddressRequest()))(t).AllocationId
	theirVPC := createVPC(t, other.vpc, "10.0.0.0/16")
	theirGroup := createGroup(t, c, "theirs", theirVPC, "")

	t.Run("lists hold only their own", func(t *testing.T) {
		if got := groupIDs(t, c, nil); !slices.Equal(got, []string{theirGroup}) {
			t.Errorf("DescribeSecurityGroups: %v", got)
		}
		if got := groupIDs(t, c, func(r *ecs.DescribeSecurityGroupsRequest) { r.SecurityGroupId = n.sgA }); len(got) != 0 {
			t.Errorf("DescribeSecurityGroups SecurityGroupId: %v", got)
		}
		if got := instances(t, c, nil); len(got) != 0 {
			t.Errorf("DescribeInstances: %v", got)
		}
		r := vpc.CreateDescribeVpcsRequest()
		r.VpcId = n.vpc
		if got := must(other.vpc.DescribeVpcs(r))(t); got.TotalCount != 0 {
			t.Errorf("DescribeVpcs: %+v", got.Vpcs)
		}
		sr := vpc.CreateDescribeVSwitchesRequest()
		sr.VpcId = n.vpc
		if got := must(other.vpc.DescribeVSwitches(sr))(t); got.TotalCount != 0 {
			t.Errorf("DescribeVSwitches: %+v", got.VSwitches)
		}
		lr := ecs.CreateListTagResourcesRequest()
		lr.ResourceType, lr.ResourceId = "securitygroup", &[]string{n.sgA}
		if got := must(c.ListTagResources(lr))(t); len(got.TagResources.TagResource) != 0 {
			t.Errorf("ListTagResources: %+v", got.TagResources)
		}
	})

	for _, tc := range []struct {
		name string
		do   func() error
		code string
	}{
		{"DescribeSecurityGroupAttribute", func() error {
			r := ecs.CreateDescribeSecurityGroupAttributeRequest()
			r.SecurityGroupId = n.sgA
			_, err := c.DescribeSecurityGroupAttribute(r)
			return err
		}, "InvalidSecurityGroupId.NotFound"},
		{"ModifySecurityGroupAttribute", func() error {
			r := ecs.CreateModifySecurityGroupAttributeRequest()
			r.SecurityGroupId, r.SecurityGroupName = n.sgA, "pwned"
			_, err := c.ModifySecurityGroupAttribute(r)
			return err
		}, "InvalidSecurityGroupId.NotFound"},
		{"ModifySecurityGroupPolicy", func() error {
			r := ecs.CreateModifySecurityGroupPolicyRequest()
			r.SecurityGroupId, r.InnerAccessPolicy = n.sgA, "Drop"
			_, err := c.ModifySecurityGroupPolicy(r)
			return err
		}, "InvalidSecurityGroupId.NotFound"},
		{"AuthorizeSecurityGroup", func() error {
			return authorize(c, n.sgA, cidrIngress("TCP", "1/65535", "0.0.0.0/0"))
		}, "InvalidSecurityGroupId.NotFound"},
		{"RevokeSecurityGroup", func() error {
			r := ecs.CreateRevokeSecurityGroupRequest()
			r.SecurityGroupId, r.SecurityGroupRuleId = n.sgA, &[]string{before.Permissions.Permission[0].SecurityGroupRuleId}
			_, err := c.RevokeSecurityGroup(r)
			return err
		}, "InvalidSecurityGroupId.NotFound"},
		{"DeleteSecurityGroup", func() error {
			r := ecs.CreateDeleteSecurityGroupRequest()
			r.SecurityGroupId = n.sgA
			_, err := c.DeleteSecurityGroup(r)
			return err
		}, "InvalidSecurityGroupId.NotFound"},
		{"DescribeSecurityGroupReferences", func() error {
			r := ecs.CreateDescribeSecurityGroupReferencesRequest()
			r.SecurityGroupId = &[]string{n.sgA}
			_, err := c.DescribeSecurityGroupReferences(r)
			return err
		}, "InvalidSecurityGroupId.NotFound"},
		{"TagResources", func() error {
			r := ecs.CreateTagResourcesRequest()
			r.ResourceType, r.ResourceId = "securitygroup", &[]string{n.sgA}
			r.Tag = &[]ecs.TagResourcesTag{{Key: "owner", Value: "me"}}
			_, err := c.TagResources(r)
			return err
		}, "InvalidResourceId.NotFound"},
		{"DescribeInstanceAttribute", func() error {
			r := ecs.CreateDescribeInstanceAttributeRequest()
			r.InstanceId = inst
			_, err := c.DescribeInstanceAttribute(r)
			return err
		}, "InvalidInstanceId.NotFound"},
		{"StopInstance", func() error {
			r := ecs.CreateStopInstanceRequest()
			r.InstanceId = inst
			_, err := c.StopInstance(r)
			return err
		}, "InvalidInstanceId.NotFound"},
		{"ModifyInstanceAttribute", func() error {
			r := ecs.CreateModifyInstanceAttributeRequest()
			r.InstanceId, r.SecurityGroupIds = inst, &[]string{n.sgB}
			_, err := c.ModifyInstanceAttribute(r)
			return err
		}, "InvalidInstanceId.NotFound"},
		{"JoinSecurityGroup", func() error {
			r := ecs.CreateJoinSecurityGroupRequest()
			r.InstanceId, r.SecurityGroupId = inst, n.sgB
			_, err := c.JoinSecurityGroup(r)
			return err
		}, "InvalidInstanceId.NotFound"},
		{"DeleteInstance", func() error {
			r := ecs.CreateDeleteInstanceRequest()
			r.InstanceId = inst
			_, err := c.DeleteInstance(r)
			return err
		}, "InvalidInstanceId.NotFound"},
		{"DescribePrefixListAttributes", func() error {
			r := ecs.CreateDescribePrefixListAttributesRequest()
			r.PrefixListId = pl
			_, err := c.DescribePrefixListAttributes(r)
			return err
		}, "InvalidPrefixListId.NotFound"},
		{"DeletePrefixList", func() error {
			r := ecs.CreateDeletePrefixListRequest()
			r.PrefixListId = pl
			_, err := c.DeletePrefixList(r)
			return err
		}, "InvalidPrefixListId.NotFound"},
		{"a rule naming their prefix list", func() error {
			return authorize(c, theirGroup, perm{IpProtocol: "TCP", PortRange: "22/22", SourcePrefixListId: pl})
		}, "InvalidPrefixListId.NotFound"},
		{"a rule naming their group", func() error {
			return authorize(c, theirGroup, perm{IpProtocol: "TCP", PortRange: "22/22", SourceGroupId: n.sgA})
		}, "InvalidSourceGroupId.NotFound"},
		{"ReleaseEipAddress", func() error {
			r := vpc.CreateReleaseEipAddressRequest()
			r.AllocationId = eip
			_, err := other.vpc.ReleaseEipAddress(r)
			return err
		}, "InvalidAllocationId.NotFound"},
		{"AssociateEipAddress with their instance", func() error {
			r := vpc.CreateAssociateEipAddressRequest()
			r.AllocationId, r.InstanceId = theirEIP, inst
			_, err := other.vpc.AssociateEipAddress(r)
			return err
		}, "InvalidInstanceId.NotFound"},
		{"CreateSecurityGroup in their VPC", func() error {
			r := ecs.CreateCreateSecurityGroupRequest()
			r.VpcId = n.vpc
			_, err := c.CreateSecurityGroup(r)
			return err
		}, "InvalidVpcId.NotFound"},
		{"DeleteVpc", func() error {
			r := vpc.CreateDeleteVpcRequest()
			r.VpcId = n.vpc
			_, err := other.vpc.DeleteVpc(r)
			return err
		}, "InvalidVpcId.NotFound"},
		{"CreateVSwitch in their VPC", func() error {
			r := vpc.CreateCreateVSwitchRequest()
			r.VpcId, r.CidrBlock, r.ZoneId = n.vpc, "10.0.200.0/24", zone
			_, err := other.vpc.CreateVSwitch(r)
			return err
		}, "InvalidVpcId.NotFound"},
		{"DeleteVSwitch", func() error {
			r := vpc.CreateDeleteVSwitchRequest()
			r.VSwitchId = n.vsw
			_, err := other.vpc.DeleteVSwitch(r)
			return err
		}, "InvalidVSwitchId.NotFound"},
		{"RunInstances into their vSwitch", func() error {
			r := ecs.CreateRunInstancesRequest()
			r.ImageId, r.InstanceType, r.VSwitchId, r.SecurityGroupId = imageID, instanceType, n.vsw, n.sgA
			_, err := c.RunInstances(r)
			return err
		}, "InvalidVSwitchId.NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.do(), 404, tc.code) })
	}

	// Nothing of the first account changed.
	after := attr(t, e.ecs, n.sgA, "")
	if after.SecurityGroupName != before.SecurityGroupName || after.InnerAccessPolicy != before.InnerAccessPolicy ||
		len(after.Permissions.Permission) != 1 || after.Permissions.Permission[0] != before.Permissions.Permission[0] {
		t.Errorf("first account's group changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if a := instance(t, e.ecs, inst); a.Status != "Running" || !slices.Equal(a.SecurityGroupIds.SecurityGroupId, []string{n.sgA}) {
		t.Errorf("first account's instance changed: %s %v", a.Status, a.SecurityGroupIds.SecurityGroupId)
	}
	if a := instance(t, e.ecs, inst); a.EipAddress.AllocationId != "" {
		t.Errorf("first account's instance got an EIP: %+v", a.EipAddress)
	}
	if got := groupIDs(t, e.ecs, nil); !slices.Equal(sorted(got...), sorted(n.sgA, n.sgB)) {
		t.Errorf("first account's groups: %v", got)
	}
}

// TestCrossAccountGroupPeer: on the classic network a group may name
// another account's group as a rule peer with SourceGroupOwnerId, and the
// owner of the named group sees the reference.
func TestCrossAccountGroupPeer(t *testing.T) {
	e := newEnv(t)
	target := createGroup(t, e.ecs, "shared-db", "", "")
	other := e.newAccount(t, "partner")
	mine := createGroup(t, other.ecs, "partner-app", "", "")

	// Without the owner the peer is looked up in the caller's own account.
	err := authorize(other.ecs, mine, ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "5432/5432", SourceGroupId: target})
	wantErr(t, err, 404, "InvalidSourceGroupId.NotFound")
	// A wrong owner is not found either.
	err = authorize(other.ecs, mine, ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "5432/5432", SourceGroupId: target,
		SourceGroupOwnerId: other.uid})
	wantErr(t, err, 404, "InvalidSourceGroupId.NotFound")
	if n := len(rules(t, other.ecs, mine, "intranet")); n != 0 {
		t.Fatalf("%d rules after refused authorizations", n)
	}

	noErr(t, authorize(other.ecs, mine, ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "5432/5432",
		SourceGroupId: target, SourceGroupOwnerId: e.srv.UID, Description: "from the db account"}))
	// The owner may also be named by account name.
	noErr(t, authorize(other.ecs, mine, ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "6379/6379",
		SourceGroupId: target, SourceGroupOwnerAccount: "default"}))
	egress := ecs.CreateAuthorizeSecurityGroupEgressRequest()
	egress.SecurityGroupId = mine
	egress.Permissions = &[]ecs.AuthorizeSecurityGroupEgressPermissions{{IpProtocol: "TCP", PortRange: "5432/5432",
		DestGroupId: target, DestGroupOwnerId: e.srv.UID}}
	must(other.ecs.AuthorizeSecurityGroupEgress(egress))(t)

	ps := rules(t, other.ecs, mine, "intranet")
	if len(ps) != 3 {
		t.Fatalf("rules: %+v", ps)
	}
	for _, p := range ps {
		switch p.Direction {
		case "ingress":
			if p.SourceGroupId != target || p.SourceGroupOwnerAccount != e.srv.UID || p.NicType != "intranet" {
				t.Errorf("ingress cross-account rule decoded as %+v", p)
			}
		case "egress":
			if p.DestGroupId != target || p.DestGroupOwnerAccount != e.srv.UID {
				t.Errorf("egress cross-account rule decoded as %+v", p)
			}
		}
	}

	// The owner of the named group sees who references it.
	rr := ecs.CreateDescribeSecurityGroupReferencesRequest()
	rr.SecurityGroupId = &[]string{target}
	refs := must(e.ecs.DescribeSecurityGroupReferences(rr))(t).SecurityGroupReferences.SecurityGroupReference
	if len(refs) != 1 || refs[0].SecurityGroupId != target {
		t.Fatalf("DescribeSecurityGroupReferences: %+v", refs)
	}
	got := refs[0].ReferencingSecurityGroups.ReferencingSecurityGroup
	if len(got) != 1 || got[0].SecurityGroupId != mine || got[0].AliUid != other.uid {
		t.Errorf("referencing groups %+v, want [{%s %s}]", got, mine, other.uid)
	}
	// And cannot delete it while referenced.
	del := ecs.CreateDeleteSecurityGroupRequest()
	del.SecurityGroupId = target
	_, err = e.ecs.DeleteSecurityGroup(del)
	wantErr(t, err, 403, "DependencyViolation")
	if n := countGroups(t, e.ecs); n != 1 {
		t.Errorf("the refused delete removed the group (%d left)", n)
	}
}

// TestReplayAcrossRestart: a request captured before a restart is still a
// replay afterwards (its timestamp is within the window). After a graceful
// stop the server remembers the nonce; after a crash it has no nonces, so it
// refuses every request signed before its new start.
func TestReplayAcrossRestart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stop   func(*env)
		status int
		code   string
	}{
		{"graceful", func(e *env) { e.stop() }, 400, "SignatureNonceUsed"},
		{"crash", func(e *env) { e.crash() }, 400, "InvalidTimeStamp.Expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			rp := &replayer{}
			c := newECS(t, e.addr, e.ak, e.secret)
			c.SetTransport(rp)
			r := ecs.CreateCreateSecurityGroupRequest()
			r.SecurityGroupName = "once"
			must(c.CreateSecurityGroup(r))(t)

			tc.stop(e)
			e2 := openEnv(t, e.db)
			// V1 signs neither host nor port: the captured request is valid
			// for the new listener too.
			rp.mu.Lock()
			rp.armed = true
			rp.url = strings.Replace(rp.url, e.addr, e2.addr, 1)
			rp.mu.Unlock()
			_, err := c.CreateSecurityGroup(ecs.CreateCreateSecurityGroupRequest())
			// A request signed after the restart is accepted.
			n := countGroups(t, e2.ecs)
			if err == nil {
				t.Fatalf("the request replayed after the restart was executed again (%d groups)", n)
			}
			wantErr(t, err, tc.status, tc.code)
			if n != 1 {
				t.Errorf("%d groups, want 1", n)
			}
		})
	}
}
