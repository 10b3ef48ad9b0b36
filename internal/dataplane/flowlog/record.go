// Package flowlog turns what the kernel reports about the traffic of a
// host's instances into flow records in the shape of Alibaba Cloud's VPC flow
// logs, each naming the entry of the security-group chains that decided it
// on its side (see nft.Options.FlowLog): connections the chains accepted
// come from conntrack events (labelled with the deciding entries), drops
// from the NFLOG group the dropping entries log to.
//
// Records are aggregated per (side, 5-tuple) over a capture window. Memory
// is bounded (Config.MaxFlows); what does not fit is counted, and the
// window's records then say SKIPDATA.
package flowlog

import (
	"net/netip"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// Interface is the network interface an address belongs to, with what a
// record says about it.
type Interface struct {
	AccountID, VpcID, VSwitchID, VMID string
	ENI                               string // the ENI's ID
	HostInterface                     string // the host's interface of the NIC
}

// Record is one flow on one side in one capture window: the fields of an
// ECS VPC flow-log record, plus the deciding entry.
type Record struct {
	Version int // always 1, as in ECS
	Interface
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Protocol         uint8  // IANA number
	Direction        string // "in" or "out" of the interface
	Packets, Bytes   uint64
	Start, End       time.Time
	Action           string // ACCEPT or REJECT
	LogStatus        string // OK or SKIPDATA
	TCPFlags         uint8  // OR of the flags of the logged packets (drops only)
	// Entry decided on this side; EntryID is its ID as the kernel named it.
	EntryID nft.EntryID
	Entry   nft.Entry
}

// Action values.
const (
	Accept = "ACCEPT"
	Reject = "REJECT"
)

// Log status values.
const (
	StatusOK   = "OK"
	StatusSkip = "SKIPDATA"
)

// key identifies a record within a window.
type key struct {
	side         model.Direction
	src, dst     netip.Addr
	sport, dport uint16
	proto        uint8
	action       string
	entry        nft.EntryID
}

// Stats count what the collector saw and what it could not keep.
type Stats struct {
	Events      uint64 // conntrack events received
	Connections uint64 // new connections with a label
	Drops       uint64 // logged packets of drops
	Skipped     uint64 // records or connections not kept: MaxFlows reached
	// LimitSkipped counts the dropped packets the kernel did not log: over
	// the log chains' limit.
	LimitSkipped uint64
	Unknown      uint64 // entries or addresses the collector could not resolve
	Lost         uint64 // netlink receive errors (events the kernel could not deliver)
}
