// Package api is the RPC adapter of the actions: it reads an ECS request's
// parameters (query and form, indexed ones such as Permissions.N.* and
// Tag.N.Key) into the typed inputs of package service, calls the service,
// and shapes the result as the ECS response. Actions not yet moved to
// package service still do their work here over its loaders.
package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"slices"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/peers"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// API versions served.
const (
	ECSVersion = "2014-05-26"
	VPCVersion = "2016-04-28"
)

// Store kinds, as package service names them.
const (
	KindAccount    = service.KindAccount
	KindAccessKey  = service.KindAccessKey
	KindVPC        = service.KindVPC
	KindVSwitch    = service.KindVSwitch
	KindInstance   = service.KindInstance
	KindGroup      = service.KindGroup
	KindPrefixList = service.KindPrefixList
	KindEIP        = service.KindEIP
)

// Service is the RPC face of the actions: the typed services it embeds.
type Service struct {
	*service.Service
	// ChangeAlerting says whether the server alerts on security-group
	// changes (its webhook), for the audit's SGA-032.
	ChangeAlerting bool
	// StreamWriteTimeout bounds writing one frame of an agent's change
	// stream (0: DefaultStreamWriteTimeout).
	StreamWriteTimeout time.Duration
	// Peers, when set, makes the queries of what each server keeps
	// (PalisadeDescribeFlowRecords) answer with every live server's part.
	Peers *peers.Fanin
}

// New returns a service over a store.
func New(st store.Store) *Service {
	return &Service{Service: service.New(st)}
}

// listsUnread are the ECS actions whose handler reads none of the lists
// checkLists checks, so their form is not refused: Terraform's
// alicloud_ecs_instance_set sends DescribeInstanceHistoryEvents its
// ResourceId.N from index 0, and that action answers no event whatever
// it names.
var listsUnread = map[string]bool{"DescribeInstanceHistoryEvents": true}

// Routes returns every action's handler, keyed by API version and action.
func (s *Service) Routes() map[rpc.RouteKey]rpc.Handler {
	r := map[rpc.RouteKey]rpc.Handler{}
	for name, h := range s.ecsActions() {
		if !listsUnread[name] {
			h = checkLists(h)
		}
		r[rpc.RouteKey{Version: ECSVersion, Action: name}] = h
	}
	for name, h := range s.vpcActions() {
		r[rpc.RouteKey{Version: VPCVersion, Action: name}] = checkLists(h)
	}
	for name, h := range s.ramActions() {
		r[rpc.RouteKey{Version: RAMVersion, Action: name}] = h
	}
	for name, h := range s.stsActions() {
		r[rpc.RouteKey{Version: STSVersion, Action: name}] = h
	}
	for name, h := range s.bssActions() {
		r[rpc.RouteKey{Version: BSSVersion, Action: name}] = h
	}
	for name, h := range s.locationActions() {
		r[rpc.RouteKey{Version: LocationVersion, Action: name}] = h
	}
	return r
}

// caller is who calls and in which region.
type caller = service.Caller

// RequestCaller resolves a request's authenticated key to its account and
// checks its RegionId. needRegion is false for the few actions that take
// none.
func (s *Service) RequestCaller(ctx context.Context, req *rpc.Request, needRegion bool) (caller, error) {
	return s.callerOf(ctx, req, needRegion)
}

// callerOf is RequestCaller. The key is resolved once per request: the
// scope check (Scoped) leaves the caller it found in ctx.
func (s *Service) callerOf(ctx context.Context, req *rpc.Request, needRegion bool) (caller, error) {
	akid := req.AccessKeyID
	if akid == "" {
		akid = rpc.AccessKeyID(ctx)
	}
	if sc, ok := ctx.Value(scopedKey{}).(scopedCaller); ok && sc.key == akid {
		return sc.c.InRegion(req.Params.Get("RegionId"), needRegion)
	}
	return s.CallerOf(ctx, akid, req.Params.Get("RegionId"), needRegion)
}

// paramsHash identifies a request's parameters for ClientToken idempotency,
// leaving out what differs between retries (signature, nonce, time).
func paramsHash(req *rpc.Request) string {
	skip := map[string]bool{"Signature": true, "SignatureMethod": true, "SignatureVersion": true, "SignatureNonce": true,
		"SignatureType": true, "Timestamp": true, "AccessKeyId": true, "Format": true, "SecurityToken": true, "Version": true, "Action": true}
	var keys []string
	for k := range req.Params {
		if !skip[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k + "=" + req.Params[k] + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// idempotency is a request's ClientToken; a retry must repeat every
// parameter, as ECS compares them.
func idempotency(req *rpc.Request) service.Idempotency {
	token := req.Params.Get("ClientToken")
	if token == "" {
		return service.Idempotency{} // nothing to compare a retry with: no fingerprint
	}
	return service.Idempotency{ClientToken: token, Fingerprint: paramsHash(req)}
}

// The loaders of package service that the tests use.
var (
	getGroup    = service.GetGroup
	putGroup    = service.PutGroup
	putInstance = service.PutInstance
)

// Resources is a set of resources to load verbatim (see Service.Import).
type Resources = service.Resources

// timeText is the ECS time format.
func timeText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// page is a request's paging: PageNumber/PageSize or NextToken/MaxResults.
type page = service.Page

// maxOffset bounds how far into a listing paging may reach: far beyond any
// real listing, and small enough that offset plus page size cannot overflow
// an int (a negative offset used to panic into a 500).
const maxOffset = math.MaxInt32

// parsePage reads paging parameters: page sizes up to maxSize (default
// defSize), MaxResults up to maxResults (default defMax).
func parsePage(p rpc.Params, defSize, maxSize, defMax, maxResults int) (page, error) {
	var pg page
	if p.Has("NextToken") || p.Has("MaxResults") {
		pg.Tokens = true
		n, err := p.Int("MaxResults", defMax)
		if err != nil {
			return pg, err
		}
		if n < 1 || n > maxResults {
			return pg, ecserr.BadRequest("InvalidParameter.MaxResults", "MaxResults must be from 1 to %d.", maxResults)
		}
		pg.Size = n
		if t := p.Get("NextToken"); t != "" {
			off, after, ok := service.ParseToken(t)
			if !ok || off > maxOffset {
				return pg, ecserr.BadRequest("InvalidNextToken.Malformed", "NextToken %.80q is not one this server returned.", t)
			}
			pg.Offset, pg.After = off, after
		}
		return pg, nil
	}
	num, err := p.Int("PageNumber", 1)
	if err != nil {
		return pg, err
	}
	size, err := p.Int("PageSize", defSize)
	if err != nil {
		return pg, err
	}
	if num < 1 {
		return pg, ecserr.BadRequest("InvalidPageNumber.Malformed", "PageNumber starts at 1.")
	}
	if size < 1 || size > maxSize {
		return pg, ecserr.BadRequest("InvalidPageSize.Malformed", "PageSize must be from 1 to %d.", maxSize)
	}
	if num-1 > maxOffset/size {
		return pg, ecserr.BadRequest("InvalidPageNumber.Malformed",
			"PageNumber %d with PageSize %d is beyond any listing; PageNumber*PageSize must be at most %d.", num, size, maxOffset)
	}
	pg.Number, pg.Size, pg.Offset = num, size, (num-1)*size
	return pg, nil
}

// tagParams reads Tag.N.Key / Tag.N.Value; the service validates them.
func tagParams(p rpc.Params) ([]model.Tag, error) {
	var tags []model.Tag
	for _, t := range p.Structs("Tag") {
		if t.Get("Key") == "" && t.Get("Value") != "" {
			return nil, ecserr.BadRequest("InvalidTagKey.Malformed", "A tag value was given without its key.")
		}
		if t.Get("Key") == "" {
			continue
		}
		tags = append(tags, model.Tag{Key: t.Get("Key"), Value: t.Get("Value")})
	}
	return tags, nil
}

// tagSet is the ECS wrapper {"Tag":[{TagKey,TagValue}]}.
type tagSet struct {
	Tag []tagItem
}

type tagItem struct {
	TagKey   string
	TagValue string
}

func tagsOut(tags []model.Tag) tagSet {
	out := tagSet{Tag: []tagItem{}}
	for _, t := range tags {
		out.Tag = append(out.Tag, tagItem{t.Key, t.Value})
	}
	return out
}
