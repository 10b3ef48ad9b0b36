package ratelimit

import "testing"

// TestAllowNChargesBySize: a request is charged tokens by its size
// (Cost), so that an account sending 1 MiB requests, each costing the
// server many times a small one to read and check, is held to
// proportionally fewer of them; every ordinary request costs one. A cost
// above a bucket's burst is charged as the burst: such a request is
// admitted from a full bucket, never refused for ever.
func TestAllowNChargesBySize(t *testing.T) {
	cfg := Config{PerAction: 1, ActionBurst: 10, PerAccount: 1, AccountBurst: 20}
	for _, tc := range []struct {
		name  string
		bytes []int // the sizes of the requests sent at once
		want  int   // admitted
	}{
		{"small ones", []int{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100}, 10},
		{"ordinary (the SDKs' largest) cost one", []int{CostUnit - 1, CostUnit - 1, CostUnit - 1}, 3},
		{"large ones drain the bucket", []int{5 * CostUnit, 5 * CostUnit, 100}, 2},
		{"larger than the burst", []int{1 << 20, 100}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := newTest(cfg)
			got := 0
			for _, n := range tc.bytes {
				if l.AllowN("acct", "Describe", Cost(n)) == nil {
					got++
				}
			}
			if got != tc.want {
				t.Errorf("admitted %d of %v, want %d", got, tc.bytes, tc.want)
			}
		})
	}
}
