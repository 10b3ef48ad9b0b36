package cli

import (
	"fmt"
	"io"
)

// client is replaced by the SDK-based client commands.
func client(cmd string, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "not yet")
	return 2
}
