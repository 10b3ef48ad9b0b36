package service

import (
	"slices"
	"strings"
	"time"
)

// HostState is what a host's agent last reported: the revision it has
// applied and when it was last heard from (for metrics; live state, not
// stored).
type HostState struct {
	Name    string
	Applied int64
	Seen    time.Time
}

// HostStates returns every host this server heard from since the start,
// by name (not those it knows only through SharedHosts).
func (s *Service) HostStates() []HostState {
	t := s.hosts
	t.mu.RLock()
	out := make([]HostState, 0, len(t.hosts))
	for name, h := range t.hosts {
		if seen := h.seen.Load(); seen != 0 {
			out = append(out, HostState{Name: name, Applied: h.applied.Load(), Seen: time.Unix(0, seen).UTC()})
		}
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b HostState) int { return strings.Compare(a.Name, b.Name) })
	return out
}
