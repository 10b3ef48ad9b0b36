package analyze

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

type aheadKey struct{}

// Ahead marks ctx for work a server does ahead of a request (the console
// refreshing an audit or a map in the background after a write): it counts
// against the server's bound of analyses at once, and waits for a slot as
// with Waiting, but not against the account's own bound, so that the
// request the account's user waits for is not queued behind it. Whoever
// uses it must bound it (the console runs one such analysis at a time).
func Ahead(ctx context.Context) context.Context {
	return Waiting(context.WithValue(ctx, aheadKey{}, true))
}

// gateAccount is the name an analysis of c counts under in the gate: work
// ahead of requests has a slot of its own.
func gateAccount(ctx context.Context, c service.Caller) string {
	if ctx.Value(aheadKey{}) != nil {
		return "ahead of " + c.Account
	}
	return c.Account
}
