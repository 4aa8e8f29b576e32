package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/tablecast/tablecast/internal/config"
	"github.com/tablecast/tablecast/internal/server"
)

func serve(args []string, stderr io.Writer) error {
	cfg, err := config.Load(args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		fs := config.FlagSet("serve")
		fs.SetOutput(stderr)
		fs.PrintDefaults()
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
	node, err := server.New(cfg, server.Options{Logger: log})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
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

func migrate(_ []string, stdout io.Writer) error {
	// The table store (and its migrations) is not part of this build yet.
	fmt.Fprintln(stdout, "tablecast migrate: this build has no table store, so there is nothing to migrate")
	return nil
}
