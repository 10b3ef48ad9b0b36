package apitest

import (
	"fmt"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

const (
	region     = testenv.Region
	ecsVersion = "2014-05-26"
	vpcVersion = "2016-04-28"
)

// env is one running server (testenv.Server) and SDK clients of its first
// account.
type env struct {
	srv    *testenv.Server
	db     string // the SQLite file, for reopening
	addr   string // 127.0.0.1:PORT
	ak     string
	secret string
	ecs    *ecs.Client     // classic SDK, V1 signatures
	vpc    *vpc.Client     // classic SDK, V1 signatures
	v3     *openapi.Client // darabonba CallApi, V3 signatures
	stop   func()          // stops the server gracefully; idempotent, also run by t.Cleanup
	crash  func()          // stops it leaving what a killed server leaves
}

// newEnv starts a server on a fresh database.
func newEnv(t testing.TB) *env {
	t.Helper()
	return clients(t, testenv.Start(t, testenv.Config{}))
}

// openEnv starts a server on the SQLite file db (new or existing) and stops
// it when the test ends.
func openEnv(t testing.TB, db string) *env {
	t.Helper()
	return clients(t, testenv.Start(t, testenv.Config{DB: db}))
}

func clients(t testing.TB, s *testenv.Server) *env {
	return &env{srv: s, db: s.DB, addr: s.Addr, ak: s.KeyID, secret: s.Secret, stop: s.Stop, crash: s.Crash,
		ecs: s.ECS(t), vpc: s.VPC(t), v3: s.V3(t)}
}

// account is a further account with its own key and clients.
type account struct {
	uid string
	ecs *ecs.Client
	vpc *vpc.Client
	v3  *openapi.Client
}

// newAccount creates another account and returns clients that sign with its
// key.
func (e *env) newAccount(t testing.TB, name string) account {
	t.Helper()
	a := e.srv.NewAccount(t, name)
	return account{uid: a.UID, ecs: newECS(t, e.addr, a.KeyID, a.Secret), vpc: newVPC(t, e.addr, a.KeyID, a.Secret),
		v3: newV3(t, e.addr, a.KeyID, a.Secret, "")}
}

// Clients with another key or signature algorithm (wrong secrets, V1
// through darabonba).
var (
	newECS = func(t testing.TB, addr, ak, secret string) *ecs.Client { return testenv.ECSClient(t, addr, ak, secret) }
	newVPC = func(t testing.TB, addr, ak, secret string) *vpc.Client { return testenv.VPCClient(t, addr, ak, secret) }
	newV3  = func(t testing.TB, addr, ak, secret, algorithm string) *openapi.Client {
		return testenv.V3Client(t, addr, ak, secret, algorithm)
	}
)

// call is one CallApi request. query may nest lists and maps
// (Permissions: []any{map[string]any{...}}); openapiutil.Query flattens them
// to Permissions.1.IpProtocol the way generated Tea clients do. headers are
// added to (and may override) the SDK's own, and are signed.
func call(c *openapi.Client, version, action string, query map[string]any, headers map[string]string) (map[string]any, error) {
	params := &openapi.Params{Action: dara.String(action), Version: dara.String(version), Protocol: dara.String("HTTP"),
		Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"), Style: dara.String("RPC"),
		ReqBodyType: dara.String("formData"), BodyType: dara.String("json")}
	if query == nil {
		query = map[string]any{}
	}
	if _, ok := query["RegionId"]; !ok {
		query["RegionId"] = region
	}
	req := &openapi.OpenApiRequest{Query: openapiutil.Query(query)}
	if len(headers) > 0 {
		req.Headers = map[string]*string{}
		for k, v := range headers {
			req.Headers[k] = dara.String(v)
		}
	}
	res, err := c.CallApi(params, req, &dara.RuntimeOptions{})
	if err != nil {
		return nil, err
	}
	body, _ := res["body"].(map[string]any)
	if body == nil {
		return nil, fmt.Errorf("%s: response has no JSON body: %v", action, res)
	}
	return body, nil
}

// mustCall is call for requests that must succeed.
func mustCall(t testing.TB, c *openapi.Client, version, action string, query map[string]any) map[string]any {
	t.Helper()
	body, err := call(c, version, action, query, nil)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	return body
}

// apiError is the code and HTTP status of an error from either SDK.
func apiError(err error) (code string, status int, ok bool) {
	return testenv.APIError(err)
}

// wantErr fails unless err is an API error with this status and code.
func wantErr(t testing.TB, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded; want %d %s", status, code)
	}
	c, s, ok := apiError(err)
	if !ok {
		t.Fatalf("error %T %v is not an SDK server error; want %d %s", err, err, status, code)
	}
	if c != code || s != status {
		t.Fatalf("got %d %s; want %d %s\n%v", s, c, status, code, err)
	}
}

// must takes an SDK call's two results and returns a check that fails the
// test on the error and passes the value through:
//
//	resp := must(c.CreateSecurityGroup(r))(t)
//
// (Go cannot spread a two-value call over must(t, ...), hence the closure.)
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%v", err)
		}
		return v
	}
}

// noErr fails the test on err.
func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%v", err)
	}
}

// --- classic ECS shortcuts -------------------------------------------------
//
// A classic SDK request object keeps the query parameters it was sent with:
// setting fewer Permissions or another RegionId on it and sending it again
// still sends the old ones. Tests therefore build a fresh request for every
// call whose fields change, and reuse one only to repeat the same call.

// createGroup creates a group; vpcID "" makes a classic group, typ "" a
// basic one.
func createGroup(t testing.TB, c *ecs.Client, name, vpcID, typ string) string {
	t.Helper()
	r := ecs.CreateCreateSecurityGroupRequest()
	r.SecurityGroupName, r.VpcId, r.SecurityGroupType = name, vpcID, typ
	resp, err := c.CreateSecurityGroup(r)
	if err != nil {
		t.Fatalf("CreateSecurityGroup %s: %v", name, err)
	}
	return resp.SecurityGroupId
}

// attr describes a group (all directions; nicType "" is the server default).
func attr(t testing.TB, c *ecs.Client, id, nicType string) *ecs.DescribeSecurityGroupAttributeResponse {
	t.Helper()
	r := ecs.CreateDescribeSecurityGroupAttributeRequest()
	r.SecurityGroupId, r.NicType = id, nicType
	return must(c.DescribeSecurityGroupAttribute(r))(t)
}

// rules returns a group's rules as the SDK decoded them.
func rules(t testing.TB, c *ecs.Client, id, nicType string) []ecs.Permission {
	t.Helper()
	return attr(t, c, id, nicType).Permissions.Permission
}

// cidrIngress is an ingress permission from a CIDR.
func cidrIngress(proto, ports, cidr string) ecs.AuthorizeSecurityGroupPermissions {
	return ecs.AuthorizeSecurityGroupPermissions{IpProtocol: proto, PortRange: ports, SourceCidrIp: cidr}
}

// authorize adds ingress rules to a group.
func authorize(c *ecs.Client, id string, perms ...ecs.AuthorizeSecurityGroupPermissions) error {
	r := ecs.CreateAuthorizeSecurityGroupRequest()
	r.SecurityGroupId = id
	r.Permissions = &perms
	_, err := c.AuthorizeSecurityGroup(r)
	return err
}

// groupIDs lists the IDs DescribeSecurityGroups returns for a request (all
// pages of 50).
func groupIDs(t testing.TB, c *ecs.Client, filter func(r *ecs.DescribeSecurityGroupsRequest)) []string {
	t.Helper()
	var ids []string
	for page := 1; ; page++ {
		r := ecs.CreateDescribeSecurityGroupsRequest()
		r.PageSize, r.PageNumber = "50", requests.NewInteger(page)
		if filter != nil {
			filter(r)
		}
		resp := must(c.DescribeSecurityGroups(r))(t)
		for _, g := range resp.SecurityGroups.SecurityGroup {
			ids = append(ids, g.SecurityGroupId)
		}
		if len(resp.SecurityGroups.SecurityGroup) < 50 {
			return ids
		}
	}
}
