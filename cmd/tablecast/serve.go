package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/tablecast/tablecast/internal/config"
	"github.com/tablecast/tablecast/internal/gcpace"
	"github.com/tablecast/tablecast/internal/server"
)

const serveUsage = `usage: tablecast serve [flags]

Runs the server. Every flag is also an environment variable (in brackets);
the flag wins. docs/configuration.md describes each setting.

flags:
`

const migrateUsage = `usage: tablecast migrate [--database-url URL]

Applies the store's migrations to TABLECAST_DATABASE_URL and exits. It reads
the settings of serve (below) but uses only the database URL.

flags:
`

// printSettings prints a command's usage and the flags of every setting.
func printSettings(w io.Writer, usage string) {
	fmt.Fprint(w, usage)
	fs := config.FlagSet("serve")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func serve(args []string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		printSettings(stdout, serveUsage)
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	if cfg.Dev {
		generated, err := cfg.ApplyDevDefaults(nil)
		if err != nil {
			return err
		}
		log.Warn("dev mode: insecure (any origin, user_id without a token, generated secrets); never use it in production")
		for _, name := range generated {
			switch name {
			case "TABLECAST_JWT_SECRET":
				fmt.Fprintf(stderr, "dev: generated TABLECAST_JWT_SECRET=%s\n", cfg.JWTSecret)
			case "TABLECAST_API_KEY":
				fmt.Fprintf(stderr, "dev: generated TABLECAST_API_KEY=%s\n", cfg.APIKey)
			}
		}
	}
	log.Info("configuration", "config", cfg)
	// The collector's pacing is the process's: serve owns it, not the
	// node (tests run several nodes in one process).
	pacer := gcpace.Start(gcpace.Config{Headroom: uint64(cfg.GCHeadroom), Logger: log})
	defer pacer.Stop()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	node, err := server.New(ctx, cfg, server.Options{Logger: log})
	if err != nil {
		return err
	}
	if err := node.Start(ctx, nil); err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := node.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func migrate(args []string, stdout io.Writer) error {
	cfg, err := config.Load(args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		printSettings(stdout, migrateUsage)
		return nil
	}
	if errors.Is(err, config.ErrNoJWTKey) {
		// Migrating needs no key: load again with a placeholder so that the
		// other settings are still checked.
		cfg, err = config.Load(append(args, "--jwt-secret", "unused-by-migrate"), os.Getenv)
	}
	if err != nil {
		return err
	}
	st, err := server.OpenStore(context.Background(), cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "tablecast migrate: %s is up to date\n", redactedURL(cfg.DatabaseURL))
	return nil
}

// redactedURL hides a password in a database URL.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
