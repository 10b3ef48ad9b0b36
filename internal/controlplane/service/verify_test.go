package service

import "github.com/palisade-sg/palisade/internal/controlplane/view"

// The view checks every object a write hands it against the JSON stored
// with it, so a service that modifies a value after Put fails its tests.
func init() { view.VerifyObjects = true }
