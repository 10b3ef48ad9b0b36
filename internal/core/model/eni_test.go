package model_test

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/ecserr"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

func TestPrimaryENIIsTheInstance(t *testing.T) {
	in := modeltest.Instance("i-abc", "vpc-a", "192.168.1.10", "sg-a", "sg-b")
	p := in.PrimaryENI()
	if p.ID != "eni-abc" || p.Type != model.ENIPrimary || p.InstanceID != "i-abc" || p.PrivateIP != in.PrivateIP || len(p.SecurityGroups) != 2 {
		t.Errorf("primary ENI = %+v", p)
	}
}

func TestNICsTakeTheENIsGroups(t *testing.T) {
	in := modeltest.Instance("i-abc", "vpc-a", "192.168.1.10", "sg-a")
	enis := []*model.NetworkInterface{
		{ID: "eni-2", Type: model.ENISecondary, Status: model.ENIInUse, InstanceID: "i-abc", VpcID: "vpc-a", PrivateIP: modeltest.Addr("192.168.1.11"), SecurityGroups: []string{"sg-m"}},
		{ID: "eni-3", Type: model.ENISecondary, Status: model.ENIAvailable, VpcID: "vpc-a", PrivateIP: modeltest.Addr("192.168.1.12"), SecurityGroups: []string{"sg-m"}},
		{ID: "eni-4", Type: model.ENISecondary, Status: model.ENIInUse, InstanceID: "i-gone", VpcID: "vpc-a", PrivateIP: modeltest.Addr("192.168.1.13"), SecurityGroups: []string{"sg-m"}},
	}
	nics := model.NICs([]*model.Instance{in}, enis)
	if len(nics) != 2 || nics[1].ID != "eni-2" || nics[1].SecurityGroups[0] != "sg-m" || nics[1].PrivateIP != enis[0].PrivateIP {
		t.Fatalf("NICs = %+v", nics)
	}
}

func TestCheckENIGroupsAndAttach(t *testing.T) {
	n := &model.NetworkInterface{ID: "eni-1", Type: model.ENISecondary, Status: model.ENIAvailable, VpcID: "vpc-a", Zone: "z1"}
	g := func(id, vpc string) *model.SecurityGroup {
		return &model.SecurityGroup{ID: id, VpcID: vpc, Type: model.Normal}
	}
	six := []*model.SecurityGroup{g("sg-1", "vpc-a"), g("sg-2", "vpc-a"), g("sg-3", "vpc-a"), g("sg-4", "vpc-a"), g("sg-5", "vpc-a"), g("sg-6", "vpc-a")}
	in := &model.Instance{ID: "i-1", VpcID: "vpc-a", Zone: "z1", Status: model.StatusRunning, InstanceType: "ecs.g6.large"}
	for _, tt := range []struct {
		name, code string
		err        *ecserr.Error
	}{
		{"no group", "InvalidOperation.AtLeastInOneGroup", model.CheckENIGroups(n, nil)},
		{"six groups", "JoinedGroupLimitExceed", model.CheckENIGroups(n, six)},
		{"other VPC", "InvalidOperation.VpcMismatch", model.CheckENIGroups(n, []*model.SecurityGroup{g("sg-x", "vpc-b")})},
		{"classic group", "InvalidSecurityGroupId.NotVpc", model.CheckENIGroups(n, []*model.SecurityGroup{g("sg-x", "")})},
		{"quota of a large", "EniPerInstanceLimitExceeded", model.CheckAttach(n, in, 1)},
		{"other zone", "InvalidOperation.AvailabilityZoneMismatch", model.CheckAttach(n, &model.Instance{ID: "i-2", VpcID: "vpc-a", Zone: "z2", Status: model.StatusRunning}, 0)},
	} {
		if tt.err == nil || tt.err.Code != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, tt.err, tt.code)
		}
	}
	if e := model.CheckAttach(n, in, 0); e != nil {
		t.Errorf("attach below the quota: %v", e)
	}
	if e := model.CheckENIGroups(n, six[:5]); e != nil {
		t.Errorf("five groups: %v", e)
	}
}
