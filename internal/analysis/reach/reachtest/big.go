package reachtest

import (
	"sync"

	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// BigConfig is the benchmark cloud: 10 VPCs, each with 100 groups and 1,000
// instances (10,000 and 1,000 in all); each group gets 0-100 rules (about
// 50,000 in all) and each instance 1-3 groups; 30% of instances have a
// public address, 30% an IPv6 address; 20% of groups are enterprise groups.
var BigConfig = cloudgen.Config{VPCs: 10, Groups: 100, Instances: 1000, RulesPerGroup: 100, PrefixLists: 20,
	MaxGroups: 3, PublicShare: 0.3, IPv6Share: 0.3, Enterprise: 0.2}

var (
	bigOnce sync.Once
	big     *cloudgen.Cloud
)

// Big returns the benchmark cloud (seed 42), generated once per process.
func Big() *cloudgen.Cloud {
	bigOnce.Do(func() { big = cloudgen.Generate(42, BigConfig) })
	return big
}

// SharedConfig is BigConfig with one group per instance, so that members of
// a group share their policy: the common shape of real clouds, where a
// change touches one or two classes.
var SharedConfig = func() cloudgen.Config { c := BigConfig; c.MaxGroups = 1; return c }()

var (
	sharedOnce sync.Once
	shared     *cloudgen.Cloud
)

// Shared returns the cloud of SharedConfig (seed 42), generated once.
func Shared() *cloudgen.Cloud {
	sharedOnce.Do(func() { shared = cloudgen.Generate(42, SharedConfig) })
	return shared
}
