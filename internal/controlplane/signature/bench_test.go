package signature

import (
	"net/url"
	"strings"
	"testing"
)

// BenchmarkVerifyV1 checks the V1 signature of a rule write as the classic
// SDK sends it (no nonce store: that is measured elsewhere). Every request
// is verified, so its allocations are paid on every write.
func BenchmarkVerifyV1(b *testing.B) {
	p := v1Params("testsecret", func(p url.Values) {
		p.Set("Action", "AuthorizeSecurityGroup")
		for k, v := range map[string]string{"RegionId": "cn-hangzhou", "SecurityGroupId": "sg-bp1abcdefghijklmnopq",
			"IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8", "Policy": "accept", "Priority": "1",
			"Description": "ssh from the office*~"} {
			p.Set(k, v)
		}
	})
	r := v1Request(p)
	v := testVerifier()
	v.Nonces = nil
	b.ReportAllocs()
	for range b.N {
		if _, err := v.Verify(r, p, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPooledSignV1: the pooled check signs as SignV1 (crypto/hmac) does,
// one check reused across keys of every length around the block size (a
// key longer than a block is hashed first) and across strings to sign.
func TestPooledSignV1(t *testing.T) {
	c := v1Checks.Get().(*v1Check)
	defer c.release()
	for _, n := range []int{0, 1, 10, 62, 63, 64, 65, 127, 200} {
		secret := strings.Repeat("k", n)
		for _, msg := range []string{"", "POST&%2F&Action%3DDescribeRegions", strings.Repeat("x", 1000)} {
			if got, want := string(c.sign(secret, []byte(msg))), SignV1(secret, msg); got != want {
				t.Errorf("secret of %d bytes, message of %d: pooled %s, SignV1 %s", n, len(msg), got, want)
			}
		}
	}
}
