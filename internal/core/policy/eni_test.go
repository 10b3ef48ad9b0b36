package policy_test

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestSecondaryENIOwnGroups checks that the engine judges a secondary ENI
// with its own groups, not its instance's: each flow here gets the other
// verdict if the ENI took the instance's groups (or the reverse).
func TestSecondaryENIOwnGroups(t *testing.T) {
	web := &model.SecurityGroup{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		rule("sgr-http", model.Ingress, model.Accept, 1, model.TCP, "80/80", "192.168.0.0/16"),
	}}
	mgmt := &model.SecurityGroup{ID: "sg-mgmt", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		rule("sgr-ssh", model.Ingress, model.Accept, 1, model.TCP, "22/22", "192.168.9.0/24"),
		rule("sgr-out", model.Egress, model.Drop, 1, model.TCP, "5432/5432", "0.0.0.0/0"),
	}}
	db := &model.SecurityGroup{ID: "sg-db", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		rule("sgr-from-web", model.Ingress, model.Accept, 1, model.TCP, "5432/5432", "sg-web"),
		rule("sgr-metrics", model.Ingress, model.Accept, 1, model.TCP, "9100/9100", "sg-mgmt"),
	}}
	admin := &model.SecurityGroup{ID: "sg-admin", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop}
	webInst := modeltest.Instance("i-web", "vpc-a", "192.168.1.10", "sg-web")
	eni := &model.NetworkInterface{ID: "eni-mgmt", Type: model.ENISecondary, Status: model.ENIInUse, InstanceID: "i-web",
		VpcID: "vpc-a", PrivateIP: modeltest.Addr("192.168.2.10"), SecurityGroups: []string{"sg-mgmt"}}
	loose := &model.NetworkInterface{ID: "eni-loose", Type: model.ENISecondary, Status: model.ENIAvailable,
		VpcID: "vpc-a", PrivateIP: modeltest.Addr("192.168.2.11"), SecurityGroups: []string{"sg-mgmt"}}
	instances := []*model.Instance{webInst,
		modeltest.Instance("i-db", "vpc-a", "192.168.3.10", "sg-db"),
		modeltest.Instance("i-admin", "vpc-a", "192.168.9.10", "sg-admin")}
	cloud := policy.NewCloud([]*model.SecurityGroup{web, mgmt, db, admin}, model.NICs(instances, []*model.NetworkInterface{eni, loose}), nil)
	if _, ok := cloud.Instances["eni-loose"]; ok {
		t.Fatal("an unattached ENI is a NIC of the policy; it carries no traffic")
	}
	tests := []struct {
		name     string
		flow     policy.Flow
		want     policy.Verdict
		deciding string
	}{
		{"SSH to the management ENI", policy.Flow{From: "i-admin", To: "eni-mgmt", Protocol: model.TCP, Port: 22}, policy.Accept, "sgr-ssh"},
		{"no SSH to the primary", policy.Flow{From: "i-admin", To: "i-web", Protocol: model.TCP, Port: 22}, policy.Drop, string(policy.DefaultIngressDrop)},
		{"HTTP to the primary", policy.Flow{From: "i-admin", To: "i-web", Protocol: model.TCP, Port: 80}, policy.Accept, "sgr-http"},
		{"no HTTP to the management ENI", policy.Flow{From: "i-admin", To: "eni-mgmt", Protocol: model.TCP, Port: 80}, policy.Drop, string(policy.DefaultIngressDrop)},
		{"the primary is a web peer", policy.Flow{From: "i-web", To: "i-db", Protocol: model.TCP, Port: 5432}, policy.Accept, "sgr-from-web"},
		{"the ENI is not a web peer and its egress drops", policy.Flow{From: "eni-mgmt", To: "i-db", Protocol: model.TCP, Port: 5432}, policy.Drop, "sgr-out"},
		{"the ENI is a management peer", policy.Flow{From: "eni-mgmt", To: "i-db", Protocol: model.TCP, Port: 9100}, policy.Accept, "sgr-metrics"},
		{"the primary is not a management peer", policy.Flow{From: "i-web", To: "i-db", Protocol: model.TCP, Port: 9100}, policy.Drop, string(policy.DefaultIngressDrop)},
	}
	for _, ev := range []policy.Decider{policy.NewLinear(cloud), policy.Compile(cloud)} {
		for _, tt := range tests {
			res, err := policy.Evaluate(ev, tt.flow)
			if err != nil {
				t.Fatalf("%T %s: %v", ev, tt.name, err)
			}
			d := res.Deciding()
			got := string(d.Reason)
			if d.Rule != nil {
				got = d.Rule.RuleID
			}
			if res.Verdict != tt.want || got != tt.deciding {
				t.Errorf("%T %s: %s by %s, want %s by %s", ev, tt.name, res.Verdict, got, tt.want, tt.deciding)
			}
		}
	}
}
