package apitest

import (
	"os"
	"testing"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestMain removes the palisade binary the tests built, when they end.
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
