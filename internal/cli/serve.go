package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/palisade-sg/palisade/internal/controlplane/server"
)

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the API on")
	db := fs.String("db", "./palisade.db", "SQLite file that holds all state")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := server.Open(ctx, server.Config{Listen: *listen, DB: *db, Log: log,
		AccessKeyID: os.Getenv("PALISADE_ACCESS_KEY_ID"), AccessKeySecret: os.Getenv("PALISADE_ACCESS_KEY_SECRET")})
	if err != nil {
		fmt.Fprintln(stderr, "palisade serve:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Palisade is serving the ECS API (2014-05-26) and VPC API (2016-04-28) on http://%s/ with state in %s\n", srv.Addr, *db)
	if srv.KeyIsNew {
		fmt.Fprintf(stdout, "Created the first account's access key; it is shown only this once:\n  export PALISADE_ACCESS_KEY_ID=%s\n  export PALISADE_ACCESS_KEY_SECRET=%s\n", srv.Key.ID, srv.Key.Secret)
	} else {
		fmt.Fprintf(stdout, "First account's access key ID: %s\n", srv.Key.ID)
	}
	if err := srv.Serve(ctx); err != nil {
		fmt.Fprintln(stderr, "palisade serve:", err)
		return 1
	}
	return 0
}
