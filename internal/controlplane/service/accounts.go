package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Accounts: the operator's account, whose keys administer tenants and hosts
// and which owns no resources, and the tenants. Account IDs are 16 random
// digits, as ECS's are: sequential ones would tell each tenant how many
// others there are.

// legacyFirstUID is the UID stores made before random IDs gave their first
// account (which was also the operator); Bootstrap marks it the first tenant.
const legacyFirstUID = "1000000000000001"

// accountNamePattern: 1 to 64 letters, digits, '.', '_' or '-' (RAM's rule
// for user names, which account names here follow).
var accountNamePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// CheckAdministrator refuses a caller other than the operator's own keys
// (host keys included: they may call only the host actions).
func CheckAdministrator(c Caller, action string) error {
	if !c.Operator || c.Host != "" {
		return ecserr.Forbidden("Forbidden.Operator", "Only the operator key (PALISADE_OPERATOR_KEY_ID, which the first `palisade serve` printed) may call %s.", action)
	}
	return nil
}

// CreateAccount creates a tenant (as PalisadeCreateAccount) with one new
// access key pair, whose secret only this answer holds.
func (s *Service) CreateAccount(ctx context.Context, c Caller, name string) (model.Account, model.AccessKey, error) {
	if err := CheckAdministrator(c, "PalisadeCreateAccount"); err != nil {
		return model.Account{}, model.AccessKey{}, err
	}
	if !accountNamePattern.MatchString(name) {
		return model.Account{}, model.AccessKey{}, ecserr.InvalidParameter("AccountName", "use 1 to 64 letters, digits, '.', '_' or '-'")
	}
	return s.NewTenant(ctx, name)
}

// NewTenant creates a tenant with one new key pair, without a caller: for
// tests and tools that hold the store.
func (s *Service) NewTenant(ctx context.Context, name string) (acct model.Account, key model.AccessKey, err error) {
	_, err = s.commit(ctx, func(tx store.Tx) error {
		acct, key, err = s.putAccount(tx, model.Account{Name: name}, newKeyID(), newSecret())
		return err
	})
	return acct, key, err
}

// putAccount stores a new account under a fresh random UID, with a key.
func (s *Service) putAccount(tx store.Tx, acct model.Account, keyID, secret string) (model.Account, model.AccessKey, error) {
	if _, taken, err := store.GetAs[model.AccessKey](tx, KindAccessKey, keyID); err != nil || taken {
		if err == nil {
			err = keyInUse(keyID)
		}
		return acct, model.AccessKey{}, err
	}
	for {
		acct.UID = newAccountUID()
		_, taken, err := store.GetAs[model.Account](tx, KindAccount, acct.UID)
		if err != nil {
			return acct, model.AccessKey{}, err
		}
		if !taken {
			break
		}
	}
	acct.Created = s.Now()
	if acct.Name == "" {
		acct.Name = "account-" + acct.UID
	}
	key := model.AccessKey{ID: keyID, Secret: secret, Account: acct.UID, Created: s.Now()}
	if err := store.PutAs(tx, KindAccount, acct.UID, acct.UID, "", acct); err != nil {
		return acct, key, err
	}
	return acct, key, store.PutAs(tx, KindAccessKey, key.ID, acct.UID, "", key)
}

// ListAccounts lists the tenants (PalisadeListAccounts), by name.
func (s *Service) ListAccounts(ctx context.Context, c Caller) ([]model.Account, error) {
	if err := CheckAdministrator(c, "PalisadeListAccounts"); err != nil {
		return nil, err
	}
	var out []model.Account
	err := s.read(ctx, func(tx store.ReadTx) error {
		all, err := store.ListAs[model.Account](tx, KindAccount, store.Query{})
		for _, a := range all {
			if !a.Operator {
				out = append(out, a)
			}
		}
		return err
	})
	slices.SortFunc(out, func(a, b model.Account) int {
		if n := strings.Compare(a.Name, b.Name); n != 0 {
			return n
		}
		return strings.Compare(a.UID, b.UID)
	})
	return out, err
}

// DisableAccount disables a tenant (PalisadeDisableAccount): its keys are
// refused from the next request on. Its resources stay, and stay enforced.
func (s *Service) DisableAccount(ctx context.Context, c Caller, uid string) error {
	if err := CheckAdministrator(c, "PalisadeDisableAccount"); err != nil {
		return err
	}
	if uid == "" {
		return ecserr.MissingParameter("AccountId")
	}
	_, err := s.commit(ctx, func(tx store.Tx) error {
		a, err := tenantAccount(tx, uid)
		if err != nil || a.Disabled {
			return err
		}
		a.Disabled = true
		return store.PutAs(tx, KindAccount, a.UID, a.UID, "", a)
	})
	return err
}

// BootstrapKeys are the key pairs a start is given (each optional).
type BootstrapKeys struct {
	OperatorID, OperatorSecret string
	TenantID, TenantSecret     string
}

// Bootstrapped are the keys of the operator and of the first tenant after a
// start; a key made at this start (to be shown once) is flagged New.
type Bootstrapped struct {
	Operator, Tenant       model.AccessKey
	OperatorNew, TenantNew bool
}

// Bootstrap makes sure the operator's account and the first tenant exist,
// each with a key, in one transaction (a start that fails keeps nothing).
// A pair given is stored for its account (replacing the secret of an
// existing key with that ID); without one, an existing key is returned, or
// a new one made. A store from before the operator existed gets an
// operator account, and its first account becomes the first tenant.
func (s *Service) Bootstrap(ctx context.Context, in BootstrapKeys) (Bootstrapped, error) {
	var out Bootstrapped
	if (in.OperatorID == "") != (in.OperatorSecret == "") || (in.TenantID == "") != (in.TenantSecret == "") {
		return out, errors.New("give a key's ID and secret together (PALISADE_OPERATOR_KEY_ID with _SECRET, PALISADE_ACCESS_KEY_ID with _SECRET)")
	}
	_, err := s.commit(ctx, func(tx store.Tx) error {
		accts, err := store.ListAs[model.Account](tx, KindAccount, store.Query{})
		if err != nil {
			return err
		}
		var op, first *model.Account
		for i := range accts {
			a := &accts[i]
			switch {
			case a.Operator:
				op = a
			case a.First:
				first = a
			}
		}
		if first == nil {
			if i := slices.IndexFunc(accts, func(a model.Account) bool { return a.UID == legacyFirstUID && !a.Operator }); i >= 0 {
				first = &accts[i]
				first.First = true
				if err := store.PutAs(tx, KindAccount, first.UID, first.UID, "", *first); err != nil {
					return err
				}
			}
		}
		if out.Operator, out.OperatorNew, err = s.bootstrapKey(tx, op, model.Account{Name: "operator", Operator: true}, in.OperatorID, in.OperatorSecret,
			"PALISADE_OPERATOR_KEY_ID", "PALISADE_OPERATOR_KEY_SECRET"); err != nil {
			return err
		}
		out.Tenant, out.TenantNew, err = s.bootstrapKey(tx, first, model.Account{Name: "default", First: true}, in.TenantID, in.TenantSecret,
			"PALISADE_ACCESS_KEY_ID", "PALISADE_ACCESS_KEY_SECRET")
		return err
	})
	if err != nil {
		return Bootstrapped{}, err
	}
	return out, nil
}

// bootstrapKey returns a key of acct (making acct from tmpl if nil): the
// pair given, else an existing active key (not a host key), else a new one.
//
// A pair given is the operator's choice at every start, but not over what
// was done through the API since: a key with that ID keeps its state
// (disabled stays disabled; only a new secret is taken), one deleted since
// a start stored it is not made again, and a new ID counts against the
// account's keys, so that rotating a key is not undone by a restart with
// the old variables still set.
//
// idVar and secretVar name the environment variables the pair came from,
// for the errors: they are what the operator must change.
func (s *Service) bootstrapKey(tx store.Tx, acct *model.Account, tmpl model.Account, id, secret, idVar, secretVar string) (model.AccessKey, bool, error) {
	created := id == ""
	if created {
		id, secret = newKeyID(), newSecret()
	}
	if acct == nil {
		if !created {
			tmpl.EnvKeys = []string{id}
		}
		_, key, err := s.putAccount(tx, tmpl, id, secret)
		return key, created, err
	}
	keys, err := accountKeys(tx, acct.UID)
	if err != nil {
		return model.AccessKey{}, false, err
	}
	if created {
		for _, k := range keys {
			if !k.Inactive {
				return k, false, nil
			}
		}
		if len(keys) > 0 {
			return keys[len(keys)-1], false, nil // all disabled, by choice: none is made
		}
	}
	old, ok, err := store.GetAs[model.AccessKey](tx, KindAccessKey, id)
	switch {
	case err != nil:
		return old, false, err
	case ok && old.Account != acct.UID:
		return old, false, keyInUse(id)
	case ok && old.Host != "":
		return old, false, fmt.Errorf("access key %s is a host key: set %s to another ID", id, idVar)
	case ok && old.Secret == secret:
		return old, false, rememberEnvKey(tx, acct, id)
	case ok:
		old.Secret = secret // the environment's secret; disabled stays disabled
		if err := rememberEnvKey(tx, acct, id); err != nil {
			return old, false, err
		}
		return old, false, store.PutAs(tx, KindAccessKey, old.ID, old.Account, "", old)
	case slices.Contains(acct.EnvKeys, id):
		return old, false, fmt.Errorf("access key %s of account %s was deleted after a start stored it from the environment, and is not made again: unset %s and %s (the store keeps the account's keys), or set them to a new pair", id, acct.UID, idVar, secretVar)
	case len(keys) >= MaxAccessKeys:
		return old, false, fmt.Errorf("account %s (%s) already has %d access keys, the limit, so %s (%s) is not stored from the environment: start without %s and %s, delete a key (palisade key delete), then restart with them", acct.UID, acct.Name, len(keys), id, idVar, idVar, secretVar)
	}
	key := model.AccessKey{ID: id, Secret: secret, Account: acct.UID, Created: s.Now()}
	if !created {
		if err := rememberEnvKey(tx, acct, id); err != nil {
			return key, false, err
		}
	}
	return key, created, store.PutAs(tx, KindAccessKey, key.ID, key.Account, "", key)
}

// rememberEnvKey adds id to the key IDs acct stored from the environment
// (a store from before EnvKeys has none yet for its keys).
func rememberEnvKey(tx store.Tx, acct *model.Account, id string) error {
	if slices.Contains(acct.EnvKeys, id) {
		return nil
	}
	acct.EnvKeys = append(slices.Clone(acct.EnvKeys), id)
	if len(acct.EnvKeys) > maxEnvKeys {
		acct.EnvKeys = acct.EnvKeys[len(acct.EnvKeys)-maxEnvKeys:]
	}
	return store.PutAs(tx, KindAccount, acct.UID, acct.UID, "", *acct)
}

// maxEnvKeys bounds the key IDs an account remembers having stored from
// the environment (model.Account.EnvKeys).
const maxEnvKeys = 16

// firstTenant returns the UID of the tenant the first start made, "" if
// there is none yet.
func firstTenant(tx store.ReadTx) (string, error) {
	accts, err := store.ListAs[model.Account](tx, KindAccount, store.Query{})
	for _, a := range accts {
		if a.First {
			return a.UID, err
		}
	}
	return "", err
}

// newAccountUID returns 16 random digits, the first 1 to 8. The answers
// carry a UID as a JSON number (OwnerId of DescribeVpcs, DescribeVSwitches,
// DescribeInstances' InstanceOwnerId), which JavaScript clients, the Node.js
// SDKs among them, read as a float64: exact only up to 2^53
// (9007199254740992), so an odd UID above it came back one off.
func newAccountUID() string {
	n, err := rand.Int(rand.Reader, big.NewInt(8e15))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n.Add(n, big.NewInt(1e15)).String()
}

// newKeyID returns an AccessKey ID shaped like Alibaba Cloud's: LTAI and 20
// alphanumerics.
func newKeyID() string {
	return "LTAI" + randomText(20, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
}

// newSecret returns a 30-character AccessKey secret.
func newSecret() string {
	return randomText(30, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
}

// randomText returns n characters of alphabet, uniformly (rejection
// sampling: a plain modulo would favour the first characters).
func randomText(n int, alphabet string) string {
	out := make([]byte, 0, n)
	limit := 256 - 256%len(alphabet)
	b := make([]byte, 1)
	for len(out) < n {
		rand.Read(b)
		if int(b[0]) < limit {
			out = append(out, alphabet[int(b[0])%len(alphabet)])
		}
	}
	return string(out)
}

func keyInUse(id string) error {
	return ecserr.BadRequest("InvalidAccessKeyId.InUse", "The access key ID %s is already a key of another account; choose another.", id)
}
