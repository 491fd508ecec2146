// Command ferretdb-launcher runs FerretDB (MongoDB wire protocol) on its SQLite backend for the
// native dev stack (infra/native/stack.sh).
//
// Why a launcher instead of `go install .../cmd/ferretdb`: the upstream command panics at start
// when built outside FerretDB's own tree, because it requires a generated build/version/version.txt.
// The embeddable package github.com/FerretDB/FerretDB/ferretdb has no such requirement.
//
// By default FerretDB listens on a random loopback port and this launcher fronts it on -listen,
// running write commands one at a time across connections (see serialize.go for why).
//
//	ferretdb-launcher -listen 127.0.0.1:27017 -sqlite-dir .stack/data/mongo -log-level error
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	sqliteDir := flag.String("sqlite-dir", "data", "directory that holds one SQLite file per database")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn or error")
	serialize := flag.Bool("serialize-writes", true, "run write commands one at a time (see serialize.go)")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: bad -log-level %q: %v\n", *logLevel, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if err := run(*listen, *sqliteDir, *serialize, logger); err != nil {
		logger.Error("ferretdb-launcher failed", "error", err)
		os.Exit(1)
	}
}

func run(listen, sqliteDir string, serialize bool, logger *slog.Logger) error {
	dir, err := filepath.Abs(sqliteDir)
	if err != nil {
		return err
	}
	if err = os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	// FerretDB wants a SQLite URI naming a directory, with a trailing slash.
	sqliteURL := "file:" + strings.TrimSuffix(dir, "/") + "/"

	// With serialization FerretDB itself listens on a random loopback port and only our front
	// listens on the public address; it opens after FerretDB is ready, so "port open" means ready.
	ferretListen := listen
	if serialize {
		ferretListen = "127.0.0.1:0"
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: ferretListen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx) // returns once ctx is cancelled and everything is closed
	}()

	if serialize {
		// MongoDBURI blocks until FerretDB's listener is up.
		u, err := url.Parse(f.MongoDBURI())
		if err != nil {
			return err
		}

		l, err := net.Listen("tcp", listen)
		if err != nil {
			stop()
			<-done
			return err
		}
		go func() {
			<-ctx.Done()
			l.Close()
		}()

		s := &serializer{backend: u.Host, logger: logger}
		go func() {
			if err := s.serve(l); err != nil {
				logger.Error("front listener failed", "error", err)
				stop()
			}
		}()
	}

	// Printed unconditionally (not via the leveled logger): stack.sh waits for this line.
	fmt.Fprintf(os.Stderr, "ferretdb-launcher ready: listen=%s sqlite=%s serialize-writes=%t\n", listen, sqliteURL, serialize)

	<-done
	fmt.Fprintln(os.Stderr, "ferretdb-launcher stopped")

	return nil
}
