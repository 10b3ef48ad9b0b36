package ops

import "github.com/palisade-sg/palisade/rpc"

// Replaced by groups.go and rules.go.
func (s *Service) groupActions() map[string]rpc.Handler { return nil }
func (s *Service) ruleActions() map[string]rpc.Handler  { return nil }
