package model

import (
	"net/http"
	"time"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// Rule priority bounds: 1 is evaluated first; a rule given none gets 1.
const (
	MinPriority     = 1
	MaxPriority     = 100
	DefaultPriority = MinPriority
)

// DefaultInnerAccessPolicy is the InnerAccessPolicy a new group of type t
// gets: basic groups let their members reach each other, enterprise groups
// isolate them.
func DefaultInnerAccessPolicy(t GroupType) string {
	if t == Enterprise {
		return InnerDrop
	}
	return InnerAccept
}

// MemberLimit is how many instances a group of type t may hold.
func MemberLimit(t GroupType) int {
	if t == Enterprise {
		return MaxEnterpriseMembers
	}
	return MaxGroupMembers
}

// GroupSpec is what a security group is made from, whichever way it comes
// in (the API, a scenario file, an import of ECS responses).
type GroupSpec struct {
	ID, Region, Owner string
	Name, Description string
	Type              GroupType // "" means Normal
	VpcID             string    // "" means the classic network
	// InnerAccessPolicy, when set, overrides the type's default; it must be
	// Accept or Drop as written by ParseInnerAccessPolicy.
	InnerAccessPolicy string
	ResourceGroupID   string
	Tags              []Tag
	Created           time.Time
}

// NewGroup returns a group without rules, with its type's defaults, or the
// ECS error for a spec that breaks a group invariant (see CheckGroup). Name,
// description and tag syntax are input rules of the API, checked where the
// input is read, not here: loaders keep whatever ECS stored.
func NewGroup(s GroupSpec) (*SecurityGroup, *ecserr.Error) {
	g := &SecurityGroup{ID: s.ID, Region: s.Region, Owner: s.Owner, Name: s.Name, Description: s.Description,
		Type: s.Type, VpcID: s.VpcID, InnerAccessPolicy: s.InnerAccessPolicy, ResourceGroupID: s.ResourceGroupID,
		Tags: s.Tags, Created: s.Created, Rules: []Rule{}}
	if g.Type == "" {
		g.Type = Normal
	}
	if g.InnerAccessPolicy == "" {
		g.InnerAccessPolicy = DefaultInnerAccessPolicy(g.Type)
	}
	if e := CheckGroup(g); e != nil {
		return nil, e
	}
	return g, nil
}

// CheckGroup checks a group's invariants: a known type and policy, an
// enterprise group is in a VPC and isolates its members.
func CheckGroup(g *SecurityGroup) *ecserr.Error {
	switch g.Type {
	case Normal, Enterprise:
	default:
		return ecserr.BadRequest("InvalidParams.GroupType", "SecurityGroupType %q is not valid; use normal or enterprise.", g.Type).At("SecurityGroupType")
	}
	switch g.InnerAccessPolicy {
	case InnerAccept, InnerDrop:
	default:
		return ecserr.BadRequest("InvalidPolicy.Malformed", "The InnerAccessPolicy %q is invalid. Only 'Accept' and 'Drop' are supported.", g.InnerAccessPolicy).At("InnerAccessPolicy")
	}
	if g.Type == Enterprise && g.VpcID == "" {
		return ecserr.BadRequest("InvalidParams.VpcIdGroupType", "An enterprise security group must be created in a VPC: give VpcId.").At("VpcId")
	}
	if g.Type == Enterprise && g.InnerAccessPolicy == InnerAccept {
		return ecserr.BadRequest("InvalidParameter.InnerAccessPolicy", "Enterprise security groups always isolate their members; InnerAccessPolicy cannot be Accept.").At("InnerAccessPolicy")
	}
	return nil
}

// SetInnerAccessPolicy changes a group's InnerAccessPolicy, which only a
// basic group allows (ECS answers 404 for an enterprise group).
func SetInnerAccessPolicy(g *SecurityGroup, policy string) *ecserr.Error {
	if g.Type == Enterprise {
		return ecserr.New(http.StatusNotFound, "InvalidParameter.InnerAccessPolicy", "The InnerAccessPolicy attribute of enterprise level security group can't be modified.").At("InnerAccessPolicy")
	}
	p, e := ParseInnerAccessPolicy(policy)
	if e != nil {
		return e
	}
	g.InnerAccessPolicy = p
	return nil
}
