package ecsimport

import (
	"strings"
	"testing"
)

// TestENIPageMissing: saved DescribeNetworkInterfaces pages that hold fewer
// ENIs than the TotalCount they report are warned about, as the groups'
// and instances' are; an ENI left out is a NIC the import cannot judge.
func TestENIPageMissing(t *testing.T) {
	a := build(t, list("sg-a"), attr("sg-a"),
		`{"TotalCount":3,"NextToken":"t1","NetworkInterfaceSets":{"NetworkInterfaceSet":[
			{"NetworkInterfaceId":"eni-3","Type":"Secondary","Status":"Available","VpcId":"vpc-1","PrivateIpAddress":"10.0.0.10",
			 "SecurityGroupIds":{"SecurityGroupId":["sg-a"]}}]}}`)
	for _, w := range a.Warnings {
		if strings.Contains(w.String(), "DescribeNetworkInterfaces reports 3 resources in all but the saved pages hold 1") {
			return
		}
	}
	t.Errorf("no warning about the missing DescribeNetworkInterfaces pages; warnings: %v", a.Warnings)
}
