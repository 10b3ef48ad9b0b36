package service

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// SSH key pairs. ECS names a key pair by its name, unique in an account
// and region, in every action (and as the ResourceId of its tags), so the
// record's key is made of the three: a lookup by name is one Get, and two
// creates of one name meet on one record.

// KindKeyPair holds key pairs, keyed by keyPairKey.
const KindKeyPair store.Kind = "keypair"

// keyPairKey is the store key of the caller's key pair name (names hold
// no '/').
func keyPairKey(c Caller, name string) string { return c.Account + "/" + c.Region + "/" + name }

// getKeyPair loads the caller's key pair of that name.
func getKeyPair(tx store.ReadTx, c Caller, name string) (*model.KeyPair, error) {
	if name == "" {
		return nil, ecserr.MissingParameter("KeyPairName")
	}
	k, ok, err := peekAs[model.KeyPair](tx, KindKeyPair, keyPairKey(c, name))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ecserr.New(http.StatusNotFound, model.CodeKeyPairNotFound, "The specified KeyPairName %q does not exist in this account and region; DescribeKeyPairs lists them, CreateKeyPair or ImportKeyPair makes one.", model.Clip(name)).At("KeyPairName")
	}
	return k, nil
}

// KeyPairInput is a new key pair: CreateKeyPair's, or ImportKeyPair's
// with PublicKeyBody. Neither action takes a ClientToken, and a
// CreateKeyPair's answer must not be stored (it holds the private key).
type KeyPairInput struct {
	Caller          Caller
	Name            string
	PublicKeyBody   string // ImportKeyPair's; "" on CreateKeyPair
	ResourceGroupID string
	Tags            []model.Tag
}

// KeyPairResult is what CreateKeyPair and ImportKeyPair answer.
// PrivateKeyBody is CreateKeyPair's only, and lives nowhere else.
type KeyPairResult struct {
	ID, Name, Fingerprint string
	PrivateKeyBody        string
}

// checkKeyPairInput checks what both creates share.
func checkKeyPairInput(in *KeyPairInput) error {
	if e := model.ValidateKeyPairName(in.Name); e != nil {
		return e
	}
	if err := CheckResourceGroup(in.Caller, in.ResourceGroupID); err != nil {
		return err
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return e
	}
	return nil
}

// CreateKeyPair makes an RSA key pair of 2,048 bits, keeps its public key
// and answers the private key, PEM-encoded (PKCS#1, "RSA PRIVATE KEY", as
// ECS's answers are), once.
func (s *Service) CreateKeyPair(ctx context.Context, in KeyPairInput) (KeyPairResult, error) {
	if err := checkKeyPairInput(&in); err != nil {
		return KeyPairResult{}, err
	}
	// What the write would refuse is refused before the key is made (and
	// again once this create's turn comes, for what was written while it
	// waited): a key costs tens of milliseconds of a core, a refusal next
	// to nothing.
	room := func() error {
		_, err := View(s, ctx, func(tx store.ReadTx) (struct{}, error) {
			return struct{}{}, s.keyPairRoom(tx, in.Caller, in.Name)
		})
		return err
	}
	if err := room(); err != nil {
		return KeyPairResult{}, err
	}
	priv, err := keygen.generate(ctx, in.Caller.Account, room)
	if err != nil {
		return KeyPairResult{}, err
	}
	pub, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		return KeyPairResult{}, err
	}
	res, err := s.putKeyPair(ctx, "CreateKeyPair", in, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))), model.KeyFingerprint(pub))
	if err != nil {
		return KeyPairResult{}, err
	}
	res.PrivateKeyBody = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)}))
	return res, nil
}

// ImportKeyPair keeps the public key of a key pair made elsewhere.
func (s *Service) ImportKeyPair(ctx context.Context, in KeyPairInput) (KeyPairResult, error) {
	if err := checkKeyPairInput(&in); err != nil {
		return KeyPairResult{}, err
	}
	pub, fp, e := model.ParsePublicKey(in.PublicKeyBody)
	if e != nil {
		return KeyPairResult{}, e
	}
	return s.putKeyPair(ctx, "ImportKeyPair", in, pub, fp)
}

func (s *Service) putKeyPair(ctx context.Context, action string, in KeyPairInput, pub, fp string) (KeyPairResult, error) {
	c := in.Caller
	k := &model.KeyPair{ID: model.NewID("skp"), Region: c.Region, Owner: c.Account, Name: in.Name,
		PublicKey: pub, Fingerprint: fp, Tags: in.Tags, Created: s.Now()}
	return Update(s, ctx, c, action, Idempotency{}, in, func(tx store.Tx) (KeyPairResult, error) {
		if err := s.keyPairRoom(tx, c, k.Name); err != nil {
			return KeyPairResult{}, err
		}
		if err := store.PutAs(tx, KindKeyPair, keyPairKey(c, k.Name), k.Owner, k.Region, k); err != nil {
			return KeyPairResult{}, err
		}
		return KeyPairResult{ID: k.ID, Name: k.Name, Fingerprint: k.Fingerprint}, nil
	})
}

// keyPairRoom refuses a new key pair of that name when the caller has one,
// or holds its quota of them.
func (s *Service) keyPairRoom(tx store.ReadTx, c Caller, name string) error {
	if _, ok, err := tx.Get(KindKeyPair, keyPairKey(c, name)); err != nil {
		return err
	} else if ok {
		return ecserr.BadRequest(model.CodeKeyPairExists, "The key pair %q already exists in this account and region; key pair names are unique. Delete it first (DeleteKeyPairs) or pick another name.", name).At("KeyPairName")
	}
	n, err := ownedBy(KindKeyPair, c).count(tx)
	if err != nil {
		return err
	}
	q, err := s.quotasOf(tx, c.Account)
	if err != nil {
		return err
	}
	if n >= q.KeyPairs {
		return ecserr.Forbidden("QuotaExceed.KeyPair", "This account already has %d key pairs in %s and may hold %d; delete one first.", n, c.Region, q.KeyPairs)
	}
	return nil
}

// keygen makes CreateKeyPair's keys one at a time, and holds one create
// of an account at a time, waiting or making its key. An RSA key of 2,048
// bits takes tens of milliseconds of a core (80 ms on a machine of the
// project's), and CreateKeyPair is a write any tenant may send at its rate
// limit (100 a second): unbounded, a few tenants' creates would take every
// core from everyone's requests; one at a time but queued, one tenant's
// burst would queue minutes of keys ahead of every other tenant's create.
var keygen = keyMaker{turn: make(chan struct{}, 1), busy: map[string]bool{}, make: func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
}}

type keyMaker struct {
	turn chan struct{} // held while a key is made
	make func() (*rsa.PrivateKey, error)
	mu   sync.Mutex
	busy map[string]bool // accounts with a create waiting or making its key
}

// generate makes a key for account when its turn comes, if check (run
// with the turn) still passes; an account with a create already waiting
// or making its key is refused, as a throttled call is.
func (k *keyMaker) generate(ctx context.Context, account string, check func() error) (*rsa.PrivateKey, error) {
	k.mu.Lock()
	if k.busy[account] {
		k.mu.Unlock()
		return nil, ecserr.New(http.StatusBadRequest, "Throttling.User",
			"This account is already making a key pair: CreateKeyPair makes one key at a time for an account. Send the next when that one is answered, or use ImportKeyPair with a key made elsewhere.")
	}
	k.busy[account] = true
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		delete(k.busy, account)
		k.mu.Unlock()
	}()
	select {
	case k.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-k.turn }()
	if err := check(); err != nil {
		return nil, err
	}
	return k.make()
}

// DescribeKeyPairsInput filters the caller's key pairs; zero fields do not.
type DescribeKeyPairsInput struct {
	Caller Caller
	// Name is a name, or a pattern where each '*' stands for any
	// characters (ECS's fuzzy search: *SshKey, SshKey*, *SshKey*).
	Name            string
	Fingerprint     string
	ResourceGroupID string
	Tags            []model.Tag // all must match; a key without a value matches any value
	Page            Page
}

// DescribeKeyPairs returns one page of the caller's key pairs in a region,
// in name order.
func (s *Service) DescribeKeyPairs(ctx context.Context, in DescribeKeyPairsInput) (Listing[*model.KeyPair], error) {
	c := in.Caller
	if e := model.ValidateTags(in.Tags); e != nil {
		return Listing[*model.KeyPair]{}, e
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[*model.KeyPair], error) {
		var all []*model.KeyPair
		if in.Name != "" && !strings.Contains(in.Name, "*") {
			// One name: one Get, not a listing.
			k, ok, err := peekAs[model.KeyPair](tx, KindKeyPair, keyPairKey(c, in.Name))
			if err != nil {
				return Listing[*model.KeyPair]{}, err
			}
			if ok {
				all = append(all, k)
			}
		} else {
			var err error
			if all, err = list[model.KeyPair](tx, KindKeyPair, c); err != nil {
				return Listing[*model.KeyPair]{}, err
			}
		}
		var items []*model.KeyPair
		for _, k := range all {
			if in.Name != "" && !nameMatches(in.Name, k.Name) || in.Fingerprint != "" && in.Fingerprint != k.Fingerprint ||
				in.ResourceGroupID != "" && in.ResourceGroupID != ResourceGroupID(k.Owner) || !matchTags(k.Tags, in.Tags) {
				continue
			}
			items = append(items, k)
		}
		return pageOf(items, in.Page), nil
	})
}

// DeleteKeyPairsInput names key pairs to delete.
type DeleteKeyPairsInput struct {
	Caller Caller
	Names  []string // 1 to model.MaxKeyPairNames
}

// DeleteKeyPairs deletes the caller's key pairs of those names, all or
// none. A name the caller has no key pair of is passed over, as ECS
// does; one an instance of the caller holds is refused, as ECS refuses it.
func (s *Service) DeleteKeyPairs(ctx context.Context, in DeleteKeyPairsInput) error {
	c := in.Caller
	switch n := len(in.Names); {
	case n == 0:
		return ecserr.MissingParameter("KeyPairNames")
	case n > model.MaxKeyPairNames:
		return ecserr.Forbidden("InstanceKeyPairLimitExceeded", "KeyPairNames takes at most %d names; %d were given.", model.MaxKeyPairNames, n)
	}
	for _, name := range in.Names {
		if name == "" {
			return ecserr.BadRequest("InvalidKeyPairNames.ValueNotSupported", "KeyPairNames holds an empty name.").At("KeyPairNames")
		}
	}
	_, err := Update(s, ctx, c, "DeleteKeyPairs", Idempotency{}, in, func(tx store.Tx) (struct{}, error) {
		var del []string
		for _, name := range in.Names {
			key := keyPairKey(c, name)
			if _, ok, err := tx.Get(KindKeyPair, key); err != nil {
				return struct{}{}, err
			} else if ok {
				del = append(del, name)
			}
		}
		if len(del) == 0 {
			return struct{}{}, nil
		}
		// Each name's holders from the index, not every instance of the
		// region: a write that read them all would conflict with every
		// instance written meanwhile, anyone's.
		for _, name := range del {
			insts, err := indexedObjects[model.Instance](tx, KindInstance, byKeyPair, keyPairKey(c, name), c)
			if err != nil {
				return struct{}{}, err
			}
			if len(insts) > 0 {
				return struct{}{}, ecserr.BadRequest(model.CodeKeyPairInUse, "The key pair %q is used by instance %s and cannot be deleted; detach it (DetachKeyPair) or delete the instance first. Nothing was deleted.", name, insts[0].ID).At("KeyPairNames")
			}
		}
		for _, name := range del {
			if err := tx.Delete(KindKeyPair, keyPairKey(c, name)); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	return err
}

// KeyPairInstancesInput names a key pair and instances of the caller's
// for AttachKeyPair and DetachKeyPair.
type KeyPairInstancesInput struct {
	Caller      Caller
	Name        string
	InstanceIDs []string // 1 to model.MaxKeyPairInstances
}

// KeyPairInstanceResult is the outcome of one instance of an
// AttachKeyPair or DetachKeyPair: Code "200" on success, else the ECS
// error code of why that instance was not changed.
type KeyPairInstanceResult struct {
	InstanceID    string
	Success       bool
	Code, Message string
}

// KeyPairInstancesResult is what AttachKeyPair and DetachKeyPair answer.
type KeyPairInstancesResult struct {
	Name    string
	Fail    int
	Results []KeyPairInstanceResult // one per distinct instance, in the order given
}

// keyPairImage refuses an SSH key pair to an instance of a Windows image
// (of the catalogue: the only OS Palisade knows of an instance), at launch
// and on AttachKeyPair alike, as ECS refuses both.
func keyPairImage(imageID string) *ecserr.Error {
	if im, ok := CatalogueImage(imageID); ok && im.OSType == "windows" {
		return ecserr.Forbidden(model.CodeKeyPairWindows, "Image %s is a Windows image, whose instances take no SSH key pair; log in with a password.", imageID).At("KeyPairName")
	}
	return nil
}

// AttachKeyPair makes a key pair of the caller's the login key of the
// caller's instances, replacing the one an instance held, in any status
// (ECS's would take effect at the next start or reboot; Palisade runs no
// guest, so the instance answers it at once).
func (s *Service) AttachKeyPair(ctx context.Context, in KeyPairInstancesInput) (KeyPairInstancesResult, error) {
	return s.keyPairInstances(ctx, "AttachKeyPair", in, func(inst *model.Instance) (bool, *ecserr.Error) {
		if e := keyPairImage(inst.ImageID); e != nil {
			return false, e
		}
		if inst.KeyPairName == in.Name {
			return false, nil
		}
		inst.KeyPairName = in.Name
		return true, nil
	})
}

// DetachKeyPair clears the key pair of the caller's instances that hold
// it. An instance holding none, or another, is left as it is and
// answered a success: it does not hold that key pair, as asked.
func (s *Service) DetachKeyPair(ctx context.Context, in KeyPairInstancesInput) (KeyPairInstancesResult, error) {
	return s.keyPairInstances(ctx, "DetachKeyPair", in, func(inst *model.Instance) (bool, *ecserr.Error) {
		if inst.KeyPairName != in.Name {
			return false, nil
		}
		inst.KeyPairName = ""
		return true, nil
	})
}

// keyPairInstances checks what fails a whole AttachKeyPair or
// DetachKeyPair (a missing or unknown key pair, a missing, malformed or
// too long InstanceIds), then applies change to each instance in one
// write. An ID that names no instance of the caller's (another
// account's alike: not told apart) or an instance change refuses fails
// alone, and that instance is left as it was.
func (s *Service) keyPairInstances(ctx context.Context, action string, in KeyPairInstancesInput, change func(*model.Instance) (bool, *ecserr.Error)) (KeyPairInstancesResult, error) {
	c := in.Caller
	if in.Name == "" {
		return KeyPairInstancesResult{}, ecserr.MissingParameter("KeyPairName")
	}
	// Repeats count once; past the bound the call is refused at once (a
	// megabyte of IDs is some eighty thousand, which a search of the
	// distinct ones so far for each would take seconds of a core over).
	var ids []string
	for _, id := range in.InstanceIDs {
		if id == "" {
			return KeyPairInstancesResult{}, ecserr.BadRequest(model.CodeInstanceIDsBad, "InstanceIds holds an empty instance ID.").At("InstanceIds")
		}
		if slices.Contains(ids, id) {
			continue
		}
		if len(ids) == model.MaxKeyPairInstances {
			return KeyPairInstancesResult{}, ecserr.Forbidden(model.CodeKeyPairInstances, "InstanceIds takes at most %d instances; more were given.", model.MaxKeyPairInstances)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return KeyPairInstancesResult{}, ecserr.MissingParameter("InstanceIds")
	}
	in.InstanceIDs = ids
	return Update(s, ctx, c, action, Idempotency{}, in, func(tx store.Tx) (KeyPairInstancesResult, error) {
		if _, err := getKeyPair(tx, c, in.Name); err != nil {
			return KeyPairInstancesResult{}, err
		}
		out := KeyPairInstancesResult{Name: in.Name, Results: make([]KeyPairInstanceResult, 0, len(ids))}
		for _, id := range ids {
			r := KeyPairInstanceResult{InstanceID: id, Success: true, Code: "200", Message: "successful"}
			inst, err := GetInstance(tx, c, id)
			var e *ecserr.Error
			switch {
			case errors.As(err, &e) && e.Status < http.StatusInternalServerError:
			case err != nil:
				return KeyPairInstancesResult{}, err
			default:
				var changed bool
				if changed, e = change(inst); e == nil && changed {
					if err := PutInstance(tx, inst); err != nil {
						return KeyPairInstancesResult{}, err
					}
				}
			}
			if e != nil {
				r = KeyPairInstanceResult{InstanceID: id, Code: e.Code, Message: e.Message}
				out.Fail++
			}
			out.Results = append(out.Results, r)
		}
		return out, nil
	})
}
