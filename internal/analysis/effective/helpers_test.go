package effective_test

import "github.com/palisade-sg/palisade/internal/core/model/modeltest"

// Shorthands for the test tables (see modeltest).
var (
	rl = modeltest.Rule
	sg = modeltest.Group
	vm = modeltest.Instance
)
