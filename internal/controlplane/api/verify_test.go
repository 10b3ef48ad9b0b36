package api

import "github.com/palisade-sg/palisade/internal/controlplane/view"

// The view checks every object a write hands it against the JSON stored
// with it, so an action that modifies a value after Put fails these tests.
func init() { view.VerifyObjects = true }
