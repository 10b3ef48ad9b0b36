package model

import (
	"testing"
)

func TestNewGroup(t *testing.T) {
	tests := []struct {
		name       string
		spec       GroupSpec
		wantType   GroupType
		wantPolicy string
		code       string // "" when the spec is valid
		field      string
	}{
		{"basic defaults to Accept", GroupSpec{VpcID: "vpc-1"}, Normal, InnerAccept, "", ""},
		{"empty type is basic", GroupSpec{}, Normal, InnerAccept, "", ""},
		{"basic may be classic", GroupSpec{Type: Normal}, Normal, InnerAccept, "", ""},
		{"basic may isolate", GroupSpec{VpcID: "vpc-1", InnerAccessPolicy: InnerDrop}, Normal, InnerDrop, "", ""},
		{"enterprise defaults to Drop", GroupSpec{Type: Enterprise, VpcID: "vpc-1"}, Enterprise, InnerDrop, "", ""},
		{"enterprise may say Drop", GroupSpec{Type: Enterprise, VpcID: "vpc-1", InnerAccessPolicy: InnerDrop}, Enterprise, InnerDrop, "", ""},
		{"enterprise needs a VPC", GroupSpec{Type: Enterprise}, "", "", "InvalidParams.VpcIdGroupType", "VpcId"},
		{"enterprise cannot be Accept", GroupSpec{Type: Enterprise, VpcID: "vpc-1", InnerAccessPolicy: InnerAccept}, "", "", "InvalidParameter.InnerAccessPolicy", "InnerAccessPolicy"},
		{"unknown type", GroupSpec{Type: "premium", VpcID: "vpc-1"}, "", "", "InvalidParams.GroupType", "SecurityGroupType"},
		{"unknown policy", GroupSpec{VpcID: "vpc-1", InnerAccessPolicy: "accept"}, "", "", "InvalidPolicy.Malformed", "InnerAccessPolicy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, e := NewGroup(tt.spec)
			if tt.code != "" {
				if e == nil {
					t.Fatalf("accepted %+v, want %s at %s", g, tt.code, tt.field)
				}
				if e.Code != tt.code || e.Field != tt.field {
					t.Fatalf("got %v at %q, want %s at %s", e, e.Field, tt.code, tt.field)
				}
				return
			}
			if e != nil {
				t.Fatalf("refused: %v", e)
			}
			if g.Type != tt.wantType || g.InnerAccessPolicy != tt.wantPolicy || g.Rules == nil || len(g.Rules) != 0 {
				t.Fatalf("got type %q policy %q rules %v, want %q %q and no rules", g.Type, g.InnerAccessPolicy, g.Rules, tt.wantType, tt.wantPolicy)
			}
			if e := CheckGroup(g); e != nil {
				t.Fatalf("a group NewGroup made fails CheckGroup: %v", e)
			}
		})
	}
}

func TestDefaultsByType(t *testing.T) {
	tests := []struct {
		typ    GroupType
		policy string
		limit  int
	}{
		{Normal, InnerAccept, MaxGroupMembers},
		{Enterprise, InnerDrop, MaxEnterpriseMembers},
	}
	for _, tt := range tests {
		if got := DefaultInnerAccessPolicy(tt.typ); got != tt.policy {
			t.Errorf("DefaultInnerAccessPolicy(%s) = %s, want %s", tt.typ, got, tt.policy)
		}
		if got := MemberLimit(tt.typ); got != tt.limit {
			t.Errorf("MemberLimit(%s) = %d, want %d", tt.typ, got, tt.limit)
		}
	}
}

func TestSetInnerAccessPolicy(t *testing.T) {
	tests := []struct {
		name   string
		typ    GroupType
		policy string
		want   string
		code   string
		status int
	}{
		{"basic to Drop", Normal, "drop", InnerDrop, "", 0},
		{"basic to Accept", Normal, "ACCEPT", InnerAccept, "", 0},
		{"basic to nonsense", Normal, "allow", InnerAccept, "InvalidPolicy.Malformed", 400},
		{"enterprise is fixed", Enterprise, "Drop", InnerDrop, "InvalidParameter.InnerAccessPolicy", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &SecurityGroup{Type: tt.typ, VpcID: "vpc-1", InnerAccessPolicy: DefaultInnerAccessPolicy(tt.typ)}
			e := SetInnerAccessPolicy(g, tt.policy)
			if tt.code != "" && (e == nil || e.Code != tt.code || e.Status != tt.status) || tt.code == "" && e != nil {
				t.Fatalf("got %v, want %q %d", e, tt.code, tt.status)
			}
			if g.InnerAccessPolicy != tt.want {
				t.Fatalf("policy %q, want %q", g.InnerAccessPolicy, tt.want)
			}
		})
	}
}

func TestParsePriorityBounds(t *testing.T) {
	tests := []struct {
		in   string
		want int
		code string
	}{
		{"", DefaultPriority, ""},
		{"1", MinPriority, ""},
		{"100", MaxPriority, ""},
		{"0", 0, "InvalidPriority.ValueNotSupported"},
		{"101", 0, "InvalidPriority.ValueNotSupported"},
		{"x", 0, "InvalidPriority.Malformed"},
	}
	for _, tt := range tests {
		got, e := ParsePriority(tt.in)
		if got != tt.want || tt.code == "" && e != nil || tt.code != "" && (e == nil || e.Code != tt.code) {
			t.Errorf("ParsePriority(%q) = %d, %v; want %d, %q", tt.in, got, e, tt.want, tt.code)
		}
	}
}
