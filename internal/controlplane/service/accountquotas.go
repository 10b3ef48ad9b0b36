package service

import (
	"context"
	"net/http"
	"strconv"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// An account's own quotas: the operator raises or lowers one tenant's
// (PalisadeSetAccountQuotas, as ECS does after a ticket) without touching
// the others'. They are kept in the account's record, so they survive a
// restart and reach every server of an etcd installation as any write
// does; the quota checks read them in their write (quotasOf).

// ClearQuota, as a quota's value, returns it to the server's.
const ClearQuota = -1

// SetAccountQuotasInput sets or clears some of an account's quotas.
type SetAccountQuotasInput struct {
	Caller    Caller
	AccountID string
	// Values are the quotas given, by QuotaName.Param: 1 to MaxQuota
	// sets the account's own, ClearQuota returns it to the server's.
	Values map[string]int
}

// AccountQuotas are an account's quotas in force and which of them are its
// own.
type AccountQuotas struct {
	AccountID string
	Effective Quotas
	Own       Quotas // the account's overrides; a zero field: none
}

// SetAccountQuotas sets or clears an account's own quotas
// (PalisadeSetAccountQuotas) and returns them as now in force. A quota
// lowered below what the account holds refuses its further creates and
// deletes nothing.
func (s *Service) SetAccountQuotas(ctx context.Context, in SetAccountQuotasInput) (AccountQuotas, error) {
	if err := CheckAdministrator(in.Caller, "PalisadeSetAccountQuotas"); err != nil {
		return AccountQuotas{}, err
	}
	if in.AccountID == "" {
		return AccountQuotas{}, ecserr.MissingParameter("AccountId")
	}
	if len(in.Values) == 0 {
		return AccountQuotas{}, ecserr.New(http.StatusBadRequest, "MissingParameter", "Give at least one quota to set (1 to %d) or to return to the server's (-1): %s.", MaxQuota, QuotaParams())
	}
	for _, n := range QuotaNames {
		v, given := in.Values[n.Param]
		if given && v != ClearQuota && (v < 1 || v > MaxQuota) {
			return AccountQuotas{}, ecserr.InvalidParameter(n.Param, "give 1 to "+strconv.Itoa(MaxQuota)+", or -1 to return to the server's quota; got "+strconv.Itoa(v))
		}
	}
	var out AccountQuotas
	_, err := s.commit(ctx, func(tx store.Tx) error {
		a, err := tenantAccount(tx, in.AccountID)
		if err != nil {
			return err
		}
		var own Quotas
		if a.Quotas != nil {
			own = Quotas(*a.Quotas)
		}
		changed := false
		for i, n := range QuotaNames {
			v, given := in.Values[n.Param]
			if v == ClearQuota {
				v = 0
			}
			if f := own.Field(i); given && *f != v {
				*f, changed = v, true
			}
		}
		out = AccountQuotas{AccountID: a.UID, Effective: s.Quotas.WithDefaults().override(own), Own: own}
		if !changed {
			return nil // no new revision: the account's creates need not run again
		}
		if own == (Quotas{}) {
			a.Quotas = nil
		} else {
			m := model.Quotas(own)
			a.Quotas = &m
		}
		return store.PutAs(tx, KindAccount, a.UID, a.UID, "", a)
	})
	if err != nil {
		return AccountQuotas{}, err
	}
	return out, nil
}

// DescribeAccountQuotas returns a tenant's quotas in force and its own
// (PalisadeDescribeAccountQuotas).
func (s *Service) DescribeAccountQuotas(ctx context.Context, c Caller, uid string) (AccountQuotas, error) {
	if err := CheckAdministrator(c, "PalisadeDescribeAccountQuotas"); err != nil {
		return AccountQuotas{}, err
	}
	if uid == "" {
		return AccountQuotas{}, ecserr.MissingParameter("AccountId")
	}
	var out AccountQuotas
	err := s.read(ctx, func(tx store.ReadTx) error {
		a, err := tenantAccount(tx, uid)
		if err != nil {
			return err
		}
		out.AccountID = a.UID
		if a.Quotas != nil {
			out.Own = Quotas(*a.Quotas)
		}
		out.Effective, err = s.quotasOf(tx, a.UID)
		return err
	})
	return out, err
}

// CallerQuotas are the quotas in force for the caller's account (what
// DescribeAccountAttributes answers).
func (s *Service) CallerQuotas(ctx context.Context, c Caller) (Quotas, error) {
	var q Quotas
	err := s.read(ctx, func(tx store.ReadTx) error {
		var err error
		q, err = s.quotasOf(tx, c.Account)
		return err
	})
	return q, err
}

// tenantAccount reads a tenant's account; the operator's own, which is no
// tenant, is not found, as an account ID that was never made.
func tenantAccount(tx store.ReadTx, uid string) (model.Account, error) {
	a, ok, err := store.GetAs[model.Account](tx, KindAccount, uid)
	switch {
	case err != nil:
		return a, err
	case !ok || a.Operator:
		return a, ecserr.New(http.StatusNotFound, "EntityNotExist.Account", "The account %q does not exist; PalisadeListAccounts lists them.", uid)
	}
	return a, nil
}
