package ecsimport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The responses as ECS sends them (API version 2014-05-26), reduced to the
// fields the import reads; unknown fields are ignored.

// text is a string field that also takes a JSON number or boolean, as the
// SDK's own decoder does: real responses carry Priority as 1 as well as "1".
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*t = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		return fmt.Errorf("want a string, got %.20s", b)
	default:
		*t = text(b)
	}
	return nil
}

// num is an integer field that also takes a numeric string.
type num int

func (n *num) UnmarshalJSON(b []byte) error {
	var t text
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	if t == "" {
		*n = 0
		return nil
	}
	v, err := strconv.Atoi(string(t))
	*n = num(v)
	return err
}

type tagSet struct {
	Tag []struct{ TagKey, TagValue string }
}

type ipSet struct{ IpAddress []string }

// groupsPage is a DescribeSecurityGroups response.
type groupsPage struct {
	RegionId       string
	NextToken      string // token paging: empty on the last page
	TotalCount     num    // page-number paging: the number of groups in all pages
	SecurityGroups struct{ SecurityGroup []groupItem }
}

type groupItem struct {
	SecurityGroupId   string
	SecurityGroupName string
	Description       string
	SecurityGroupType string
	VpcId             string
	CreationTime      string
	ResourceGroupId   string
	Tags              tagSet
}

// vpcsPage is a VPC DescribeVpcs response (page-number paging).
type vpcsPage struct {
	TotalCount num
	Vpcs       struct{ Vpc []vpcItem }
}

type vpcItem struct {
	VpcId               string
	RegionId            string
	VpcName             string
	Description         string
	CidrBlock           string
	Ipv6CidrBlock       string
	SecondaryCidrBlocks struct{ SecondaryCidrBlock []string }
}

// attrPage is a DescribeSecurityGroupAttribute response: one group's rules
// of both directions (of one NicType, for a classic group), or a page of them.
type attrPage struct {
	RegionId          string
	SecurityGroupId   string
	SecurityGroupName string
	Description       string
	VpcId             string
	InnerAccessPolicy string
	NextToken         string
	Permissions       struct{ Permission []permission }
}

// permission is one rule. Responses name the peer group's owner by UID in
// *GroupOwnerAccount.
type permission struct {
	SecurityGroupRuleId string
	Direction           string
	Policy              string
	Priority            text
	IpProtocol          string
	PortRange           string
	SourcePortRange     string
	PortRangeListId     string
	NicType             string
	Description         string
	CreateTime          string

	SourceCidrIp            string
	Ipv6SourceCidrIp        string
	SourceGroupId           string
	SourceGroupOwnerAccount text
	SourcePrefixListId      string

	DestCidrIp            string
	Ipv6DestCidrIp        string
	DestGroupId           string
	DestGroupOwnerAccount text
	DestPrefixListId      string
}

// instancesPage is a DescribeInstances response.
type instancesPage struct {
	NextToken  string
	TotalCount num
	Instances  struct{ Instance []instanceItem }
}

type instanceItem struct {
	InstanceId          string
	InstanceOwnerId     num // the account's UID (0 when absent)
	InstanceName        string
	Description         string
	RegionId            string
	ZoneId              string
	Status              string
	InstanceNetworkType string
	ImageId             string
	InstanceType        string
	CreationTime        string
	// InternetMaxBandwidthOut is the public bandwidth, Mbit/s (0: none).
	InternetMaxBandwidthOut num
	SecurityGroupIds        struct{ SecurityGroupId []string }
	InnerIpAddress          ipSet // classic network
	PublicIpAddress         ipSet
	EipAddress              struct{ AllocationId, IpAddress string }
	VpcAttributes           struct {
		VpcId            string
		VSwitchId        string
		PrivateIpAddress ipSet
	}
	NetworkInterfaces struct{ NetworkInterface []nicItem }
	Tags              tagSet
}

type nicItem struct {
	NetworkInterfaceId string
	Type               string // Primary | Secondary; absent in older responses
	PrimaryIpAddress   string
	PrivateIpSets      struct {
		PrivateIpSet []struct {
			PrivateIpAddress string
			Primary          bool
		}
	}
	Ipv6Sets struct {
		Ipv6Set []struct{ Ipv6Address string }
	}
}

// prefixListsPage is a DescribePrefixLists response.
type prefixListsPage struct {
	NextToken   string
	PrefixLists struct{ PrefixList []prefixListItem }
}

type prefixListItem struct {
	PrefixListId   string
	PrefixListName string
	AddressFamily  string
	MaxEntries     num
	Description    string
	CreationTime   string
}

// prefixListAttr is a DescribePrefixListAttributes response.
type prefixListAttr struct {
	prefixListItem
	Entries struct {
		Entry []struct{ Cidr, Description string }
	}
}

// errorBody is ECS's error envelope, saved by mistake instead of a response.
type errorBody struct{ Code, Message string }

// kind names what a response is, judged by its top-level fields.
type kind string

const (
	kindGroups          kind = "DescribeSecurityGroups"
	kindAttribute       kind = "DescribeSecurityGroupAttribute"
	kindInstances       kind = "DescribeInstances"
	kindPrefixLists     kind = "DescribePrefixLists"
	kindPrefixListAttrs kind = "DescribePrefixListAttributes"
	kindENIs            kind = "DescribeNetworkInterfaces"
	kindVPCs            kind = "DescribeVpcs"
	kindError           kind = "error"
	kindUnknown         kind = ""
)

func kindOf(top map[string]json.RawMessage) kind {
	has := func(k string) bool { _, ok := top[k]; return ok }
	switch {
	case has("SecurityGroups"):
		return kindGroups
	case has("Permissions") && has("SecurityGroupId"):
		return kindAttribute
	case has("Instances"):
		return kindInstances
	case has("PrefixLists"):
		return kindPrefixLists
	case has("NetworkInterfaceSets"):
		return kindENIs
	case has("Vpcs"):
		return kindVPCs
	case has("Entries") && has("PrefixListId"):
		return kindPrefixListAttrs
	case has("Code") && has("Message"):
		return kindError
	}
	return kindUnknown
}

// splitJSON returns the JSON values of a file: one response, several
// concatenated (as `aliyun … >> file` leaves them), or an array of them.
func splitJSON(b []byte) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var out []json.RawMessage
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		if v = bytes.TrimSpace(v); len(v) > 0 && v[0] == '[' {
			var items []json.RawMessage
			if err := json.Unmarshal(v, &items); err != nil {
				return nil, err
			}
			out = append(out, items...)
			continue
		}
		out = append(out, v)
	}
}
