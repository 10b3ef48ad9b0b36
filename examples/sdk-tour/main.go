// Command sdk-tour drives a Palisade server with the official Alibaba Cloud
// Go SDK, unchanged: only the endpoint differs from real ECS.
//
//	PALISADE_ACCESS_KEY_ID=... PALISADE_ACCESS_KEY_SECRET=... go run ./examples/sdk-tour
package main

import (
	"fmt"
	"log"
	"os"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

func main() {
	endpoint := os.Getenv("PALISADE_ENDPOINT")
	if endpoint == "" {
		endpoint = "127.0.0.1:8080"
	}
	id, secret := os.Getenv("PALISADE_ACCESS_KEY_ID"), os.Getenv("PALISADE_ACCESS_KEY_SECRET")
	if id == "" || secret == "" {
		log.Fatal("set PALISADE_ACCESS_KEY_ID and PALISADE_ACCESS_KEY_SECRET (palisade serve prints them)")
	}
	ecsc, err := ecs.NewClientWithAccessKey("cn-hangzhou", id, secret)
	check(err)
	vpcc, err := vpc.NewClientWithAccessKey("cn-hangzhou", id, secret)
	check(err)
	ecsc.Domain, vpcc.Domain = endpoint, endpoint // the only change from real ECS

	// A VPC with one vSwitch.
	cv := vpc.CreateCreateVpcRequest()
	cv.Scheme, cv.CidrBlock, cv.VpcName = "http", "192.168.0.0/16", "tour"
	v, err := vpcc.CreateVpc(cv)
	check(err)
	cs := vpc.CreateCreateVSwitchRequest()
	cs.Scheme, cs.VpcId, cs.ZoneId, cs.CidrBlock = "http", v.VpcId, "cn-hangzhou-h", "192.168.1.0/24"
	sw, err := vpcc.CreateVSwitch(cs)
	check(err)

	// Two groups: web open to the world on 80 and 443, db open to web on 3306.
	group := func(name string) string {
		r := ecs.CreateCreateSecurityGroupRequest()
		r.Scheme, r.VpcId, r.SecurityGroupName = "http", v.VpcId, name
		out, err := ecsc.CreateSecurityGroup(r)
		check(err)
		return out.SecurityGroupId
	}
	web, db := group("web"), group("db")
	auth := ecs.CreateAuthorizeSecurityGroupRequest()
	auth.Scheme, auth.SecurityGroupId = "http", web
	auth.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{
		{IpProtocol: "TCP", PortRange: "80/80", SourceCidrIp: "0.0.0.0/0", Description: "http"},
		{IpProtocol: "TCP", PortRange: "443/443", SourceCidrIp: "0.0.0.0/0", Description: "https"},
	}
	_, err = ecsc.AuthorizeSecurityGroup(auth)
	check(err)
	auth = ecs.CreateAuthorizeSecurityGroupRequest()
	auth.Scheme, auth.SecurityGroupId = "http", db
	auth.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{{IpProtocol: "TCP", PortRange: "3306/3306", SourceGroupId: web, Priority: "1"}}
	_, err = ecsc.AuthorizeSecurityGroup(auth)
	check(err)

	// An instance in the web group.
	run := ecs.CreateRunInstancesRequest()
	run.Scheme, run.ImageId, run.InstanceType, run.VSwitchId, run.SecurityGroupId = "http", "ubuntu_24_04_x64", "ecs.g7.large", sw.VSwitchId, web
	run.Amount = requests.NewInteger(1)
	ri, err := ecsc.RunInstances(run)
	check(err)

	// Read it all back.
	attr := ecs.CreateDescribeSecurityGroupAttributeRequest()
	attr.Scheme, attr.SecurityGroupId = "http", db
	a, err := ecsc.DescribeSecurityGroupAttribute(attr)
	check(err)
	fmt.Printf("VPC %s, vSwitch %s, instance %v\n", v.VpcId, sw.VSwitchId, ri.InstanceIdSets.InstanceIdSet)
	for _, p := range a.Permissions.Permission {
		fmt.Printf("%s %s: %s %s %s from %s (%s)\n", db, p.SecurityGroupRuleId, p.Policy, p.IpProtocol, p.PortRange, p.SourceGroupId, p.SourceGroupName)
	}

	// Bad input gets the ECS error: priority 101 is out of range.
	bad := ecs.CreateAuthorizeSecurityGroupRequest()
	bad.Scheme, bad.SecurityGroupId = "http", web
	bad.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0", Priority: "101"}}
	_, err = ecsc.AuthorizeSecurityGroup(bad)
	fmt.Println("priority 101:", err)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
