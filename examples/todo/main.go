// Command todo is the workshop's todo-list app written for berth: a small web app on port 3000
// that keeps its list in SQLite (/etc/todos/todo.db, or SQLITE_DB) or, when MYSQL_HOST is set, in
// MySQL/MariaDB (MYSQL_USER, MYSQL_PASSWORD, MYSQL_DB, each also as *_FILE).
//
// It serves GET/POST /items, PUT/DELETE /items/{id}, /healthz and a small front end at /.
// Run with -healthcheck it instead asks a running app's /healthz and exits 0 or 1, so an image
// without a shell can still have a HEALTHCHECK.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", ":3000", "address to listen on (and, with -healthcheck, to ask)")
	health := flag.Bool("healthcheck", false, "ask the app listening on -addr for /healthz; exit 0 if healthy, 1 if not")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "todo: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if *health {
		if err := healthcheck(*addr); err != nil {
			fmt.Fprintln(os.Stderr, "todo: unhealthy:", err)
			os.Exit(1)
		}
		return
	}
	logger := log.New(os.Stdout, "", log.LstdFlags)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, *addr, os.Getenv, logger); err != nil {
		logger.Printf("todo: %v", err)
		os.Exit(1)
	}
}

// run opens the store the environment asks for, serves until ctx ends, then shuts down: requests
// in flight get a few seconds to finish, and the database is closed.
func run(ctx context.Context, addr string, getenv func(string) string, logger *log.Logger) error {
	store, err := openStore(ctx, getenv, logger)
	if err != nil {
		if ctx.Err() != nil {
			// Told to stop while waiting for the database: a normal stop, not a failure.
			logger.Printf("Stopped before the database was ready")
			return nil
		}
		return err
	}
	defer store.Close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return serve(ctx, ln, store, logger)
}

// serve answers on ln until ctx ends or serving fails.
func serve(ctx context.Context, ln net.Listener, store *Store, logger *log.Logger) error {
	srv := &http.Server{
		Handler:           (&server{store: store, log: logger}).routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger,
	}
	logger.Printf("Listening on %s", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Printf("Shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// openStore picks MySQL when MYSQL_HOST (or MYSQL_HOST_FILE) is set, else SQLite, and logs which.
func openStore(ctx context.Context, getenv func(string) string, logger *log.Logger) (*Store, error) {
	cfg, useMySQL, err := mysqlFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	if useMySQL {
		s, err := openMySQL(ctx, cfg, defaultWait, stdLogf(logger))
		if err != nil {
			return nil, err
		}
		logger.Printf("Using mysql database %s at %s as %s", cfg.DB, cfg.Host, cfg.User)
		return s, nil
	}
	path := getenv("SQLITE_DB")
	if path == "" {
		path = defaultSQLitePath
	}
	s, err := openSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	logger.Printf("Using sqlite database at %s", path)
	return s, nil
}

// healthcheck asks the app on addr for /healthz.
func healthcheck(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz: %s: %s", resp.Status, body)
	}
	return nil
}
