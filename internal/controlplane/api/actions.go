package api

import "github.com/palisade-sg/palisade/internal/controlplane/rpc"

// ecsActions are the ECS (2014-05-26) actions, gathered from the files that
// implement them; the analysis actions are package analysisapi'.
func (s *Service) ecsActions() map[string]rpc.Handler {
	out := map[string]rpc.Handler{}
	for _, m := range []map[string]rpc.Handler{
		s.groupActions(), s.ruleActions(), s.membershipActions(), s.instanceActions(),
		s.prefixListActions(), s.portRangeListActions(), s.keyPairActions(), s.tagActions(), s.regionActions(), s.catalogueActions(), s.hostActions(), s.eniActions(), s.accountActions(), s.accountAttributeActions(), s.flowRecordActions(), s.resourceGroupActions(), s.diskActions(), s.lifecycleActions(), s.ipv6Actions(),
	} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
