// Package apitest holds Palisade's API integration tests. Each test starts
// the real server (testenv.Start: server.Open with a temporary SQLite file)
// on a loopback port and drives it only through the official Alibaba Cloud SDKs: the
// classic github.com/aliyun/alibaba-cloud-sdk-go (V1 HMAC-SHA1 signatures)
// and darabonba-openapi's CallApi (V3 ACS3-HMAC-SHA256 signatures). What the
// tests assert is what those SDKs decode, so a field our JSON names or types
// differently from ECS fails here even when the server's own unit tests pass.
//
// Where to look:
//
//	helpers_test.go      the server and SDK clients (from testenv), error assertions
//	groups_test.go       group lifecycle, DescribeSecurityGroups filters and paging
//	rules_test.go        authorize/revoke/modify rules, NicTypes, address echo
//	instances_test.go    instances, membership, EIPs, launch errors
//	vpc_test.go          VPCs and vSwitches
//	catalog_test.go      regions, zones, tags, prefix lists, Format=XML
//	legacytags_test.go   AddTags, RemoveTags, DescribeTags: round trip, counts, paging, refusals, trail
//	errors_test.go       invalid input and broken invariants, state unchanged after
//	quotas_test.go       rule, group-peer, per-region and per-instance quotas
//	accountquotas_test.go what each account may create (VPCs, vSwitches, instances, …): the operator's
//	                     override, the defaults, other accounts unaffected, a race landing exactly the quota
//	security_test.go     signatures, replay (also across a restart and a crash), clock skew, account isolation
//	persistence_test.go  restart on the same database
//	concurrency_test.go  racing clients against the rule quota
//	idempotency_test.go  ClientToken
//	flowretry_test.go    a flow-record batch sent again (answer lost, "palisade serve" killed with SIGKILL) is kept once
//	v3_test.go           the main flow as raw JSON through CallApi
//	terraform_test.go    the alicloud Terraform provider's own calls (RpcPost form bodies, V1) and data "alicloud_zones"
//	aliyuncli_test.go    the aliyun CLI's CommonRequest calls, its --pager modes and printed errors
//	badinput_test.go     every routed action (server.Server.Actions) swept with seeded hostile requests built
//	                     from the parameter names its handler reads (handlerparams_test.go parses them)
//	hostile_test.go      another tenant's IDs answer as missing ones (API and console), rate limits by request size
//	tfstart_test.go      what the provider asks around its resources: BssOpenApi's account-type probe, Location's endpoints
//	sts_test.go          STS GetCallerIdentity (the provider's account ID) per key kind
//
// The package has no non-test code beyond this comment.
package apitest
