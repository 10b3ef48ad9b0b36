// Package ecsimport turns an Alibaba Cloud account's security groups,
// instances and prefix lists into Palisade's model, either from saved API
// responses (FromDir) or live through the official SDK (FromECS), so that
// the policy engine and the auditor can judge a real account.
//
// Both paths decode the same JSON (ECS's own response bodies, which is also
// what the aliyun CLI prints) with the same code, and every rule goes
// through model.ParseRule, so an imported rule is validated exactly as the
// API validates one. Nothing is dropped silently: whatever could not be
// converted, or leaves evaluation incomplete, is listed in Account.Warnings.
package ecsimport

import (
	"fmt"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Account is what an import found.
type Account struct {
	// Owner is the account's numeric UID when the responses reveal it (a
	// rule naming one of the account's own groups carries the owner), else
	// "". ECS's describe calls do not return it otherwise.
	Owner       string
	Groups      []*model.SecurityGroup // in ID order
	Instances   []*model.Instance      // in ID order
	PrefixLists []*model.PrefixList    // in ID order
	// PortRangeLists are the port range lists, in ID order.
	PortRangeLists []*model.PortRangeList
	// VPCs are the VPCs read (DescribeVpcs), in ID order: their blocks are
	// not the internet to the reachability analysis. A VPC's secondary
	// IPv4 blocks come as further entries with its ID, one a block.
	VPCs []*model.VPC
	// ENIs are the secondary network interfaces (DescribeNetworkInterfaces),
	// in ID order; each is judged with its own groups.
	ENIs []*model.NetworkInterface
	// Warnings lists what was skipped or is incomplete: unconvertible
	// rules, references to resources the import does not hold, files that
	// are not ECS responses.
	Warnings []Warning
}

// Warning is one thing the import could not take over as it was.
type Warning struct {
	Source   string // the file or the API call the data came from
	Resource string // the group, instance or prefix list concerned, if any
	RuleID   string // the rule concerned, if any
	Message  string // what happened and what to do about it
}

func (w Warning) String() string {
	s := w.Source
	if w.Resource != "" {
		s += ": " + w.Resource
	}
	if w.RuleID != "" {
		s += " " + w.RuleID
	}
	return fmt.Sprintf("%s: %s", s, w.Message)
}

// Cloud indexes the account for the policy engine and the auditor.
func (a *Account) Cloud() *policy.Cloud {
	return policy.NewCloud(a.Groups, model.NICs(a.Instances, a.ENIs), a.PrefixLists).WithPortRangeLists(a.PortRangeLists)
}
