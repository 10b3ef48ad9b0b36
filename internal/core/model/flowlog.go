package model

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// A FlowLog (VPC 2016-04-28 CreateFlowLog) asks the agents to record the
// flows of the network interfaces of one ENI, vSwitch or VPC: accepted,
// rejected or both, aggregated per capture window.
type FlowLog struct {
	ID           string `json:"id"` // fl-…
	Region       string `json:"region"`
	Owner        string `json:"owner"`
	Name         string `json:"name,omitempty"`
	Description  string `json:"description,omitempty"`
	ResourceType string `json:"resourceType"` // FlowLogENI, FlowLogVSwitch or FlowLogVPC
	ResourceID   string `json:"resourceId"`
	// VpcID is the VPC of the resource (DescribeFlowLogs filters by it).
	VpcID       string `json:"vpcId,omitempty"`
	TrafficType string `json:"trafficType"` // All, Allow or Drop
	// Interval is the capture window in minutes (AggregationInterval).
	Interval     int       `json:"interval"`
	ProjectName  string    `json:"projectName,omitempty"`
	LogStoreName string    `json:"logStoreName,omitempty"`
	IPVersion    string    `json:"ipVersion,omitempty"`
	TrafficPath  []string  `json:"trafficPath,omitempty"`
	Status       string    `json:"status"` // FlowLogActive or FlowLogInactive
	Created      time.Time `json:"created"`
	Tags         []Tag     `json:"tags,omitempty"`
	// ActiveSince is when the flow log was last made active (created or
	// ActiveFlowLog): it has recorded without a gap since, while Active.
	// Zero in flow logs made before it was kept: Created.
	ActiveSince time.Time `json:"activeSince,omitzero"`
}

// Flow log resource types, traffic types and statuses, as VPC spells them.
const (
	FlowLogENI     = "NetworkInterface"
	FlowLogVSwitch = "VSwitch"
	FlowLogVPC     = "VPC"

	TrafficAll   = "All"
	TrafficAllow = "Allow"
	TrafficDrop  = "Drop"

	FlowLogActive   = "Active"
	FlowLogInactive = "Inactive"
)

// Flow log limits. The per-region quota is not documented (unconfirmed):
// Palisade allows MaxFlowLogs per account and region.
const (
	MaxFlowLogs            = 50
	DefaultFlowLogInterval = 10 // minutes
)

// Covers reports whether the flow log records the flows of a network
// interface (its ENI, vSwitch and VPC) with the given action (ACCEPT or
// REJECT; "" for any). An inactive flow log covers nothing.
func (f *FlowLog) Covers(eni, vswitch, vpc, action string) bool {
	if f.Status != FlowLogActive || !f.Names(eni, vswitch, vpc) {
		return false
	}
	switch {
	case action == "" || f.TrafficType == TrafficAll:
		return true
	case action == "ACCEPT":
		return f.TrafficType == TrafficAllow
	case action == "REJECT":
		return f.TrafficType == TrafficDrop
	}
	return false
}

// Names reports whether the flow log's resource is the ENI, its vSwitch or
// its VPC, whatever its status and traffic type.
func (f *FlowLog) Names(eni, vswitch, vpc string) bool {
	switch f.ResourceType {
	case FlowLogENI:
		return f.ResourceID == eni
	case FlowLogVSwitch:
		return f.ResourceID == vswitch
	case FlowLogVPC:
		return f.ResourceID == vpc
	}
	return false
}

// CoveredSince is when the flow log's current active period began.
func (f *FlowLog) CoveredSince() time.Time {
	if f.ActiveSince.IsZero() {
		return f.Created
	}
	return f.ActiveSince
}

// NICENI is the ENI ID of a NIC as model.NICs gives it: a secondary ENI's
// own ID, or the primary ENI derived from the instance's.
func NICENI(nic *Instance) string {
	if strings.HasPrefix(nic.ID, "eni-") {
		return nic.ID
	}
	return DerivedID("eni", nic.ID)
}

// Field checks of the flow-log actions (VPC's IllegalParam.* family).
var (
	slsProject  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	slsLogStore = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$`)
)

// ValidateFlowLogText checks a flow log's name, description and SLS target
// (empty: not given).
func ValidateFlowLogText(name, description, project, logstore string) *ecserr.Error {
	if n := utf8.RuneCountInString(name); name != "" && (n > 128 || hasURLPrefix(name) || !ValidText(name)) {
		return ecserr.BadRequest("IllegalParam.FlowLogName", "FlowLogName must be 1 to 128 characters and not start with http:// or https://.")
	}
	if n := utf8.RuneCountInString(description); description != "" && (n > 256 || hasURLPrefix(description) || !ValidText(description)) {
		return ecserr.BadRequest("IllegalParam.Description", "Description must be 1 to 256 characters and not start with http:// or https://.")
	}
	if project != "" && !slsProject.MatchString(project) {
		return ecserr.BadRequest("IllegalParam.ProjectName", "ProjectName must be 3 to 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit.")
	}
	if logstore != "" && !slsLogStore.MatchString(logstore) {
		return ecserr.BadRequest("IllegalParam.LogStoreName", "LogStoreName must be 3 to 63 characters of a-z, 0-9, '_' and '-', starting and ending with a letter or digit.")
	}
	return nil
}

// FlowLogInterval checks an AggregationInterval (minutes; 0: the default).
func FlowLogInterval(n int) (int, *ecserr.Error) {
	switch n {
	case 0:
		return DefaultFlowLogInterval, nil
	case 1, 5, 10:
		return n, nil
	}
	return 0, ecserr.BadRequest("IllegalParam.AggregationInterval", "AggregationInterval must be 1, 5 or 10 (minutes); %d was given.", n)
}

// FlowLogIPVersion checks an IpVersion, compared without case ("" stays
// "": IPv4).
func FlowLogIPVersion(v string) (string, *ecserr.Error) {
	switch strings.ToLower(v) {
	case "":
		return "", nil
	case "ipv4":
		return "IPv4", nil
	case "dualstack":
		return "DualStack", nil
	}
	return "", ecserr.BadRequest("IllegalParam.IpVersion", "IpVersion must be IPv4 or DualStack; %q was given.", v)
}
