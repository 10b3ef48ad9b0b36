package service

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// StateMark marks the caller's resources in its region as they are now:
// any write to one of them (a put raises its revision, a delete drops it)
// gives another mark. The console's preview carries it to the apply,
// which refuses a change previewed on a state that has changed since:
// what the preview showed would not be what the apply does.
func (s *Service) StateMark(ctx context.Context, c Caller) (string, error) {
	h := sha256.New()
	err := s.read(ctx, func(tx store.ReadTx) error {
		for _, k := range slices.Sorted(maps.Keys(Kinds)) {
			rs, err := tx.List(k, store.Query{Account: c.Account, Region: c.Region})
			if err != nil {
				return err
			}
			for _, r := range rs {
				fmt.Fprintf(h, "%s/%s@%d\n", r.Kind, r.ID, r.Revision)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18]), nil
}
