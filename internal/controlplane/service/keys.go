package service

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Access keys: a caller manages its own account's keys with RAM's actions
// (2015-05-01), and the operator issues host keys. Keys are read from the
// in-memory view at every request, so a key disabled, deleted or made here
// counts from the next request on, without a restart.

// MaxAccessKeys is how many key pairs (Active or Inactive) an account may
// hold through CreateAccessKey: RAM's limit per RAM user. RAM's limit for
// the root account, and whether Inactive keys count, are unconfirmed; two
// (both counted) is what rotation needs: make the new key, move to it,
// delete the old one.
const MaxAccessKeys = 2

// LookupSecret returns the secret of an access key, for signature checks.
// Inactive keys are found too, so that their requests are refused with
// Forbidden.AccessKeyDisabled rather than a signature error.
func (s *Service) LookupSecret(id string) (string, bool) {
	var secret string
	var ok bool
	s.read(context.Background(), func(tx store.ReadTx) error {
		k, found, err := store.GetAs[model.AccessKey](tx, KindAccessKey, id)
		secret, ok = k.Secret, found && err == nil
		return nil
	})
	return secret, ok
}

// AccountOfKey returns the account UID an access key belongs to.
func (s *Service) AccountOfKey(ctx context.Context, id string) (string, bool) {
	var acct string
	s.read(ctx, func(tx store.ReadTx) error {
		k, found, _ := store.GetAs[model.AccessKey](tx, KindAccessKey, id)
		if found {
			acct = k.Account
		}
		return nil
	})
	return acct, acct != ""
}

// keyCaller resolves a key to its caller (without a region): refused when
// the key is unknown or Inactive, or its account disabled.
func keyCaller(tx store.ReadTx, id string) (Caller, error) {
	var c Caller
	k, ok, err := store.GetAs[model.AccessKey](tx, KindAccessKey, id)
	if err != nil {
		return c, err
	}
	if !ok {
		return c, ecserr.BadRequest("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
	}
	if k.Inactive {
		return c, ecserr.Forbidden("Forbidden.AccessKeyDisabled", "The Access Key is disabled.")
	}
	a, ok, err := store.GetAs[model.Account](tx, KindAccount, k.Account)
	if err != nil {
		return c, err
	}
	if !ok || a.Disabled {
		return c, ecserr.Forbidden("Forbidden.AccountDisabled", "The account of this access key is disabled; ask the operator.")
	}
	c.Account, c.Operator, c.Host = k.Account, a.Operator && k.Host == "", k.Host
	return c, nil
}

// KeyCaller resolves an access key to its caller, with no region: who
// calls, for the check of which actions a key may call at all.
func (s *Service) KeyCaller(ctx context.Context, accessKeyID string) (Caller, error) {
	var c Caller
	err := s.read(ctx, func(tx store.ReadTx) error {
		var err error
		c, err = keyCaller(tx, accessKeyID)
		return err
	})
	return c, err
}

// AccessKeyOut is a key as RAM shows it; Secret only when just created.
type AccessKeyOut struct {
	ID, Secret, Status string
	Created            string // UTC, 2015-01-23T12:33:18Z
}

func keyOut(k model.AccessKey, withSecret bool) AccessKeyOut {
	o := AccessKeyOut{ID: k.ID, Status: k.Status(), Created: k.Created.UTC().Format("2006-01-02T15:04:05Z")}
	if withSecret {
		o.Secret = k.Secret
	}
	return o
}

// KeyInput names a RAM key action's target: UserName (RAM users; there
// are none here, so only "", the caller itself, is found) and the key.
type KeyInput struct {
	Caller   Caller
	UserName string
	KeyID    string // UserAccessKeyId
	// SigningKey is the key that signs the request, which the request may
	// neither deactivate nor delete (that would lock the account out).
	SigningKey string
}

// checkKeyCaller: the RAM key actions are for a tenant's or the operator's
// own keys, not a host key's.
func checkKeyCaller(in KeyInput, action string) error {
	if in.Caller.Host != "" {
		return ecserr.Forbidden("NoPermission", "You are not authorized to do this action: a host key may not call %s.", action)
	}
	return checkUserName(in.UserName)
}

// checkUserName: RAM's UserName rules; no RAM user exists here.
func checkUserName(name string) error {
	switch {
	case name == "":
		return nil
	case len(name) > 64:
		return ecserr.BadRequest("InvalidParameter.UserName.Length", "The parameter UserName is longer than 64 characters.")
	case !accountNamePattern.MatchString(name):
		return ecserr.BadRequest("InvalidParameter.UserName.InvalidChars", "The parameter UserName has characters other than letters, digits, '.', '_' and '-'.")
	}
	return ecserr.New(http.StatusNotFound, "EntityNotExist.User", "The user %q does not exist: Palisade has no RAM users; leave UserName out to manage your own keys.", name)
}

// CreateAccessKey makes a new key pair of the caller's account (RAM
// CreateAccessKey); its secret is in this answer only.
func (s *Service) CreateAccessKey(ctx context.Context, in KeyInput) (AccessKeyOut, error) {
	if err := checkKeyCaller(in, "CreateAccessKey"); err != nil {
		return AccessKeyOut{}, err
	}
	key := model.AccessKey{ID: newKeyID(), Secret: newSecret(), Account: in.Caller.Account, Created: s.Now()}
	_, err := s.commit(ctx, func(tx store.Tx) error {
		keys, err := accountKeys(tx, in.Caller.Account)
		if err != nil {
			return err
		}
		if len(keys) >= MaxAccessKeys {
			return ecserr.New(http.StatusConflict, "LimitExceeded.User.AccessKey", "The maximum number of access keys (%d) is reached; delete one first (DeleteAccessKey).", MaxAccessKeys)
		}
		return store.PutAs(tx, KindAccessKey, key.ID, key.Account, "", key)
	})
	if err != nil {
		return AccessKeyOut{}, err
	}
	return keyOut(key, true), nil
}

// accountKeys are an account's own keys (not host keys), oldest first.
func accountKeys(tx store.ReadTx, account string) ([]model.AccessKey, error) {
	all, err := store.ListAs[model.AccessKey](tx, KindAccessKey, store.Query{Account: account})
	all = slices.DeleteFunc(all, func(k model.AccessKey) bool { return k.Host != "" })
	slices.SortFunc(all, func(a, b model.AccessKey) int {
		if n := a.Created.Compare(b.Created); n != 0 {
			return n
		}
		return strings.Compare(a.ID, b.ID)
	})
	return all, err
}

// ListAccessKeys lists the caller's account's keys, without secrets (RAM
// ListAccessKeys).
func (s *Service) ListAccessKeys(ctx context.Context, in KeyInput) ([]AccessKeyOut, error) {
	if err := checkKeyCaller(in, "ListAccessKeys"); err != nil {
		return nil, err
	}
	var out []AccessKeyOut
	err := s.read(ctx, func(tx store.ReadTx) error {
		keys, err := accountKeys(tx, in.Caller.Account)
		for _, k := range keys {
			out = append(out, keyOut(k, false))
		}
		return err
	})
	return out, err
}

// UpdateAccessKey sets a key of the caller's account Active or Inactive
// (RAM UpdateAccessKey). Status is case-sensitive, as the SDKs send it
// (RAM's rule is unconfirmed).
func (s *Service) UpdateAccessKey(ctx context.Context, in KeyInput, status string) error {
	if err := checkKeyCaller(in, "UpdateAccessKey"); err != nil {
		return err
	}
	switch status {
	case "":
		return ecserr.MissingParameter("Status")
	case model.KeyActive, model.KeyInactive:
	default:
		// The code RAM answers for a bad Status is unconfirmed.
		return ecserr.InvalidParameter("Status", "use Active or Inactive")
	}
	return s.changeKey(ctx, in, func(tx store.Tx, k model.AccessKey) error {
		if status == model.KeyInactive && k.ID == in.SigningKey {
			return signingKeyErr("deactivate")
		}
		k.Inactive = status == model.KeyInactive
		return store.PutAs(tx, KindAccessKey, k.ID, k.Account, "", k)
	})
}

// DeleteAccessKey deletes a key of the caller's account (RAM
// DeleteAccessKey).
func (s *Service) DeleteAccessKey(ctx context.Context, in KeyInput) error {
	if err := checkKeyCaller(in, "DeleteAccessKey"); err != nil {
		return err
	}
	err := s.changeKey(ctx, in, func(tx store.Tx, k model.AccessKey) error {
		if k.ID == in.SigningKey {
			return signingKeyErr("delete")
		}
		return tx.Delete(KindAccessKey, k.ID)
	})
	if err == nil {
		s.forgetKeyUse(in.KeyID)
	}
	return err
}

// signingKeyErr: whether RAM lets a request delete the key that signs it is
// unconfirmed; refusing it keeps a tenant from locking itself out.
func signingKeyErr(verb string) error {
	return ecserr.BadRequest("InvalidParameter.UserAccessKeyId", "A request may not %s the key that signs it; sign with another key of the account (CreateAccessKey makes one).", verb)
}

// changeKey runs fn on a key of the caller's account (ownKey), in one
// transaction.
func (s *Service) changeKey(ctx context.Context, in KeyInput, fn func(tx store.Tx, k model.AccessKey) error) error {
	if in.KeyID == "" {
		return ecserr.MissingParameter("UserAccessKeyId")
	}
	_, err := s.commit(ctx, func(tx store.Tx) error {
		k, err := ownKey(tx, in)
		if err != nil {
			return err
		}
		return fn(tx, k)
	})
	return err
}

// ownKey reads in.KeyID, a key of the caller's account (not a host key);
// another account's key is not found, as one never made.
func ownKey(tx store.ReadTx, in KeyInput) (model.AccessKey, error) {
	k, ok, err := store.GetAs[model.AccessKey](tx, KindAccessKey, in.KeyID)
	if err != nil {
		return model.AccessKey{}, err
	}
	if !ok || k.Account != in.Caller.Account || k.Host != "" {
		return model.AccessKey{}, ecserr.New(http.StatusNotFound, "EntityNotExist.User.AccessKey", "The access key %q does not exist in your account; ListAccessKeys lists them.", in.KeyID)
	}
	return k, nil
}

// RegisterHost issues a key scoped to one host (PalisadeRegisterHost): it
// may call only the host actions, for that host. Registering a host again
// replaces its key: the old one is refused from the next request on.
func (s *Service) RegisterHost(ctx context.Context, c Caller, host string) (model.AccessKey, error) {
	if err := CheckAdministrator(c, "PalisadeRegisterHost"); err != nil {
		return model.AccessKey{}, err
	}
	if err := checkHost(host, true); err != nil {
		return model.AccessKey{}, err
	}
	key := model.AccessKey{ID: newKeyID(), Secret: newSecret(), Account: c.Account, Host: host, Created: s.Now()}
	_, err := s.commit(ctx, func(tx store.Tx) error {
		keys, err := store.ListAs[model.AccessKey](tx, KindAccessKey, store.Query{Account: c.Account})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k.Host == host {
				if err := tx.Delete(KindAccessKey, k.ID); err != nil {
					return err
				}
			}
		}
		return store.PutAs(tx, KindAccessKey, key.ID, key.Account, "", key)
	})
	return key, err
}

// DeregisterHost deletes a host's key (PalisadeDeregisterHost), for a
// host retired or not to be trusted: the key is refused from the next
// request on (its open watches and streams end), and what its agent
// reported (applied revision, rule counters) is forgotten. The instances
// bound to the host stay bound: move or unbind them (PalisadeBindInstance).
func (s *Service) DeregisterHost(ctx context.Context, c Caller, host string) error {
	if err := CheckAdministrator(c, "PalisadeDeregisterHost"); err != nil {
		return err
	}
	if err := checkHost(host, true); err != nil {
		return err
	}
	_, err := s.commit(ctx, func(tx store.Tx) error {
		keys, err := store.ListAs[model.AccessKey](tx, KindAccessKey, store.Query{Account: c.Account})
		if err != nil {
			return err
		}
		found := false
		for _, k := range keys {
			if k.Host == host {
				if err := tx.Delete(KindAccessKey, k.ID); err != nil {
					return err
				}
				found = true
			}
		}
		if !found {
			return ecserr.New(http.StatusNotFound, "InvalidHostName.NotFound", "Host %q is not registered; palisade host list lists the hosts.", host)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.hosts.forget(host)
	s.unshareHost(ctx, host)
	return nil
}

// ListHostKeys lists the host keys, by host (PalisadeListHosts), without
// secrets.
func (s *Service) ListHostKeys(ctx context.Context, c Caller) ([]model.AccessKey, error) {
	if err := CheckAdministrator(c, "PalisadeListHosts"); err != nil {
		return nil, err
	}
	var out []model.AccessKey
	err := s.read(ctx, func(tx store.ReadTx) error {
		keys, err := store.ListAs[model.AccessKey](tx, KindAccessKey, store.Query{Account: c.Account})
		for _, k := range keys {
			if k.Host != "" {
				k.Secret = ""
				out = append(out, k)
			}
		}
		return err
	})
	slices.SortFunc(out, func(a, b model.AccessKey) int { return strings.Compare(a.Host, b.Host) })
	return out, err
}
