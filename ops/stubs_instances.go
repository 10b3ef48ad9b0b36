package ops

import "github.com/palisade-sg/palisade/rpc"

// Replaced by instances.go, vpc.go, prefixlists.go, tags.go and regions.go.
func (s *Service) instanceActions() map[string]rpc.Handler   { return nil }
func (s *Service) prefixListActions() map[string]rpc.Handler { return nil }
func (s *Service) tagActions() map[string]rpc.Handler        { return nil }
func (s *Service) regionActions() map[string]rpc.Handler     { return nil }
func (s *Service) vpcActions() map[string]rpc.Handler        { return nil }
