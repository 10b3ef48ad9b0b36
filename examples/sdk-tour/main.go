// Command sdk-tour drives a Palisade server with the official Alibaba Cloud
// Go SDK, unchanged: only the endpoint differs from real ECS.
//
//	PALISADE_ACCESS_KEY_ID=... PALISADE_ACCESS_KEY_SECRET=... go run ./examples/sdk-tour
package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

func main() {
	id, secret := os.Getenv("PALISADE_ACCESS_KEY_ID"), os.Getenv("PALISADE_ACCESS_KEY_SECRET")
	if id == "" || secret == "" {
		log.Fatal("set PALISADE_ACCESS_KEY_ID and PALISADE_ACCESS_KEY_SECRET (palisade serve prints them)")
	}
	if err := run(os.Getenv("PALISADE_ENDPOINT"), id, secret, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// target splits PALISADE_ENDPOINT, in the forms palisade serve prints and
// the palisade CLI takes (HOST:PORT for plain HTTP, https://HOST:PORT), into
// the SDK's Domain and scheme.
func target(endpoint string) (domain, scheme string) {
	scheme = "http"
	if rest, ok := strings.CutPrefix(endpoint, "https://"); ok {
		endpoint, scheme = rest, "https"
	} else {
		endpoint = strings.TrimPrefix(endpoint, "http://")
	}
	if endpoint = strings.TrimSuffix(endpoint, "/"); endpoint == "" {
		endpoint = "127.0.0.1:8080"
	}
	return endpoint, scheme
}

// run is the tour, against the server at endpoint.
func run(endpoint, id, secret string, out io.Writer) error {
	domain, scheme := target(endpoint)
	ecsc, err := ecs.NewClientWithAccessKey("cn-hangzhou", id, secret)
	if err != nil {
		return err
	}
	vpcc, err := vpc.NewClientWithAccessKey("cn-hangzhou", id, secret)
	if err != nil {
		return err
	}
	ecsc.Domain, vpcc.Domain = domain, domain // the only change from real ECS

	// A VPC with one vSwitch.
	cv := vpc.CreateCreateVpcRequest()
	cv.Scheme, cv.CidrBlock, cv.VpcName = scheme, "192.168.0.0/16", "tour"
	v, err := vpcc.CreateVpc(cv)
	if err != nil {
		return err
	}
	cs := vpc.CreateCreateVSwitchRequest()
	cs.Scheme, cs.VpcId, cs.ZoneId, cs.CidrBlock = scheme, v.VpcId, "cn-hangzhou-h", "192.168.1.0/24"
	sw, err := vpcc.CreateVSwitch(cs)
	if err != nil {
		return err
	}

	// Two groups: web open to the world on 80 and 443, db open to web on 3306.
	group := func(name string) (string, error) {
		r := ecs.CreateCreateSecurityGroupRequest()
		r.Scheme, r.VpcId, r.SecurityGroupName = scheme, v.VpcId, name
		res, err := ecsc.CreateSecurityGroup(r)
		if err != nil {
			return "", err
		}
		return res.SecurityGroupId, nil
	}
	web, err := group("web")
	if err != nil {
		return err
	}
	db, err := group("db")
	if err != nil {
		return err
	}
	auth := ecs.CreateAuthorizeSecurityGroupRequest()
	auth.Scheme, auth.SecurityGroupId = scheme, web
	auth.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{
		{IpProtocol: "TCP", PortRange: "80/80", SourceCidrIp: "0.0.0.0/0", Description: "http"},
		{IpProtocol: "TCP", PortRange: "443/443", SourceCidrIp: "0.0.0.0/0", Description: "https"},
	}
	_, err = ecsc.AuthorizeSecurityGroup(auth)
	if err != nil {
		return err
	}
	auth = ecs.CreateAuthorizeSecurityGroupRequest()
	auth.Scheme, auth.SecurityGroupId = scheme, db
	auth.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{{IpProtocol: "TCP", PortRange: "3306/3306", SourceGroupId: web, Priority: "1"}}
	_, err = ecsc.AuthorizeSecurityGroup(auth)
	if err != nil {
		return err
	}

	// An instance in the web group.
	run := ecs.CreateRunInstancesRequest()
	run.Scheme, run.ImageId, run.InstanceType, run.VSwitchId, run.SecurityGroupId = scheme, "ubuntu_24_04_x64", "ecs.g7.large", sw.VSwitchId, web
	run.Amount = requests.NewInteger(1)
	ri, err := ecsc.RunInstances(run)
	if err != nil {
		return err
	}

	// Read it all back.
	attr := ecs.CreateDescribeSecurityGroupAttributeRequest()
	attr.Scheme, attr.SecurityGroupId = scheme, db
	a, err := ecsc.DescribeSecurityGroupAttribute(attr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "VPC %s, vSwitch %s, instance %v\n", v.VpcId, sw.VSwitchId, ri.InstanceIdSets.InstanceIdSet)
	for _, p := range a.Permissions.Permission {
		fmt.Fprintf(out, "%s %s: %s %s %s from %s (%s)\n", db, p.SecurityGroupRuleId, p.Policy, p.IpProtocol, p.PortRange, p.SourceGroupId, p.SourceGroupName)
	}

	// Bad input gets the ECS error: priority 101 is out of range.
	bad := ecs.CreateAuthorizeSecurityGroupRequest()
	bad.Scheme, bad.SecurityGroupId = scheme, web
	bad.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0", Priority: "101"}}
	_, err = ecsc.AuthorizeSecurityGroup(bad)
	fmt.Fprintln(out, "priority 101:", err)
	return nil
}
