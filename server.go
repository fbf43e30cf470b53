// Command gantry is a GraphQL control plane for container jobs.
//
//	gantry serve   [--addr 127.0.0.1:8080] [--database sqlite:gantry.db] [--cors-origins …] [--log-format text|json]
//	gantry migrate [--database …] up | down [N] | status
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gantry/gantry/graph"
	"github.com/gantry/gantry/migrations"
	"github.com/gantry/gantry/routing"
	"github.com/gantry/gantry/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gantry:", err)
		stop()
		os.Exit(1)
	}
}

const usage = `usage:
  gantry serve   [flags]             run the API server (and its dispatcher)
  gantry migrate [flags] up          apply pending migrations
  gantry migrate [flags] down [N]    roll back N migrations (default 1)
  gantry migrate [flags] status      print the applied and latest versions
Run "gantry serve -h" for flags.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "migrate":
		return migrateCmd(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

// env returns the environment value of key, or def.
func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

type serveConfig struct {
	addr        string
	database    string
	corsOrigins string
	logFormat   string
	logLevel    string
	dispatch    bool
	prices      routing.PriceTable
}

func serveFlags(args []string, stderr io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", env("GANTRY_ADDR", "127.0.0.1:8080"), "listen address (GANTRY_ADDR)")
	fs.StringVar(&c.database, "database", env("GANTRY_DATABASE_URL", "sqlite:gantry.db"), "database URL: sqlite:PATH or postgres://… (GANTRY_DATABASE_URL)")
	fs.StringVar(&c.corsOrigins, "cors-origins", env("GANTRY_CORS_ORIGINS", ""), "comma-separated browser origins allowed besides the server's own, or * (GANTRY_CORS_ORIGINS)")
	fs.StringVar(&c.logFormat, "log-format", env("GANTRY_LOG_FORMAT", "text"), "log format: text or json (GANTRY_LOG_FORMAT)")
	fs.StringVar(&c.logLevel, "log-level", env("GANTRY_LOG_LEVEL", "info"), "log level: debug, info, warn, error (GANTRY_LOG_LEVEL)")
	fs.BoolVar(&c.dispatch, "dispatch", env("GANTRY_DISPATCH", "true") != "false", "run the dispatcher in this replica (GANTRY_DISPATCH)")
	prices := fs.String("prices", env("GANTRY_PRICES_FILE", ""), "provider price table (JSON) for cloud hosts without fixed prices; empty: the built-in one (GANTRY_PRICES_FILE)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	// A bad price table would silently leave every cloud cost unknown:
	// refuse to start instead.
	var err error
	if c.prices, err = routing.LoadPrices(*prices); err != nil {
		return c, fmt.Errorf("bad --prices: %w", err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return c, fmt.Errorf("bad --addr %q: want HOST:PORT", c.addr)
	}
	return c, nil
}

func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("bad log format %q: want text or json", format)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := serveFlags(args, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.logFormat, cfg.logLevel, stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(log)

	app, err := openApp(ctx, cfg.database, cfg.prices)
	if err != nil {
		return err
	}
	defer app.Close()

	handler := graph.NewHandler(app.resolver(), graph.Options{
		AllowedOrigins: splitList(cfg.corsOrigins),
		Ready:          app.ready,
	})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	brokered := make(chan error, 1)
	go func() { brokered <- app.broker.Run(ctx) }()
	dispatched := make(chan error, 1)
	if cfg.dispatch {
		go func() { dispatched <- app.disp.Run(ctx) }()
	} else {
		close(dispatched)
	}
	err = listenAndServe(ctx, cfg.addr, logRequests(handler))
	cancel()
	return errors.Join(err, <-dispatched, <-brokered)
}

// listenAndServe serves until ctx ends, then drains for up to 15 seconds.
func listenAndServe(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	slog.Info("gantry serving", "addr", "http://"+ln.Addr().String()+"/", "graphql", "/query")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	database := fs.String("database", env("GANTRY_DATABASE_URL", "sqlite:gantry.db"), "database URL (GANTRY_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := store.Parse(*database)
	if err != nil {
		return err
	}
	mg, err := migrations.Open(cfg)
	if err != nil {
		return err
	}
	defer mg.Close()
	switch fs.Arg(0) {
	case "up":
		err = mg.Up(ctx)
	case "down":
		n := 1
		if fs.NArg() > 1 {
			if n, err = strconv.Atoi(fs.Arg(1)); err != nil || n <= 0 {
				return fmt.Errorf("down: N must be a positive number, got %q", fs.Arg(1))
			}
		}
		err = mg.Down(ctx, n)
	case "status":
	default:
		return fmt.Errorf("migrate: want up, down [N] or status\n%s", usage)
	}
	if err != nil {
		return err
	}
	st, err := mg.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s: version %d of %d, dirty=%v\n", cfg.Display, st.Version, st.Latest, st.Dirty)
	return nil
}
