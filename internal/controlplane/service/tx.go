package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// MaxClientToken is the longest ClientToken accepted.
const MaxClientToken = 64

// Idempotency makes a mutation safe to retry: a retry with the same
// ClientToken and the same request returns the first result and changes
// nothing; the token reused for another request is refused.
type Idempotency struct {
	ClientToken string // optional; at most MaxClientToken ASCII characters
	// Fingerprint identifies "the same request". Empty: the input itself
	// (every field but this struct). The RPC adapter sets it from the
	// request's parameters, as ECS compares them.
	Fingerprint string
}

// fingerprint is i.Fingerprint or a hash of the input's JSON.
func (i Idempotency) fingerprint(input any) string {
	if i.Fingerprint != "" {
		return i.Fingerprint
	}
	b, _ := json.Marshal(input)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// checkClientToken refuses a token too long or not printable ASCII.
func checkClientToken(token string) error {
	if len(token) > MaxClientToken || strings.IndexFunc(token, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		return ecserr.BadRequest("InvalidClientToken.Malformed", "ClientToken must be at most %d printable ASCII characters.", MaxClientToken)
	}
	return nil
}

// Update runs a mutation named action in one transaction, under idem's
// ClientToken (see Idempotency); input is what the fingerprint is made of
// when idem has none.
func Update[T any](s *Service, ctx context.Context, c Caller, action string, idem Idempotency, input any, fn func(tx store.Tx) (T, error)) (T, error) {
	var out T
	if err := checkClientToken(idem.ClientToken); err != nil {
		return out, err
	}
	// On etcd without a quorum the write would wait out the store's own
	// bound (30 s); a store known silent refuses it within liveWait, as
	// the streams' heartbeats do (the API's nonce check refuses sooner,
	// the console's writes have none).
	if err := s.storeAnswers(ctx); err != nil {
		return out, err
	}
	var rev int64
	var err error
	for attempt := 1; ; attempt++ {
		if s.optimistic() && attempt <= optimisticAttempts {
			rev, err = updateOptimistic(s, ctx, c, action, idem, input, fn, &out)
		} else {
			rev, err = update(s, ctx, c, action, idem, input, fn, &out)
		}
		if !errors.Is(err, store.ErrConflict) || attempt == maxAttempts {
			break
		}
		// What the write read from the view changed before it committed:
		// read again, from a view that holds at least what is committed.
		if s.view != nil {
			if _, err = s.view.Snapshot(ctx); err != nil {
				break
			}
		}
	}
	if err = s.settled(ctx, rev, err); err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// commit runs fn in one store.Update for the writes that need neither a
// ClientToken nor the view's optimistic path (keys, accounts, hosts, an
// import): on etcd an Update whose reads another server's write moved
// fails with store.ErrConflict, and a batch too full for it refuses it
// the same way, so fn runs again, as Update's writes do. fn must derive
// everything it writes, and every value it sets outside, from tx, since
// it may run more than once. It answers when the view holds the write.
func (s *Service) commit(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	var rev int64
	var err error
	for attempt := 1; ; attempt++ {
		rev, err = s.Store.Update(ctx, fn)
		if !errors.Is(err, store.ErrConflict) || attempt == maxAttempts {
			break
		}
	}
	if err = s.settled(ctx, rev, err); err != nil {
		return 0, err
	}
	return rev, nil
}

// settled is the end of a write: a conflict left after the retries as
// ECS's OperationConflict, else, once committed, the wait for the view to
// hold revision rev (read-your-writes).
func (s *Service) settled(ctx context.Context, rev int64, err error) error {
	if errors.Is(err, store.ErrConflict) {
		return conflictError{ecserr.New(http.StatusConflict, "OperationConflict",
			"The request conflicted with concurrent changes to the same resources %d times; retry it.", maxAttempts), err}
	}
	if err != nil {
		return err
	}
	return s.written(ctx, rev)
}

// conflictError is the ECS answer to a write that kept conflicting, which
// still wraps store.ErrConflict (and its details, kept from the client).
type conflictError struct {
	ecs   *ecserr.Error
	cause error
}

func (e conflictError) Error() string   { return e.ecs.Error() }
func (e conflictError) Unwrap() []error { return []error{e.ecs, e.cause} }

// maxAttempts bounds how often Update runs a write whose precondition
// failed: each failure means another write committed meanwhile, so the
// bound is only reached under a storm of writes to the same records.
const maxAttempts = 10

// optimisticAttempts is how often Update runs a write outside the store's
// serialized section (updateOptimistic) before it runs it inside (update),
// where a serialized backend (sqlite) reads the latest state and cannot
// conflict: writes that keep racing for the same records (the quota race
// on one group) still make progress.
const optimisticAttempts = 2

// serializedWriter is a store that checks a write's preconditions in
// memory (sqlite's). Its Update must not return while the function it was
// given is queued or running (not even when the context ends): the
// optimistic transaction that function commits goes back to a pool when
// Update returns, to serve another request, perhaps another tenant's.
type serializedWriter interface{ SerializedWriter() bool }

// optimistic reports whether writes run against the view (updateOptimistic).
// They do over a view that holds every committed write before a write
// reads it (one that may lag would have the write fail on stale state) and
// a store that checks what they read in memory: etcd's transaction would
// read each precondition from the cluster inside its serialized batch, and
// scan the kinds of the index keys read, so there the write runs in the
// transaction (which etcd commits optimistically anyway).
func (s *Service) optimistic() bool {
	sw, ok := s.Store.(serializedWriter)
	return s.view != nil && !s.inStoreWrites && s.view.Linearizable() && ok && sw.SerializedWriter()
}

// updateOptimistic is one attempt of Update that runs fn outside the
// store's serialized section, against the view (optTx), and hands the store
// only the check of what fn read and its writes: the serialized section of
// a group commit then costs microseconds per write, not the action.
func updateOptimistic[T any](s *Service, ctx context.Context, c Caller, action string, idem Idempotency, input any, fn func(tx store.Tx) (T, error), out *T) (int64, error) {
	snap, err := s.view.Snapshot(ctx)
	if err != nil {
		return 0, err
	}
	ot := newOptTx(snap)
	defer ot.release()
	res, fnErr := fn(ot)
	token := idem.ClientToken
	if fnErr != nil {
		if token == "" || errors.Is(fnErr, store.ErrConflict) {
			return 0, fnErr
		}
		// A retry of a request that succeeded may fail now (its group
		// deleted): its first answer, when the token has one.
		var replayed bool
		err := s.Store.View(ctx, func(tx store.ReadTx) error {
			var err error
			replayed, err = replay(tx, c, action, token, idem.fingerprint(input), out)
			return err
		})
		if err != nil || replayed {
			return 0, err
		}
		return 0, fnErr
	}
	var hash string
	if token != "" {
		hash = idem.fingerprint(input)
		body, err := json.Marshal(res)
		if err != nil {
			return 0, err
		}
		ot.toks = append(ot.toks, store.Token{Account: c.Account, Token: token, Action: action, ParamsHash: hash, Response: body, Created: s.Now()})
	}
	return s.Store.Update(ctx, func(tx store.Tx) error {
		if token != "" {
			if replayed, err := replay(tx, c, action, token, hash, out); err != nil || replayed {
				return err
			}
		}
		if err := ot.commit(tx); err != nil {
			return err
		}
		*out = res
		return nil
	})
}

// replay answers a request whose ClientToken was used before: its first
// answer in out (replayed), or IdempotentParameterMismatch for another
// request.
func replay[T any](tx store.ReadTx, c Caller, action, token, hash string, out *T) (replayed bool, err error) {
	t, ok, err := tx.Token(c.Account, token)
	if err != nil || !ok {
		return false, err
	}
	if t.Action != action || t.ParamsHash != hash {
		return false, ecserr.BadRequest("IdempotentParameterMismatch", "The ClientToken %q was used before with other parameters; use a new token for a new request.", token)
	}
	return true, json.Unmarshal(t.Response, out)
}

// update is one attempt of Update, run in the store's transaction.
func update[T any](s *Service, ctx context.Context, c Caller, action string, idem Idempotency, input any, fn func(tx store.Tx) (T, error), out *T) (int64, error) {
	token := idem.ClientToken
	return s.Store.Update(ctx, func(tx store.Tx) error {
		var hash string
		if token != "" {
			hash = idem.fingerprint(input)
			if replayed, err := replay(tx, c, action, token, hash, out); err != nil || replayed {
				return err
			}
		}
		var wtx store.Tx = tx
		if s.view != nil {
			wtx = &viewTx{Tx: tx, view: s.view}
		}
		res, err := fn(wtx)
		if err != nil {
			return err
		}
		*out = res
		if token != "" {
			body, err := json.Marshal(res)
			if err != nil {
				return err
			}
			return tx.PutToken(store.Token{Account: c.Account, Token: token, Action: action, ParamsHash: hash, Response: body, Created: s.Now()})
		}
		return nil
	})
}

// View runs a read in one consistent snapshot.
func View[T any](s *Service, ctx context.Context, fn func(tx store.ReadTx) (T, error)) (T, error) {
	var out T
	err := s.read(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}

// get loads a resource of the caller's account and region; anything else is
// reported as not found, so accounts never learn of each other's resources.
// param names the ID in errors, prefix is the ID's, notFound the error code.
func get[T any](tx store.ReadTx, kind store.Kind, c Caller, id, param, prefix, notFound string) (*T, error) {
	if id == "" {
		return nil, ecserr.MissingParameter(param)
	}
	malformed := strings.TrimSuffix(notFound, ".NotFound") + ".Malformed"
	if !model.HasPrefix(id, prefix) {
		return nil, ecserr.BadRequest(malformed, "The specified %s %q is malformed: it starts with %q.", param, model.Clip(id), prefix+"-")
	}
	rec, ok, err := tx.Get(kind, id)
	if err != nil {
		return nil, err
	}
	if !ok || rec.Account != c.Account || c.Region != "" && rec.Region != c.Region {
		return nil, ecserr.New(http.StatusNotFound, notFound, "The specified %s %q does not exist in this account and region.", param, model.Clip(id))
	}
	return decode[T](rec)
}

// decode returns a record's value as a fresh *T: a shallow copy of the
// view's object (reads must not modify its slices), or its JSON decoded.
func decode[T any](rec store.Record) (*T, error) {
	v := new(T)
	if o, ok := rec.Object.(*T); ok {
		*v = *o
		return v, nil
	}
	if err := json.Unmarshal(rec.Data, v); err != nil {
		return nil, err
	}
	return v, nil
}

// GetGroup loads a security group of the caller.
func GetGroup(tx store.ReadTx, c Caller, id string) (*model.SecurityGroup, error) {
	if g, err := viewGroup(tx, c, id); g != nil || err != nil {
		return g, err
	}
	return get[model.SecurityGroup](tx, KindGroup, c, id, "SecurityGroupId", "sg", "InvalidSecurityGroupId.NotFound")
}

// GetInstance loads an instance of the caller.
func GetInstance(tx store.ReadTx, c Caller, id string) (*model.Instance, error) {
	return get[model.Instance](tx, KindInstance, c, id, "InstanceId", "i", "InvalidInstanceId.NotFound")
}

// getVPC loads a VPC of the caller.
func getVPC(tx store.ReadTx, c Caller, id string) (*model.VPC, error) {
	return get[model.VPC](tx, KindVPC, c, id, "VpcId", "vpc", "InvalidVpcId.NotFound")
}

// getVSwitch loads a vSwitch of the caller.
func getVSwitch(tx store.ReadTx, c Caller, id string) (*model.VSwitch, error) {
	return get[model.VSwitch](tx, KindVSwitch, c, id, "VSwitchId", "vsw", "InvalidVSwitchId.NotFound")
}

// getPrefixList loads a prefix list of the caller.
func getPrefixList(tx store.ReadTx, c Caller, id string) (*model.PrefixList, error) {
	return get[model.PrefixList](tx, KindPrefixList, c, id, "PrefixListId", "pl", "InvalidPrefixListId.NotFound")
}

// getEIP loads an elastic IP address of the caller.
func getEIP(tx store.ReadTx, c Caller, id string) (*model.EIP, error) {
	return get[model.EIP](tx, KindEIP, c, id, "AllocationId", "eip", "InvalidAllocationId.NotFound")
}

// list loads every resource of a kind in the caller's account and region.
func list[T any](tx store.ReadTx, kind store.Kind, c Caller) ([]*T, error) {
	return listWhere[T](tx, kind, store.Query{Account: c.Account, Region: c.Region})
}

// ListAll loads every resource of a kind, of every account and region (for
// agents and whole-cloud analyses).
func ListAll[T any](tx store.ReadTx, kind store.Kind) ([]*T, error) {
	return listWhere[T](tx, kind, store.Query{})
}

// listWhere loads the resources of a kind that a query selects.
func listWhere[T any](tx store.ReadTx, kind store.Kind, q store.Query) ([]*T, error) {
	recs, err := tx.List(kind, q)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(recs))
	for _, r := range recs {
		v, err := decode[T](r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// PutInstance stores an instance.
func PutInstance(tx store.Tx, in *model.Instance) error {
	return store.PutAs(tx, KindInstance, in.ID, in.Owner, in.Region, in)
}

// listsOf returns lookups of the prefix lists and port range lists rules
// name, for their weights against the rule quotas (a missing list weighs 1).
func listsOf(tx store.ReadTx) model.Lists {
	return model.Lists{Prefix: lookupOnce[model.PrefixList](tx, KindPrefixList), Ports: lookupOnce[model.PortRangeList](tx, KindPortRangeList)}
}

// lookupOnce returns a lookup of the records of kind by ID that reads each
// once (nil: not found, or unreadable), for reading only.
func lookupOnce[T any](tx store.ReadTx, kind store.Kind) func(string) *T {
	var cache map[string]*T
	return func(id string) *T {
		if v, ok := cache[id]; ok {
			return v
		}
		v, ok, err := peekAs[T](tx, kind, id)
		if err != nil || !ok {
			v = nil
		}
		if cache == nil {
			cache = map[string]*T{}
		}
		cache[id] = v
		return v
	}
}

// peekAs reads a record for inspection only: in an optimistic write, the
// view's shared value when the write has not changed it (its revision a
// precondition, as Get makes it; do not modify the value), where a read
// through the transaction would encode and decode a copy; else a copy
// decoded from tx.
func peekAs[T any](tx store.ReadTx, kind store.Kind, id string) (*T, bool, error) {
	if ot, ok := tx.(*optTx); ok && !ot.dirty[kind][id] {
		if _, _, err := ot.snap.Get(kind, id); err == nil { // a kind the view keeps
			v, rev := snapObject[T](ot.snap, kind, id)
			if err := ot.Expect(kind, id, rev); err != nil {
				return nil, false, err
			}
			if rev == 0 {
				return nil, false, nil
			}
			if v != nil {
				return v, true, nil
			}
		}
	}
	v, ok, err := store.GetAs[T](tx, kind, id)
	if err != nil || !ok {
		return nil, false, err
	}
	return &v, true, nil
}

// members returns the network interfaces of the caller's account in a
// group: its instances (their primary ENIs) and its secondary ENIs, as NICs,
// for reading only (they may be the view's shared values).
func members(tx store.ReadTx, c Caller, groupID string) ([]*model.Instance, error) {
	out, err := groupNICs(tx, KindInstance, c, groupID)
	if err != nil {
		return nil, err
	}
	enis, err := eniMembers(tx, c, groupID) // secondary ENIs are members too
	return append(out, enis...), err
}

// isNotFound reports whether err is a 404 ecserr.
func isNotFound(err error) bool {
	var e *ecserr.Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// matchTags reports whether a resource has every tag of a filter (a filter
// tag without a value matches any value).
func matchTags(have []model.Tag, want []model.Tag) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h model.Tag) bool { return tagMatches(h, w) }) {
			return false
		}
	}
	return true
}

// tagMatches reports whether tag t is what filter w asks for: its key, and
// its value unless w's is empty (any value).
func tagMatches(t, w model.Tag) bool { return t.Key == w.Key && (w.Value == "" || t.Value == w.Value) }

// tagMatchesAny reports whether tag t matches one of the filters.
func tagMatchesAny(t model.Tag, filters []model.Tag) bool {
	return slices.ContainsFunc(filters, func(w model.Tag) bool { return tagMatches(t, w) })
}
