// Command palisade is Palisade in one binary: the ECS-compatible API server,
// the scenario checker and a client for people.
package main

import (
	"os"

	"github.com/palisade-sg/palisade/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
