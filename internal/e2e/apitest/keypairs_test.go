package apitest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	ecs3 "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	vpc3 "github.com/alibabacloud-go/vpc-20160428/v6/client"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"golang.org/x/crypto/ssh"
)

// md5Fingerprint is the form of ECS's KeyPairFingerPrint.
var md5Fingerprint = regexp.MustCompile(`^([0-9a-f]{2}:){15}[0-9a-f]{2}$`)

// authorizedKey is a public key as a line of ~/.ssh/id_*.pub, with a
// comment.
func authorizedKey(t testing.TB, pub any) (line string, key ssh.PublicKey) {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " me@laptop", k
}

// keyPairNames lists the caller's key pair names for a DescribeKeyPairs
// request (RegionId set here), in the order answered, with the total.
func keyPairNames(t testing.TB, c *ecs3.Client, r *ecs3.DescribeKeyPairsRequest) ([]string, int32) {
	t.Helper()
	r.RegionId = str(region)
	b := must(c.DescribeKeyPairs(r))(t).Body
	var names []string
	for _, k := range b.KeyPairs.KeyPair {
		names = append(names, dara.StringValue(k.KeyPairName))
	}
	return names, dara.Int32Value(b.TotalCount)
}

// TestKeyPairs: CreateKeyPair answers a private key whose public half is
// kept (its fingerprint as answered, MD5 of the key's wire form);
// ImportKeyPair keeps RSA, ECDSA and Ed25519 keys with the fingerprint
// x/crypto/ssh computes; DescribeKeyPairs filters by name (with *
// wildcards), fingerprint, tag and resource group and pages by number;
// tags through TagResources name a key pair by its name; DeleteKeyPairs
// takes a JSON array and passes over names it does not know.
func TestKeyPairs(t *testing.T) {
	e := newEnv(t)
	c, _ := teaClients(t, e.addr, e.ak, e.secret)

	created := must(c.CreateKeyPair(&ecs3.CreateKeyPairRequest{RegionId: str(region), KeyPairName: str("web-key"),
		Tag: []*ecs3.CreateKeyPairRequestTag{{Key: str("env"), Value: str("prod")}}}))(t).Body
	if !strings.HasPrefix(dara.StringValue(created.KeyPairId), "skp-") || dara.StringValue(created.KeyPairName) != "web-key" {
		t.Fatalf("CreateKeyPair answered %v", created)
	}
	blk, _ := pem.Decode([]byte(dara.StringValue(created.PrivateKeyBody)))
	if blk == nil {
		t.Fatalf("PrivateKeyBody is not PEM: %q", dara.StringValue(created.PrivateKeyBody))
	}
	priv, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatalf("PrivateKeyBody: %v", err)
	}
	_, createdPub := authorizedKey(t, &priv.PublicKey)
	if got, want := dara.StringValue(created.KeyPairFingerPrint), ssh.FingerprintLegacyMD5(createdPub); got != want || !md5Fingerprint.MatchString(got) {
		t.Fatalf("KeyPairFingerPrint %q; want %q, the private key's", got, want)
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	imported := map[string]string{} // name: fingerprint
	for _, tc := range []struct {
		name string
		pub  any
	}{{"web-rsa", &rsaKey.PublicKey}, {"db-ecdsa", &ecKey.PublicKey}, {"db-ed25519", edPub}} {
		line, k := authorizedKey(t, tc.pub)
		b := must(c.ImportKeyPair(&ecs3.ImportKeyPairRequest{RegionId: str(region), KeyPairName: str(tc.name), PublicKeyBody: str(line)}))(t).Body
		if got, want := dara.StringValue(b.KeyPairFingerPrint), ssh.FingerprintLegacyMD5(k); got != want {
			t.Errorf("ImportKeyPair %s: fingerprint %q; want %q", tc.name, got, want)
		}
		imported[tc.name] = ssh.FingerprintLegacyMD5(k)
	}

	// The public key is answered only when asked for, without its comment.
	b := must(c.DescribeKeyPairs(&ecs3.DescribeKeyPairsRequest{RegionId: str(region), KeyPairName: str("web-rsa"), IncludePublicKey: dara.Bool(true)}))(t).Body
	if len(b.KeyPairs.KeyPair) != 1 {
		t.Fatalf("DescribeKeyPairs web-rsa: %v", b)
	}
	kp := b.KeyPairs.KeyPair[0]
	if pk := dara.StringValue(kp.PublicKey); !strings.HasPrefix(pk, "ssh-rsa AAAA") || strings.Contains(pk, "me@laptop") {
		t.Errorf("PublicKey %q", pk)
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", dara.StringValue(kp.CreationTime)); err != nil || dara.StringValue(kp.ResourceGroupId) == "" {
		t.Errorf("CreationTime %q, ResourceGroupId %q", dara.StringValue(kp.CreationTime), dara.StringValue(kp.ResourceGroupId))
	}
	b = must(c.DescribeKeyPairs(&ecs3.DescribeKeyPairsRequest{RegionId: str(region), KeyPairName: str("web-rsa")}))(t).Body
	if kp := b.KeyPairs.KeyPair[0]; kp.PublicKey != nil {
		t.Errorf("PublicKey answered without IncludePublicKey: %q", dara.StringValue(kp.PublicKey))
	}

	noErr(t, func() error {
		_, err := c.TagResources(&ecs3.TagResourcesRequest{RegionId: str(region), ResourceType: str("keypair"), ResourceId: []*string{str("db-ecdsa")},
			Tag: []*ecs3.TagResourcesRequestTag{{Key: str("env"), Value: str("prod")}}})
		return err
	}())
	tags := must(c.ListTagResources(&ecs3.ListTagResourcesRequest{RegionId: str(region), ResourceType: str("keypair"), ResourceId: []*string{str("db-ecdsa")}}))(t).Body
	if r := tags.TagResources.TagResource; len(r) != 1 || dara.StringValue(r[0].ResourceId) != "db-ecdsa" || dara.StringValue(r[0].ResourceType) != "keypair" {
		t.Errorf("ListTagResources keypair db-ecdsa: %v", tags)
	}

	for _, tc := range []struct {
		name  string
		r     *ecs3.DescribeKeyPairsRequest
		want  []string
		total int32
	}{
		{"all, by name", &ecs3.DescribeKeyPairsRequest{}, []string{"db-ecdsa", "db-ed25519", "web-key", "web-rsa"}, 4},
		{"exact name", &ecs3.DescribeKeyPairsRequest{KeyPairName: str("web-key")}, []string{"web-key"}, 1},
		{"no such name", &ecs3.DescribeKeyPairsRequest{KeyPairName: str("web")}, nil, 0},
		{"prefix", &ecs3.DescribeKeyPairsRequest{KeyPairName: str("web*")}, []string{"web-key", "web-rsa"}, 2},
		{"suffix", &ecs3.DescribeKeyPairsRequest{KeyPairName: str("*rsa")}, []string{"web-rsa"}, 1},
		{"infix", &ecs3.DescribeKeyPairsRequest{KeyPairName: str("*-e*")}, []string{"db-ecdsa", "db-ed25519"}, 2},
		{"fingerprint", &ecs3.DescribeKeyPairsRequest{KeyPairFingerPrint: str(imported["db-ed25519"])}, []string{"db-ed25519"}, 1},
		{"tag", &ecs3.DescribeKeyPairsRequest{Tag: []*ecs3.DescribeKeyPairsRequestTag{{Key: str("env"), Value: str("prod")}}}, []string{"db-ecdsa", "web-key"}, 2},
		{"other resource group", &ecs3.DescribeKeyPairsRequest{ResourceGroupId: str("rg-acfmzzzzzzzzzzz")}, nil, 0},
		{"page 2 of 3", &ecs3.DescribeKeyPairsRequest{PageNumber: dara.Int32(2), PageSize: dara.Int32(3)}, []string{"web-rsa"}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, total := keyPairNames(t, c, tc.r)
			if !slices.Equal(got, tc.want) || total != tc.total {
				t.Errorf("got %q (total %d); want %q (%d)", got, total, tc.want, tc.total)
			}
		})
	}

	// One name not held is passed over; the others go.
	noErr(t, func() error {
		_, err := c.DeleteKeyPairs(&ecs3.DeleteKeyPairsRequest{RegionId: str(region), KeyPairNames: str(`["web-key","nosuchkey","db-ecdsa"]`)})
		return err
	}())
	if got, _ := keyPairNames(t, c, &ecs3.DescribeKeyPairsRequest{}); !slices.Equal(got, []string{"db-ed25519", "web-rsa"}) {
		t.Errorf("after DeleteKeyPairs: %q", got)
	}
}

// TestKeyPairBadInput: each bad request is refused with ECS's code and
// changes nothing (the key pairs listed before are listed after).
func TestKeyPairBadInput(t *testing.T) {
	e := newEnv(t)
	c, _ := teaClients(t, e.addr, e.ak, e.secret)
	must(c.CreateKeyPair(&ecs3.CreateKeyPairRequest{RegionId: str(region), KeyPairName: str("taken")}))(t)
	good, _ := authorizedKey(t, ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	// A 512-bit modulus (Go no longer generates such keys): only its size
	// matters here.
	weakN := new(big.Int).SetBit(big.NewInt(1), 511, 1)
	weakLine, _ := authorizedKey(t, &rsa.PublicKey{N: weakN, E: 65537})
	importKey := func(name, body string) func() error {
		return func() error {
			_, err := c.ImportKeyPair(&ecs3.ImportKeyPairRequest{RegionId: str(region), KeyPairName: str(name), PublicKeyBody: str(body)})
			return err
		}
	}
	createKey := func(name string) func() error {
		return func() error {
			_, err := c.CreateKeyPair(&ecs3.CreateKeyPairRequest{RegionId: str(region), KeyPairName: str(name)})
			return err
		}
	}
	deleteKeys := func(names string) func() error {
		return func() error {
			_, err := c.DeleteKeyPairs(&ecs3.DeleteKeyPairsRequest{RegionId: str(region), KeyPairNames: str(names)})
			return err
		}
	}
	hundredOne := `["k0"` + strings.Repeat(`,"k"`, 100) + `]`
	for _, tc := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"create without a name", createKey(""), http.StatusBadRequest, "MissingParameter"},
		{"create, name too long", createKey("k" + strings.Repeat("x", 128)), http.StatusBadRequest, "InvalidKeyPairName.Malformed"},
		{"create, name too short", createKey("k"), http.StatusBadRequest, "InvalidKeyPairName.Malformed"},
		{"create, name starts with a digit", createKey("1key"), http.StatusBadRequest, "InvalidKeyPairName.Malformed"},
		{"create, name with a dot", createKey("my.key"), http.StatusBadRequest, "InvalidKeyPairName.Malformed"},
		{"create, duplicate", createKey("taken"), http.StatusBadRequest, "KeyPair.AlreadyExist"},
		{"import, duplicate", importKey("taken", good), http.StatusBadRequest, "KeyPair.AlreadyExist"},
		{"import without a key", importKey("newkey", ""), http.StatusBadRequest, "MissingParameter"},
		{"import, not a key", importKey("newkey", "ssh-rsa not-base64!"), http.StatusBadRequest, "InvalidPublicKeyBody.Malformed"},
		{"import, a private key", importKey("newkey", "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"), http.StatusBadRequest, "InvalidPublicKeyBody.Malformed"},
		{"import, two keys", importKey("newkey", good+"\n"+good), http.StatusBadRequest, "InvalidPublicKeyBody.Malformed"},
		{"import, options before the key", importKey("newkey", `command="ls" `+good), http.StatusBadRequest, "InvalidPublicKeyBody.Malformed"},
		{"import, RSA of 512 bits", importKey("newkey", weakLine), http.StatusBadRequest, "InvalidPublicKeyBody.Malformed"},
		{"import, too long", importKey("newkey", good+" "+strings.Repeat("c", 8<<10)), http.StatusBadRequest, "InvalidPublicKeyBody.Malformed"},
		{"import, bad name", importKey("-key", good), http.StatusBadRequest, "InvalidKeyPairName.Malformed"},
		{"delete, not JSON", deleteKeys("taken"), http.StatusBadRequest, "InvalidKeyPairNames.ValueNotSupported"},
		{"delete, none", deleteKeys("[]"), http.StatusBadRequest, "MissingParameter"},
		{"delete, 101 names", deleteKeys(hundredOne), http.StatusForbidden, "InstanceKeyPairLimitExceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.call(), tc.status, tc.code)
			if got, _ := keyPairNames(t, c, &ecs3.DescribeKeyPairsRequest{}); !slices.Equal(got, []string{"taken"}) {
				t.Errorf("key pairs after the refusal: %q", got)
			}
		})
	}
}

// TestKeyPairTenants: an account neither sees, tags, uses nor deletes
// another's key pair, and may hold one of the same name.
func TestKeyPairTenants(t *testing.T) {
	e := newEnv(t)
	a, _ := teaClients(t, e.addr, e.ak, e.secret)
	acctB := e.srv.NewAccount(t, "teamb")
	b, bv := teaClients(t, e.addr, acctB.KeyID, acctB.Secret)
	fpA := dara.StringValue(must(a.CreateKeyPair(&ecs3.CreateKeyPairRequest{RegionId: str(region), KeyPairName: str("shared-name")}))(t).Body.KeyPairFingerPrint)

	if got, total := keyPairNames(t, b, &ecs3.DescribeKeyPairsRequest{}); len(got) != 0 || total != 0 {
		t.Fatalf("the other account lists %q", got)
	}
	if got, _ := keyPairNames(t, b, &ecs3.DescribeKeyPairsRequest{KeyPairFingerPrint: str(fpA)}); len(got) != 0 {
		t.Fatalf("the other account finds A's key by fingerprint: %q", got)
	}
	_, err := b.TagResources(&ecs3.TagResourcesRequest{RegionId: str(region), ResourceType: str("keypair"), ResourceId: []*string{str("shared-name")},
		Tag: []*ecs3.TagResourcesRequestTag{{Key: str("k"), Value: str("v")}}})
	wantErr(t, err, http.StatusNotFound, "InvalidResourceId.NotFound")
	// B's delete of the name passes over it: it names no key pair of B's.
	_, err = b.DeleteKeyPairs(&ecs3.DeleteKeyPairsRequest{RegionId: str(region), KeyPairNames: str(`["shared-name"]`)})
	noErr(t, err)
	if got, _ := keyPairNames(t, a, &ecs3.DescribeKeyPairsRequest{}); !slices.Equal(got, []string{"shared-name"}) {
		t.Fatalf("A's key pairs after B's delete: %q", got)
	}
	// B cannot launch with A's key pair...
	vpcID := dara.StringValue(must(bv.CreateVpc(&vpc3.CreateVpcRequest{RegionId: str(region), CidrBlock: str("10.0.0.0/16")}))(t).Body.VpcId)
	vsw := dara.StringValue(must(bv.CreateVSwitch(&vpc3.CreateVSwitchRequest{RegionId: str(region), VpcId: str(vpcID),
		CidrBlock: str("10.0.1.0/24"), ZoneId: str(zone)}))(t).Body.VSwitchId)
	sg := dara.StringValue(must(b.CreateSecurityGroup(&ecs3.CreateSecurityGroupRequest{RegionId: str(region), VpcId: str(vpcID)}))(t).Body.SecurityGroupId)
	run := &ecs3.RunInstancesRequest{RegionId: str(region), ImageId: str(imageID), InstanceType: str(instanceType),
		VSwitchId: str(vsw), SecurityGroupId: str(sg), KeyPairName: str("shared-name")}
	_, err = b.RunInstances(run)
	wantErr(t, err, http.StatusNotFound, "InvalidKeyPairName.NotFound")
	if n := dara.Int32Value(must(b.DescribeInstances(&ecs3.DescribeInstancesRequest{RegionId: str(region)}))(t).Body.TotalCount); n != 0 {
		t.Fatalf("the refused launch made %d instances", n)
	}
	// ... but may make one of the same name, its own, and launch with it.
	fpB := dara.StringValue(must(b.CreateKeyPair(&ecs3.CreateKeyPairRequest{RegionId: str(region), KeyPairName: str("shared-name")}))(t).Body.KeyPairFingerPrint)
	if fpB == fpA {
		t.Fatal("two created key pairs share a fingerprint")
	}
	must(b.RunInstances(run))(t)
	// A's key pair, unused by A, goes; B's, in use, stays.
	_, err = a.DeleteKeyPairs(&ecs3.DeleteKeyPairsRequest{RegionId: str(region), KeyPairNames: str(`["shared-name"]`)})
	noErr(t, err)
	if got, _ := keyPairNames(t, b, &ecs3.DescribeKeyPairsRequest{}); !slices.Equal(got, []string{"shared-name"}) {
		t.Fatalf("B's key pairs after A's delete: %q", got)
	}
}

// TestLaunchKeyPairAndKeptFields: RunInstances' KeyPairName must name a
// key pair of the caller's, is answered by DescribeInstances, and keeps
// the key pair from DeleteKeyPairs until the instance is deleted;
// AutoReleaseTime (to the minute) and CreditSpecification are kept and
// answered; InternetMaxBandwidthIn reads -1, as ECS answers it;
// DeploymentSetId and bad values are refused, launching nothing.
func TestLaunchKeyPairAndKeptFields(t *testing.T) {
	e := newEnv(t)
	c, vc := teaClients(t, e.addr, e.ak, e.secret)
	vpcID := dara.StringValue(must(vc.CreateVpc(&vpc3.CreateVpcRequest{RegionId: str(region), CidrBlock: str("10.0.0.0/16")}))(t).Body.VpcId)
	vsw := dara.StringValue(must(vc.CreateVSwitch(&vpc3.CreateVSwitchRequest{RegionId: str(region), VpcId: str(vpcID),
		CidrBlock: str("10.0.1.0/24"), ZoneId: str(zone)}))(t).Body.VSwitchId)
	sg := dara.StringValue(must(c.CreateSecurityGroup(&ecs3.CreateSecurityGroupRequest{RegionId: str(region), VpcId: str(vpcID)}))(t).Body.SecurityGroupId)
	must(c.CreateKeyPair(&ecs3.CreateKeyPairRequest{RegionId: str(region), KeyPairName: str("login")}))(t)
	count := func() int32 {
		t.Helper()
		return dara.Int32Value(must(c.DescribeInstances(&ecs3.DescribeInstancesRequest{RegionId: str(region)}))(t).Body.TotalCount)
	}
	launch := func(f func(r *ecs3.RunInstancesRequest)) (string, error) {
		r := &ecs3.RunInstancesRequest{RegionId: str(region), ImageId: str(imageID), InstanceType: str(instanceType), VSwitchId: str(vsw), SecurityGroupId: str(sg)}
		f(r)
		res, err := c.RunInstances(r)
		if err != nil {
			return "", err
		}
		return dara.StringValue(res.Body.InstanceIdSets.InstanceIdSet[0]), nil
	}
	release := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Minute)

	for _, tc := range []struct {
		name string
		set  func(r *ecs3.RunInstancesRequest)
		code string
	}{
		{"no such key pair", func(r *ecs3.RunInstancesRequest) { r.KeyPairName = str("nokey") }, "InvalidKeyPairName.NotFound"},
		{"malformed key pair name", func(r *ecs3.RunInstancesRequest) { r.KeyPairName = str("1bad") }, "InvalidKeyPairName.Malformed"},
		// As AttachKeyPair refuses one to a Windows instance.
		{"key pair on a Windows image", func(r *ecs3.RunInstancesRequest) {
			r.KeyPairName, r.ImageId = str("login"), str(windowsImage)
		}, "DependencyViolation.WindowsInstance"},
		{"deployment set", func(r *ecs3.RunInstancesRequest) { r.DeploymentSetId = str("ds-bp1brhwhoqinyjd6xxxx") }, "OperationUnsupported.DeploymentSet"},
		{"release time not UTC", func(r *ecs3.RunInstancesRequest) {
			r.AutoReleaseTime = str(release.Format("2006-01-02T15:04:05+08:00"))
		}, "InvalidAutoReleaseTime.Malformed"},
		{"release time too soon", func(r *ecs3.RunInstancesRequest) {
			r.AutoReleaseTime = str(time.Now().UTC().Add(10 * time.Minute).Format("2006-01-02T15:04:05Z"))
		}, "InvalidAutoReleaseTime.Malformed"},
		{"release time past three years", func(r *ecs3.RunInstancesRequest) {
			r.AutoReleaseTime = str(time.Now().UTC().AddDate(3, 1, 0).Format("2006-01-02T15:04:05Z"))
		}, "InvalidAutoReleaseTime.Malformed"},
		{"credit specification", func(r *ecs3.RunInstancesRequest) { r.CreditSpecification = str("Turbo") }, "InvalidCreditSpecification.ValueNotSupported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := launch(tc.set)
			code, status, _ := apiError(err)
			if err == nil || code != tc.code || status/100 != 4 {
				t.Fatalf("got %d %s (%v); want %s", status, code, err, tc.code)
			}
			if n := count(); n != 0 {
				t.Fatalf("the refused launch made %d instances", n)
			}
		})
	}

	plain := must(launch(func(*ecs3.RunInstancesRequest) {}))(t)
	id := must(launch(func(r *ecs3.RunInstancesRequest) {
		r.KeyPairName, r.CreditSpecification = str("login"), str("Unlimited")
		r.AutoReleaseTime = str(release.Add(17 * time.Second).Format("2006-01-02T15:04:05Z"))
	}))(t)
	insts := map[string]*ecs3.DescribeInstancesResponseBodyInstancesInstance{}
	for _, in := range must(c.DescribeInstances(&ecs3.DescribeInstancesRequest{RegionId: str(region)}))(t).Body.Instances.Instance {
		insts[dara.StringValue(in.InstanceId)] = in
	}
	in, p := insts[id], insts[plain]
	if got := dara.StringValue(in.KeyPairName); got != "login" {
		t.Errorf("KeyPairName %q; want login", got)
	}
	if got, want := dara.StringValue(in.AutoReleaseTime), release.Format("2006-01-02T15:04Z"); got != want {
		t.Errorf("AutoReleaseTime %q; want %q", got, want)
	}
	if got := dara.StringValue(in.CreditSpecification); got != "Unlimited" {
		t.Errorf("CreditSpecification %q; want Unlimited", got)
	}
	if p.KeyPairName != nil || dara.StringValue(p.AutoReleaseTime) != "" || dara.StringValue(p.CreditSpecification) != "" {
		t.Errorf("an instance launched without them answers KeyPairName %v, AutoReleaseTime %q, CreditSpecification %q",
			p.KeyPairName, dara.StringValue(p.AutoReleaseTime), dara.StringValue(p.CreditSpecification))
	}
	for _, x := range []*ecs3.DescribeInstancesResponseBodyInstancesInstance{in, p} {
		if got := dara.Int32Value(x.InternetMaxBandwidthIn); got != -1 {
			t.Errorf("InternetMaxBandwidthIn %d; want -1", got)
		}
	}
	// DescribeInstances' KeyPairName filter selects the instances launched
	// with it.
	byKey := must(c.DescribeInstances(&ecs3.DescribeInstancesRequest{RegionId: str(region), KeyPairName: str("login")}))(t).Body.Instances.Instance
	if len(byKey) != 1 || dara.StringValue(byKey[0].InstanceId) != id {
		t.Errorf("DescribeInstances KeyPairName=login answered %d instances; want %s only", len(byKey), id)
	}
	attr := must(c.DescribeInstanceAttribute(&ecs3.DescribeInstanceAttributeRequest{InstanceId: str(id)}))(t).Body
	if dara.Int32Value(attr.InternetMaxBandwidthIn) != -1 || dara.StringValue(attr.CreditSpecification) != "Unlimited" {
		t.Errorf("DescribeInstanceAttribute: InternetMaxBandwidthIn %d, CreditSpecification %q",
			dara.Int32Value(attr.InternetMaxBandwidthIn), dara.StringValue(attr.CreditSpecification))
	}

	// Terraform's updates: credit_specification through
	// ModifyInstanceAttribute, auto_release_time through
	// ModifyInstanceAutoReleaseTime ("" cancels), with the classic SDK as
	// the provider sends them; a bad one changes nothing.
	later := release.Add(24 * time.Hour)
	for _, tc := range []struct {
		name            string
		call            func() error
		code            string
		release, credit string
	}{
		{"credit", func() error {
			r := ecs.CreateModifyInstanceAttributeRequest()
			r.InstanceId, r.CreditSpecification = id, "Standard"
			_, err := e.ecs.ModifyInstanceAttribute(r)
			return err
		}, "", release.Format("2006-01-02T15:04Z"), "Standard"},
		{"bad credit", func() error {
			r := ecs.CreateModifyInstanceAttributeRequest()
			r.InstanceId, r.CreditSpecification = id, "Fast"
			_, err := e.ecs.ModifyInstanceAttribute(r)
			return err
		}, "InvalidCreditSpecification.ValueNotSupported", release.Format("2006-01-02T15:04Z"), "Standard"},
		{"release later", func() error {
			r := ecs.CreateModifyInstanceAutoReleaseTimeRequest()
			r.InstanceId, r.AutoReleaseTime = id, later.Format("2006-01-02T15:04:05Z")
			_, err := e.ecs.ModifyInstanceAutoReleaseTime(r)
			return err
		}, "", later.Format("2006-01-02T15:04Z"), "Standard"},
		{"release too soon", func() error {
			r := ecs.CreateModifyInstanceAutoReleaseTimeRequest()
			r.InstanceId, r.AutoReleaseTime = id, time.Now().UTC().Format("2006-01-02T15:04:05Z")
			_, err := e.ecs.ModifyInstanceAutoReleaseTime(r)
			return err
		}, "InvalidAutoReleaseTime.Malformed", later.Format("2006-01-02T15:04Z"), "Standard"},
		{"release cancelled", func() error {
			r := ecs.CreateModifyInstanceAutoReleaseTimeRequest()
			r.InstanceId = id
			_, err := e.ecs.ModifyInstanceAutoReleaseTime(r)
			return err
		}, "", "", "Standard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.code == "" {
				noErr(t, err)
			} else {
				wantErr(t, err, http.StatusBadRequest, tc.code)
			}
			x := must(c.DescribeInstances(&ecs3.DescribeInstancesRequest{RegionId: str(region), InstanceIds: str(`["` + id + `"]`)}))(t).Body.Instances.Instance[0]
			if r, cr := dara.StringValue(x.AutoReleaseTime), dara.StringValue(x.CreditSpecification); r != tc.release || cr != tc.credit {
				t.Errorf("AutoReleaseTime %q, CreditSpecification %q; want %q, %q", r, cr, tc.release, tc.credit)
			}
		})
	}

	// The key pair in use is not deleted, nor the others named with it.
	must(c.CreateKeyPair(&ecs3.CreateKeyPairRequest{RegionId: str(region), KeyPairName: str("spare")}))(t)
	_, err := c.DeleteKeyPairs(&ecs3.DeleteKeyPairsRequest{RegionId: str(region), KeyPairNames: str(`["spare","login"]`)})
	wantErr(t, err, http.StatusBadRequest, "InvalidParameter.KeypairAlreadyAttachedInstance")
	if got, _ := keyPairNames(t, c, &ecs3.DescribeKeyPairsRequest{}); !slices.Equal(got, []string{"login", "spare"}) {
		t.Fatalf("key pairs after the refused delete: %q", got)
	}
	must(c.DeleteInstance(&ecs3.DeleteInstanceRequest{InstanceId: str(id), Force: dara.Bool(true)}))(t)
	_, err = c.DeleteKeyPairs(&ecs3.DeleteKeyPairsRequest{RegionId: str(region), KeyPairNames: str(`["spare","login"]`)})
	noErr(t, err)
	if got, _ := keyPairNames(t, c, &ecs3.DescribeKeyPairsRequest{}); len(got) != 0 {
		t.Fatalf("key pairs after the delete: %q", got)
	}
}

// TestKeyPairQuota: an account holds at most its KeyPairs quota of key
// pairs in a region (the operator's override here, 2); one more is 403
// QuotaExceed.KeyPair and makes nothing, and another account's are not
// counted.
func TestKeyPairQuota(t *testing.T) {
	e := newEnv(t)
	acct := e.srv.NewAccount(t, "small")
	c, _ := teaClients(t, e.addr, acct.KeyID, acct.Secret)
	other, _ := teaClients(t, e.addr, e.ak, e.secret)
	newOperatorSDK(t, e.srv).quotas(t, acct.UID, map[string]string{"KeyPairs": "2"})
	must(other.CreateKeyPair(&ecs3.CreateKeyPairRequest{RegionId: str(region), KeyPairName: str("elsewhere")}))(t)
	for _, name := range []string{"one", "two"} {
		must(c.CreateKeyPair(&ecs3.CreateKeyPairRequest{RegionId: str(region), KeyPairName: str(name)}))(t)
	}
	line, _ := authorizedKey(t, ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	_, err := c.ImportKeyPair(&ecs3.ImportKeyPairRequest{RegionId: str(region), KeyPairName: str("three"), PublicKeyBody: str(line)})
	wantErr(t, err, http.StatusForbidden, "QuotaExceed.KeyPair")
	if got, _ := keyPairNames(t, c, &ecs3.DescribeKeyPairsRequest{}); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("key pairs after the refusal: %q", got)
	}
}
