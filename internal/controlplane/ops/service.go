// Package ops holds one function per API action. Each runs in one store
// transaction and enforces the invariants and quotas of its resources; field
// validation comes from package model, so the API, the scenario loader and
// the analyzers refuse the same inputs with the same codes.
package ops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// API versions served.
const (
	ECSVersion = "2014-05-26"
	VPCVersion = "2016-04-28"
)

// Store kinds.
const (
	KindAccount    store.Kind = "account"
	KindAccessKey  store.Kind = "accesskey"
	KindVPC        store.Kind = "vpc"
	KindVSwitch    store.Kind = "vswitch"
	KindInstance   store.Kind = "instance"
	KindGroup      store.Kind = "securitygroup"
	KindPrefixList store.Kind = "prefixlist"
	KindEIP        store.Kind = "eip"
)

// Service implements the actions over a store.
type Service struct {
	Store store.Store
	Now   func() time.Time
	// LenientRevoke restores the pre-2024 ECS behaviour: revoking a rule that
	// does not exist, or leaving a group the instance is not in, succeeds.
	LenientRevoke bool

	hosts *hostTable // what the agents report; see hosts.go
	// Stopping, when set, ends long polls early: the server cancels it before
	// a graceful shutdown so that waiting watchers get their answer at once.
	Stopping context.Context
}

// New returns a service over a store.
func New(st store.Store) *Service {
	return &Service{Store: st, hosts: newHostTable(), Now: func() time.Time { return time.Now().UTC().Truncate(time.Second) }}
}

// Routes returns every action's handler, keyed by API version and action.
func (s *Service) Routes() map[rpc.RouteKey]rpc.Handler {
	r := map[rpc.RouteKey]rpc.Handler{}
	for name, h := range s.ecsActions() {
		r[rpc.RouteKey{Version: ECSVersion, Action: name}] = h
	}
	for name, h := range s.vpcActions() {
		r[rpc.RouteKey{Version: VPCVersion, Action: name}] = h
	}
	return r
}

// caller is who calls and in which region.
type caller struct {
	Account string
	Region  string
}

// callerOf resolves the authenticated key to its account and checks the
// region. needRegion is false for the few actions that take no RegionId.
func (s *Service) callerOf(ctx context.Context, req *rpc.Request, needRegion bool) (caller, error) {
	var c caller
	akid := req.AccessKeyID
	if akid == "" {
		akid = rpc.AccessKeyID(ctx)
	}
	err := s.Store.View(ctx, func(tx store.ReadTx) error {
		k, ok, err := store.GetAs[model.AccessKey](tx, KindAccessKey, akid)
		if err != nil {
			return err
		}
		if !ok {
			return ecserr.BadRequest("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
		}
		c.Account = k.Account
		return nil
	})
	if err != nil {
		return c, err
	}
	c.Region = req.Params.Get("RegionId")
	if c.Region == "" {
		if needRegion {
			return c, ecserr.MissingParameter("RegionId")
		}
		return c, nil
	}
	if _, ok := model.LookupRegion(c.Region); !ok {
		return c, ecserr.New(http.StatusNotFound, "InvalidRegionId.NotFound", "The specified RegionId %q does not exist; DescribeRegions lists the regions.", c.Region)
	}
	return c, nil
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

// update runs a mutation in one transaction. With a ClientToken, a retry with
// the same parameters returns the first answer and changes nothing; a reuse
// with other parameters is refused.
func update[T any](s *Service, ctx context.Context, c caller, req *rpc.Request, fn func(tx store.Tx) (T, error)) (T, error) {
	var out T
	token := req.Params.Get("ClientToken")
	if len(token) > 64 {
		return out, ecserr.BadRequest("InvalidClientToken.Malformed", "ClientToken must be at most 64 ASCII characters.")
	}
	_, err := s.Store.Update(ctx, func(tx store.Tx) error {
		hash := paramsHash(req)
		if token != "" {
			t, ok, err := tx.Token(c.Account, token)
			if err != nil {
				return err
			}
			if ok {
				if t.Action != req.Action || t.ParamsHash != hash {
					return ecserr.BadRequest("IdempotentParameterMismatch", "The ClientToken %q was used before with other parameters; use a new token for a new request.", token)
				}
				return json.Unmarshal(t.Response, &out)
			}
		}
		res, err := fn(tx)
		if err != nil {
			return err
		}
		out = res
		if token != "" {
			body, err := json.Marshal(res)
			if err != nil {
				return err
			}
			return tx.PutToken(store.Token{Account: c.Account, Token: token, Action: req.Action, ParamsHash: hash, Response: body, Created: s.Now()})
		}
		return nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// view runs a read in one consistent snapshot.
func view[T any](s *Service, ctx context.Context, fn func(tx store.ReadTx) (T, error)) (T, error) {
	var out T
	err := s.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}

// get loads a resource of the caller's account and region; anything else is
// reported as not found, so accounts never learn of each other's resources.
func get[T any](tx store.ReadTx, kind store.Kind, c caller, id, param, prefix, notFound string) (*T, error) {
	if id == "" {
		return nil, ecserr.MissingParameter(param)
	}
	malformed := strings.TrimSuffix(notFound, ".NotFound") + ".Malformed"
	if !model.HasPrefix(id, prefix) {
		return nil, ecserr.BadRequest(malformed, "The specified %s %q is malformed: it starts with %q.", param, id, prefix+"-")
	}
	rec, ok, err := tx.Get(kind, id)
	if err != nil {
		return nil, err
	}
	if !ok || rec.Account != c.Account || c.Region != "" && rec.Region != c.Region {
		return nil, ecserr.New(http.StatusNotFound, notFound, "The specified %s %q does not exist in this account and region.", param, id)
	}
	v := new(T)
	if err := json.Unmarshal(rec.Data, v); err != nil {
		return nil, err
	}
	return v, nil
}

func getGroup(tx store.ReadTx, c caller, id string) (*model.SecurityGroup, error) {
	return get[model.SecurityGroup](tx, KindGroup, c, id, "SecurityGroupId", "sg", "InvalidSecurityGroupId.NotFound")
}

func getInstance(tx store.ReadTx, c caller, id string) (*model.Instance, error) {
	return get[model.Instance](tx, KindInstance, c, id, "InstanceId", "i", "InvalidInstanceId.NotFound")
}

func getVPC(tx store.ReadTx, c caller, id string) (*model.VPC, error) {
	return get[model.VPC](tx, KindVPC, c, id, "VpcId", "vpc", "InvalidVpcId.NotFound")
}

func getVSwitch(tx store.ReadTx, c caller, id string) (*model.VSwitch, error) {
	return get[model.VSwitch](tx, KindVSwitch, c, id, "VSwitchId", "vsw", "InvalidVSwitchId.NotFound")
}

func getPrefixList(tx store.ReadTx, c caller, id string) (*model.PrefixList, error) {
	return get[model.PrefixList](tx, KindPrefixList, c, id, "PrefixListId", "pl", "InvalidPrefixListId.NotFound")
}

func getEIP(tx store.ReadTx, c caller, id string) (*model.EIP, error) {
	return get[model.EIP](tx, KindEIP, c, id, "AllocationId", "eip", "InvalidAllocationId.NotFound")
}

// list loads every resource of a kind in the caller's account and region.
func list[T any](tx store.ReadTx, kind store.Kind, c caller) ([]*T, error) {
	return listWhere[T](tx, kind, store.Query{Account: c.Account, Region: c.Region})
}

// listAll loads every resource of a kind, of every account and region (for
// agents and whole-cloud analyses).
func listAll[T any](tx store.ReadTx, kind store.Kind) ([]*T, error) {
	return listWhere[T](tx, kind, store.Query{})
}

func listWhere[T any](tx store.ReadTx, kind store.Kind, q store.Query) ([]*T, error) {
	recs, err := tx.List(kind, q)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(recs))
	for _, r := range recs {
		v := new(T)
		if err := json.Unmarshal(r.Data, v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func putGroup(tx store.Tx, g *model.SecurityGroup) error {
	return store.PutAs(tx, KindGroup, g.ID, g.Owner, g.Region, g)
}

func putInstance(tx store.Tx, in *model.Instance) error {
	return store.PutAs(tx, KindInstance, in.ID, in.Owner, in.Region, in)
}

// timeText is the ECS time format.
func timeText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// page is a request's paging: PageNumber/PageSize or NextToken/MaxResults.
type page struct {
	tokens       bool // NextToken/MaxResults paging
	number, size int
	offset       int
}

// parsePage reads paging parameters: page sizes up to maxSize (default
// defSize), MaxResults up to maxResults (default defMax).
func parsePage(p rpc.Params, defSize, maxSize, defMax, maxResults int) (page, error) {
	var pg page
	if p.Has("NextToken") || p.Has("MaxResults") {
		pg.tokens = true
		n, err := p.Int("MaxResults", defMax)
		if err != nil {
			return pg, err
		}
		if n < 1 || n > maxResults {
			return pg, ecserr.BadRequest("InvalidParameter.MaxResults", "MaxResults must be from 1 to %d.", maxResults)
		}
		pg.size = n
		if t := p.Get("NextToken"); t != "" {
			off, err := strconv.Atoi(t)
			if err != nil || off < 0 {
				return pg, ecserr.BadRequest("InvalidNextToken.Malformed", "NextToken %q is not one this server returned.", t)
			}
			pg.offset = off
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
	pg.number, pg.size, pg.offset = num, size, (num-1)*size
	return pg, nil
}

// paginate cuts one page out of items and returns the next token ("" on
// the last page).
func paginate[T any](items []T, pg page) (out []T, next string) {
	if pg.offset >= len(items) {
		return []T{}, ""
	}
	end := min(pg.offset+pg.size, len(items))
	if pg.tokens && end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[pg.offset:end], next
}

// isNotFound reports whether err is a 404 ecserr.
func isNotFound(err error) bool {
	var e *ecserr.Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// tagsFromParams reads Tag.N.Key / Tag.N.Value.
func tagsFromParams(p rpc.Params) ([]model.Tag, error) {
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
	if e := model.ValidateTags(tags); e != nil {
		return nil, e
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

// matchTags reports whether a resource has every Tag.N filter of a request.
func matchTags(have []model.Tag, want []model.Tag) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h.Key == w.Key && (w.Value == "" || h.Value == w.Value) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
