package apitest

import "github.com/palisade-sg/palisade/internal/controlplane/view"

// The view checks every object a write hands it against the JSON stored
// with it, and at each test's end that no object it published was changed
// in place (testenv), so a write that changes a value readers share fails
// the API tests too.
func init() { view.VerifyObjects = true }
