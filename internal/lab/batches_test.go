package lab

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestFlowBatchesTieOneAddress: two flows conntrack ties together (one the
// reply of the other) go out in separate batches however their outside end
// is written. 2001:DB8:FE::1 and 2001:db8:fe::1 shared a batch, and lab
// play passed the second flow as the first one's reply (kernel Accept,
// engine Drop).
func TestFlowBatchesTieOneAddress(t *testing.T) {
	udp := func(from, to string, port, sport uint16) policy.Flow {
		return policy.Flow{From: from, To: to, Protocol: model.UDP, Port: port, SourcePort: sport}
	}
	tests := []struct {
		name  string
		a, b  policy.Flow
		apart bool
	}{
		{"same form", udp("2001:db8:fe::1", "i-k", 53, 5000), udp("i-k", "2001:db8:fe::1", 5000, 53), true},
		{"upper case", udp("2001:db8:fe::1", "i-k", 53, 5000), udp("i-k", "2001:DB8:FE::1", 5000, 53), true},
		{"zero group", udp("2001:db8:fe::2", "i-k", 53, 5000), udp("i-k", "2001:db8:fe:0::2", 5000, 53), true},
		{"other address", udp("2001:db8:fe::1", "i-k", 53, 5000), udp("i-k", "2001:db8:fe::3", 5000, 53), false},
		{"other ports", udp("198.51.100.7", "i-k", 53, 5000), udp("i-k", "198.51.100.7", 5001, 53), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := len(flowBatches([]policy.Flow{tt.a, tt.b})) == 2
			if got != tt.apart {
				t.Errorf("in separate batches: %v, want %v", got, tt.apart)
			}
		})
	}
}
