package service

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// FirstAccountUID is the UID of the account created first; later ones
// count up from it.
const (
	FirstAccountUID = "1000000000000001"
	firstAccountNum = 1000000000000001
)

// CreateAccount creates an account (UIDs count up from FirstAccountUID)
// with one new access key pair.
func (s *Service) CreateAccount(ctx context.Context, name string) (model.Account, model.AccessKey, error) {
	return s.createAccount(ctx, name, newKeyID(), newSecret())
}

func (s *Service) createAccount(ctx context.Context, name, keyID, secret string) (model.Account, model.AccessKey, error) {
	var acct model.Account
	var key model.AccessKey
	_, err := s.Store.Update(ctx, func(tx store.Tx) error {
		existing, err := tx.List(KindAccount, store.Query{})
		if err != nil {
			return err
		}
		acct = model.Account{UID: fmt.Sprintf("%d", firstAccountNum+len(existing)), Name: name, Created: s.Now()}
		if acct.Name == "" {
			acct.Name = "account-" + acct.UID
		}
		key = model.AccessKey{ID: keyID, Secret: secret, Account: acct.UID, Created: s.Now()}
		if err := store.PutAs(tx, KindAccount, acct.UID, acct.UID, "", acct); err != nil {
			return err
		}
		return store.PutAs(tx, KindAccessKey, key.ID, acct.UID, "", key)
	})
	return acct, key, err
}

// Bootstrap makes sure the first account exists and returns a key of it.
// With id and secret given, that pair is stored for the first account
// (replacing the secret of an existing key with the same ID). Without them,
// an existing key of the first account is returned, or a new one made;
// created reports whether a key was made (so it can be shown once).
func (s *Service) Bootstrap(ctx context.Context, id, secret string) (key model.AccessKey, created bool, err error) {
	var acct *model.Account
	err = s.read(ctx, func(tx store.ReadTx) error {
		a, ok, err := store.GetAs[model.Account](tx, KindAccount, FirstAccountUID)
		if ok {
			acct = &a
		}
		if err != nil || !ok || id != "" {
			return err
		}
		keys, err := store.ListAs[model.AccessKey](tx, KindAccessKey, store.Query{Account: FirstAccountUID})
		if len(keys) > 0 {
			key = keys[0]
		}
		return err
	})
	if err != nil || key.ID != "" {
		return key, false, err
	}
	if acct == nil {
		if id == "" {
			id, secret = newKeyID(), newSecret()
			created = true
		}
		_, key, err = s.createAccount(ctx, "default", id, secret)
		return key, created, err
	}
	if id == "" {
		id, secret, created = newKeyID(), newSecret(), true
	}
	key = model.AccessKey{ID: id, Secret: secret, Account: FirstAccountUID, Created: s.Now()}
	_, err = s.Store.Update(ctx, func(tx store.Tx) error {
		if old, ok, err := store.GetAs[model.AccessKey](tx, KindAccessKey, id); err != nil || ok && old == key {
			return err
		}
		return store.PutAs(tx, KindAccessKey, key.ID, key.Account, "", key)
	})
	return key, created, err
}

// LookupSecret returns the secret of an access key, for signature checks.
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

// newKeyID returns an AccessKey ID shaped like Alibaba Cloud's: LTAI and 20
// alphanumerics.
func newKeyID() string {
	return "LTAI" + randomText(20, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
}

// newSecret returns a 30-character AccessKey secret.
func newSecret() string {
	return randomText(30, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
}

func randomText(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
