package api

import (
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// A list sent in another form than Name.N(.Field) is refused with
// InvalidParameter naming the form expected, not MissingParameter.
func TestListsInAnotherForm(t *testing.T) {
	e := newEnv(t)
	sg := putTestGroup(e, e.mkVPC(nil), model.Normal)
	for _, tt := range []struct {
		name    string
		version string
		action  string
		params  map[string]string
		want    string // in the message
	}{
		{"Permissions as JSON", ECSVersion, "AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg,
			"Permissions": `[{"IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"10.0.0.0/8"}]`}, "Permissions.1.Field"},
		{"word index", ECSVersion, "AuthorizeSecurityGroupEgress", map[string]string{"SecurityGroupId": sg,
			"Permissions.one.IpProtocol": "TCP", "Permissions.one.PortRange": "22/22", "Permissions.one.DestCidrIp": "10.0.0.0/8"}, `"Permissions.one.`},
		{"tags as JSON", VPCVersion, "CreateVpc", map[string]string{"Tag": `[{"Key":"env","Value":"prod"}]`}, "Tag.1.Field"},
		{"rule ID index", ECSVersion, "RevokeSecurityGroup", map[string]string{"SecurityGroupId": sg, "SecurityGroupRuleId.first": "sgr-a"}, `"SecurityGroupRuleId.first"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.call(tt.version, tt.action, tt.params)
			if got := ecserr.As(err); err == nil || got.Code != "InvalidParameter" || got.Status != 400 || !strings.Contains(got.Message, tt.want) {
				t.Fatalf("%s: %v, want 400 InvalidParameter mentioning %s", tt.action, err, tt.want)
			}
		})
	}
	// The JSON array of DescribeSecurityGroups is its documented form.
	e.ecs("DescribeSecurityGroups", map[string]string{"SecurityGroupIds": `["` + sg + `"]`})
}
