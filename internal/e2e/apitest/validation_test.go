package apitest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/controlplane/signature"
)

// TestStoredFieldValidation (issue 11): every stored field is held to ECS's
// formats and lengths through the official SDK, with ECS's codes, and a
// refused call changes nothing. Before the fix each of these was stored
// (control characters, a megabyte-class image ID) or read loosely (+1/+65535,
// priority 010, 1.2.3.4/0 as written, a zoned IPv6 address).
func TestStoredFieldValidation(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	n := newNetwork(t, e, "10.0.0.0/16")
	big := strings.Repeat("a", 8<<10)

	createSG := func(mod func(r *ecs.CreateSecurityGroupRequest)) func() error {
		return func() error {
			r := ecs.CreateCreateSecurityGroupRequest()
			r.VpcId = n.vpc
			mod(r)
			_, err := c.CreateSecurityGroup(r)
			return err
		}
	}
	tag := func(k, v string) func(r *ecs.CreateSecurityGroupRequest) {
		return func(r *ecs.CreateSecurityGroupRequest) {
			r.Tag = &[]ecs.CreateSecurityGroupTag{{Key: k, Value: v}}
		}
	}
	desc := func(d string) func(r *ecs.CreateSecurityGroupRequest) {
		return func(r *ecs.CreateSecurityGroupRequest) { r.Description = d }
	}
	rule := func(mod func(p *perm)) func() error {
		p := cidrIngress("TCP", "22/22", "10.0.0.0/8")
		mod(&p)
		return authorizeErr(c, n.sgA, p)
	}
	run := func(mod func(r *ecs.RunInstancesRequest)) func() error {
		return func() error {
			r := ecs.CreateRunInstancesRequest()
			r.ImageId, r.InstanceType, r.VSwitchId, r.SecurityGroupId = imageID, instanceType, n.vsw, n.sgA
			mod(r)
			_, err := c.RunInstances(r)
			return err
		}
	}
	state := func(t testing.TB) string {
		return groupState(c, n.sgA, n.sgB)(t) + strings.Join(instances(t, c, nil), ",")
	}
	runErrCases(t, state, []errCase{
		{"description with NUL", createSG(desc("web\x00tier")), 400, "InvalidSecurityGroupDiscription.Malformed"},
		{"description with CR/LF", createSG(desc("web\r\nAdmin: yes")), 400, "InvalidSecurityGroupDiscription.Malformed"},
		{"description with escape", createSG(desc("web \x1b[8mhidden")), 400, "InvalidSecurityGroupDiscription.Malformed"},
		{"description with bidi override", createSG(desc("web \u202etxt.exe")), 400, "InvalidSecurityGroupDiscription.Malformed"},
		{"description of invalid UTF-8", createSG(desc("caf\xe9 tier")), 400, "InvalidSecurityGroupDiscription.Malformed"},
		{"tag key with LF", createSG(tag("env\nx", "prod")), 400, "InvalidTagKey.Malformed"},
		{"tag value with NUL", createSG(tag("env", "pr\x00od")), 400, "InvalidTagValue.Malformed"},
		{"tag key of invalid UTF-8", createSG(tag("\xff\xfe", "v")), 400, "InvalidTagKey.Malformed"},
		{"resource group of 8 KiB", createSG(func(r *ecs.CreateSecurityGroupRequest) { r.ResourceGroupId = "rg-" + big }), 404, "InvalidResourceGroup.NotFound"},
		{"resource group not shaped rg-", createSG(func(r *ecs.CreateSecurityGroupRequest) { r.ResourceGroupId = "my group" }), 404, "InvalidResourceGroup.NotFound"},
		{"another resource group", createSG(func(r *ecs.CreateSecurityGroupRequest) { r.ResourceGroupId = "rg-aek2nothers" }), 404, "InvalidResourceGroup.NotFound"},
		{"image of 8 KiB", run(func(r *ecs.RunInstancesRequest) { r.ImageId = big }), 400, "InvalidImageId.Malformed"},
		{"image with a newline", run(func(r *ecs.RunInstancesRequest) { r.ImageId = "ubuntu\nx" }), 400, "InvalidImageId.Malformed"},
		{"instance type of 8 KiB", run(func(r *ecs.RunInstancesRequest) { r.InstanceType = big }), 400, "InvalidInstanceType.ValueNotSupported"},
		{"instance type with NUL", run(func(r *ecs.RunInstancesRequest) { r.InstanceType = "ecs.g7\x00large" }), 400, "InvalidInstanceType.ValueNotSupported"},
		{"instance description with ESC", run(func(r *ecs.RunInstancesRequest) { r.Description = "web \x1b]0;pwned\x07" }), 400, "InvalidDescription.Malformed"},
		{"zoned IPv6 address", run(func(r *ecs.RunInstancesRequest) { r.Ipv6Address = &[]string{"fe80::1%eth0"} }), 400, "InvalidIpv6Address.Malformed"},
		{"CIDR with host bits", rule(func(p *perm) { p.SourceCidrIp = "1.2.3.4/0" }), 400, "InvalidSourceCidrIp.Malformed"},
		{"zoned IPv6 peer", rule(func(p *perm) { p.SourceCidrIp, p.Ipv6SourceCidrIp = "", "fe80::1%eth0" }), 400, "InvalidParam.Ipv6SourceCidrIp"},
		{"ports with plus signs", rule(func(p *perm) { p.PortRange = "+1/+65535" }), 400, "InvalidParam.PortRange"},
		{"ports with spaces", rule(func(p *perm) { p.PortRange = " 22 / 22 " }), 400, "InvalidParam.PortRange"},
		{"priority 010", rule(func(p *perm) { p.Priority = "010" }), 400, "InvalidPriority.Malformed"},
		{"priority beyond 64 bits", rule(func(p *perm) { p.Priority = "99999999999999999999" }), 400, "InvalidPriority.Malformed"},
		{"malformed SourceGroupId beside a CIDR", rule(func(p *perm) { p.SourceGroupId = "<script>" }), 400, "InvalidSecurityGroupId.Malformed"},
		{"rule description with CR", rule(func(p *perm) { p.Description = "ssh\rfake" }), 400, "InvalidSecurityGroupDiscription.Malformed"},
		{"page number beyond 64 bits", func() error {
			r := ecs.CreateDescribeSecurityGroupsRequest()
			r.PageNumber = requests.Integer("9223372036854775808")
			_, err := c.DescribeSecurityGroups(r)
			return err
		}, 400, "InvalidParameter"},
	})

	// What ECS accepts still passes, and a CIDR in its canonical form is
	// stored as written.
	noErr(t, authorize(c, n.sgA, cidrIngress("TCP", "1/65535", "10.1.0.0/16")))
	if rs := rules(t, c, n.sgA, ""); len(rs) != 1 || rs[0].SourceCidrIp != "10.1.0.0/16" || rs[0].PortRange != "1/65535" {
		t.Errorf("rules %+v", rs)
	}
	r := ecs.CreateCreateSecurityGroupRequest()
	r.VpcId, r.Description, r.ResourceGroupId = n.vpc, "网页 tier, émoji 👍", attrRG(t, e)
	r.Tag = &[]ecs.CreateSecurityGroupTag{{Key: "team", Value: "café"}}
	must(c.CreateSecurityGroup(r))(t)
}

// attrRG is the account's resource group as the API reports it.
func attrRG(t testing.TB, e *env) string {
	t.Helper()
	id := createGroup(t, e.ecs, "rg-probe", "", "")
	d := ecs.CreateDescribeSecurityGroupsRequest()
	d.SecurityGroupIds = `["` + id + `"]`
	return must(e.ecs.DescribeSecurityGroups(d))(t).SecurityGroups.SecurityGroup[0].ResourceGroupId
}

// TestTenantLeaks (issue 11): an error or an answer never carries another
// tenant's data.
func TestTenantLeaks(t *testing.T) {
	e := newEnv(t)
	other := e.newAccount(t, "other")
	mine := newNetwork(t, e, "10.0.0.0/16")
	theirVPC := createVPC(t, other.vpc, "10.9.0.0/16")
	theirs := createGroup(t, other.ecs, "their-secret-name", theirVPC, "")

	// Naming another tenant's group as a peer: the error does not say
	// which VPC it is in.
	p := perm{IpProtocol: "TCP", PortRange: "22/22", SourceGroupId: theirs, SourceGroupOwnerId: other.uid}
	err := authorize(e.ecs, mine.sgA, p)
	wantErr(t, err, 400, "InvalidSourceGroupId.Mismatch")
	if strings.Contains(err.Error(), theirVPC) {
		t.Errorf("the error names the other tenant's VPC %s: %v", theirVPC, err)
	}

	// Naming the owner by account name: a refusal does not tell which
	// account ID the name belongs to.
	err = authorize(e.ecs, mine.sgA, perm{IpProtocol: "TCP", PortRange: "22/22", SourceGroupId: "sg-nosuchgroup", SourceGroupOwnerAccount: "other"})
	wantErr(t, err, 404, "InvalidSourceGroupId.NotFound")
	if strings.Contains(err.Error(), other.uid) {
		t.Errorf("the error gives the account ID %s of the account named other: %v", other.uid, err)
	}

	// A cross-account peer (classic groups may name other accounts'): the
	// rule shows the group's ID and owner, not its name.
	myClassic := createGroup(t, e.ecs, "mine", "", "")
	theirClassic := createGroup(t, other.ecs, "their-classic-secret", "", "")
	noErr(t, authorize(e.ecs, myClassic, perm{IpProtocol: "TCP", PortRange: "22/22", SourceGroupId: theirClassic, SourceGroupOwnerId: other.uid, NicType: "intranet"}))
	rs := rules(t, e.ecs, myClassic, "intranet")
	if len(rs) != 1 || rs[0].SourceGroupId != theirClassic || rs[0].SourceGroupOwnerAccount != other.uid {
		t.Fatalf("cross-account rule %+v", rs)
	}
	if rs[0].SourceGroupName != "" {
		t.Errorf("the rule shows the other tenant's group name %q", rs[0].SourceGroupName)
	}
	// One's own peer keeps its name.
	noErr(t, authorize(e.ecs, mine.sgA, perm{IpProtocol: "TCP", PortRange: "22/22", SourceGroupId: mine.sgB}))
	if rs := rules(t, e.ecs, mine.sgA, ""); len(rs) != 1 || rs[0].SourceGroupName != "net-b" {
		t.Errorf("own peer rule %+v", rs)
	}

	// The classic network is shared: a DryRun with a pinned address answers
	// the same whether another tenant holds it or nobody does.
	theirInst := runInstance(t, other.ecs, "", theirClassic)
	taken := instance(t, other.ecs, theirInst).InnerIpAddress.IpAddress[0]
	dry := func(addr string) error {
		r := ecs.CreateRunInstancesRequest()
		r.ImageId, r.InstanceType, r.SecurityGroupId, r.PrivateIpAddress = imageID, instanceType, myClassic, addr
		r.DryRun = requests.NewBoolean(true)
		_, err := e.ecs.RunInstances(r)
		return err
	}
	wantErr(t, dry(taken), 400, "DryRunOperation")
	wantErr(t, dry("10.0.200.200"), 400, "DryRunOperation")
	// A plan of the launch launches nothing either, so it answers as the
	// DryRun does: it refused the other tenant's address alone, which let
	// a tenant map the others' classic addresses.
	mineInst := runInstance(t, e.ecs, "", myClassic)
	noErr(t, authorize(e.ecs, myClassic, perm{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0", NicType: "intranet"}))
	plan := func(addr string) (string, error) {
		p, err := call(e.v3, ecsVersion, "PalisadePlanChange", map[string]any{"ChangeAction": "RunInstances", "ImageId": imageID,
			"InstanceType": instanceType, "SecurityGroupId": myClassic, "PrivateIpAddress": addr}, nil)
		// The new instance's ID is drawn at each run, and orders the
		// changes: compare them as a set.
		var changes []string
		cs, _ := p["Changes"].([]any)
		for _, c := range cs {
			b, _ := json.Marshal(c)
			changes = append(changes, regexp.MustCompile(`i-[0-9a-z]+`).ReplaceAllStringFunc(string(b), func(id string) string {
				if id == mineInst {
					return id
				}
				return "NEW"
			}))
		}
		slices.Sort(changes)
		b, _ := json.Marshal(p["Summary"])
		return string(b) + strings.Join(changes, "\n"), err
	}
	free, err := plan("10.0.200.200")
	noErr(t, err)
	held, err := plan(taken)
	noErr(t, err)
	if held != free {
		t.Errorf("the plan of a launch on another tenant's classic address differs from one on a free address:\n%s\n%s", held, free)
	}
	// One's own addresses are one's own to know.
	ownAddr := instance(t, e.ecs, mineInst).InnerIpAddress.IpAddress[0]
	wantErr(t, dry(ownAddr), 400, "InvalidPrivateIpAddress.Duplicated")
	_, err = plan(ownAddr)
	wantErr(t, err, 400, "InvalidPrivateIpAddress.Duplicated")
}

// TestV3FormBody: the official V3 (Tea) client sends parameters in a form
// body with a signed content type, and that still works now that an
// unsigned one is refused (see signature.TestVerifyV3 for the hand-built
// refusal).
func TestV3FormBody(t *testing.T) {
	e := newEnv(t)
	vpcID := createVPC(t, e.vpc, "10.0.0.0/16")
	params := &openapi.Params{Action: dara.String("CreateSecurityGroup"), Version: dara.String(ecsVersion), Protocol: dara.String("HTTP"),
		Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"), Style: dara.String("RPC"),
		ReqBodyType: dara.String("formData"), BodyType: dara.String("json")}
	req := &openapi.OpenApiRequest{Query: openapiutil.Query(map[string]any{"RegionId": region}),
		Body: map[string]any{"VpcId": vpcID, "SecurityGroupName": "from-body", "Description": "sent in the form body"}}
	res, err := e.v3.CallApi(params, req, &dara.RuntimeOptions{})
	if err != nil {
		t.Fatalf("V3 call with a form body: %v", err)
	}
	body, _ := res["body"].(map[string]any)
	id, _ := body["SecurityGroupId"].(string)
	if a := attr(t, e.ecs, id, ""); a.SecurityGroupName != "from-body" || a.Description != "sent in the form body" || a.VpcId != vpcID {
		t.Errorf("group made from the body: %+v", a)
	}
}

// TestV3UnsignedContentType: a hand-built V3 request whose form body is
// hashed but whose content type is left out of SignedHeaders is refused;
// the same request with content-type signed is served. Before the fix the
// content type, which decides whether the body is read as parameters,
// could be swapped on a captured request.
func TestV3UnsignedContentType(t *testing.T) {
	e := newEnv(t)
	send := func(nonce string, signContentType bool) (int, string) {
		body := "RegionId=" + region
		r, err := http.NewRequest("POST", "http://"+e.addr+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("x-acs-action", "DescribeSecurityGroups")
		r.Header.Set("x-acs-version", ecsVersion)
		r.Header.Set("x-acs-date", time.Now().UTC().Format(signature.TimestampLayout))
		r.Header.Set("x-acs-signature-nonce", nonce)
		r.Header.Set("x-acs-content-sha256", signature.HashPayload([]byte(body)))
		signed := []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"}
		if signContentType {
			signed = append([]string{"content-type"}, signed...)
		}
		h := r.Header.Clone()
		h.Set("Host", e.addr)
		cr := signature.CanonicalRequestV3("POST", "/", url.Values{}, h, signed, signature.HashPayload([]byte(body)))
		r.Header.Set("Authorization", signature.AlgorithmV3+" Credential="+e.ak+",SignedHeaders="+strings.Join(signed, ";")+",Signature="+signature.SignV3(e.secret, cr))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := send("hand-built-1", false); code != 400 || !strings.Contains(b, "IncompleteSignature") || !strings.Contains(b, "content-type") {
		t.Errorf("unsigned content type: %d %s", code, b)
	}
	if code, b := send("hand-built-2", true); code != 200 || !strings.Contains(b, "SecurityGroups") {
		t.Errorf("signed content type: %d %s", code, b)
	}
}
