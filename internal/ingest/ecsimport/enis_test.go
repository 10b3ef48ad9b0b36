package ecsimport

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestBuildENIs reads secondary ENIs from a saved DescribeNetworkInterfaces
// response: each keeps its own groups, addresses and EIP, the primary is
// the instance, and a group the import lacks is warned about.
func TestBuildENIs(t *testing.T) {
	a := build(t, list("sg-a", "sg-m"), attr("sg-a"), attr("sg-m"),
		`{"Instances":{"Instance":[{"InstanceId":"i-1","RegionId":"cn-hangzhou","SecurityGroupIds":{"SecurityGroupId":["sg-a"]},
			"VpcAttributes":{"VpcId":"vpc-1","PrivateIpAddress":{"IpAddress":["10.0.0.5"]}},
			"NetworkInterfaces":{"NetworkInterface":[{"NetworkInterfaceId":"eni-1","Type":"Primary","PrimaryIpAddress":"10.0.0.5"},
				{"NetworkInterfaceId":"eni-2","Type":"Secondary","PrimaryIpAddress":"10.0.0.9"}]}}]}}`,
		`{"TotalCount":3,"NetworkInterfaceSets":{"NetworkInterfaceSet":[
			{"NetworkInterfaceId":"eni-1","Type":"Primary","InstanceId":"i-1","PrivateIpAddress":"10.0.0.5","SecurityGroupIds":{"SecurityGroupId":["sg-a"]}},
			{"NetworkInterfaceId":"eni-2","Type":"Secondary","Status":"InUse","InstanceId":"i-1","VpcId":"vpc-1","PrivateIpAddress":"10.0.0.9",
			 "OwnerId":"1000000000000001","SecurityGroupIds":{"SecurityGroupId":["sg-m"]},
			 "AssociatedPublicIp":{"PublicIpAddress":"47.96.1.9","AllocationId":"eip-9"},"Ipv6Sets":{"Ipv6Set":[{"Ipv6Address":"2408::9"},{"Ipv6Address":"2408::a"}]},
			 "PrivateIpSets":{"PrivateIpSet":[{"PrivateIpAddress":"10.0.0.9","Primary":true},{"PrivateIpAddress":"10.0.0.19","Primary":false,"AssociatedPublicIp":{"PublicIpAddress":"47.96.1.19"}},
			 {"PrivateIpAddress":"not-an-ip","Primary":false}]}},
			{"NetworkInterfaceId":"eni-3","Type":"Secondary","Status":"Available","VpcId":"vpc-1","PrivateIpAddress":"10.0.0.10",
			 "SecurityGroupIds":{"SecurityGroupId":["sg-gone"]}}]}}`)
	if len(a.ENIs) != 2 {
		t.Fatalf("ENIs %+v; want eni-2 and eni-3 (the primary is the instance)", a.ENIs)
	}
	n := a.ENIs[0]
	if n.ID != "eni-2" || n.InstanceID != "i-1" || !slices.Equal(n.SecurityGroups, []string{"sg-m"}) || n.PrivateIP.String() != "10.0.0.9" ||
		fmt.Sprint(n.IPv6s()) != "[2408::9 2408::a]" || n.DeviceIndex != 1 || len(n.SecondaryIPs) != 1 || n.SecondaryIPs[0].String() != "10.0.0.19" {
		t.Errorf("eni-2 = %+v", n)
	}
	c := a.Cloud()
	// Its EIP is its NIC's public address, as an instance's.
	if nic := c.Instances["eni-2"]; nic == nil || !slices.Equal(nic.SecurityGroups, []string{"sg-m"}) || nic.PublicIP.String() != "47.96.1.9" || nic.EipID != "eip-9" {
		t.Errorf("eni-2 is not a NIC of the cloud with its own groups and EIP: %+v", nic)
	}
	if a.ENIs[1].PublicIP.IsValid() {
		t.Errorf("eni-3, with no EIP, has a public address: %+v", a.ENIs[1])
	}
	// Its secondary address is an address of sg-m, as a rule peer.
	if !slices.Contains(c.GroupAddrs("sg-m"), n.SecondaryIPs[0]) || !slices.Contains(c.GroupAddrs("sg-m"), n.MoreIPv6[0]) {
		t.Errorf("sg-m stands for %v; want eni-2's secondary address and second IPv6 address too", c.GroupAddrs("sg-m"))
	}
	if _, ok := c.Instances["eni-3"]; ok {
		t.Error("an unattached ENI is a NIC of the cloud")
	}
	var text []string
	for _, w := range a.Warnings {
		text = append(text, w.String())
	}
	all := strings.Join(text, "\n")
	if strings.Contains(all, "secondary network interface eni-2") || !strings.Contains(all, "sg-gone") || !strings.Contains(all, `"not-an-ip" cannot be read`) ||
		!strings.Contains(all, `the EIP "47.96.1.19" bound to its secondary address 10.0.0.19 is not modelled`) {
		t.Errorf("warnings:\n%s\nwant none about eni-2 (read), one about sg-gone, one about the unreadable address and one about the EIP of its secondary address", all)
	}
}
