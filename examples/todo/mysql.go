package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mysqlConfig is the MySQL connection the environment asks for.
type mysqlConfig struct {
	Host     string // host, host:port (3306 by default) or, starting with "/", a unix socket path
	User     string
	Password string
	DB       string
}

// mysqlFromEnv reads MYSQL_HOST, MYSQL_USER, MYSQL_PASSWORD and MYSQL_DB, each of which may instead
// be read from the file named by the same variable with _FILE appended (for secrets). ok is false
// when MYSQL_HOST (or MYSQL_HOST_FILE) is unset: the app then uses SQLite.
func mysqlFromEnv(getenv func(string) string) (cfg mysqlConfig, ok bool, err error) {
	fields := []struct {
		name string
		dst  *string
	}{
		{"MYSQL_HOST", &cfg.Host}, {"MYSQL_USER", &cfg.User}, {"MYSQL_PASSWORD", &cfg.Password}, {"MYSQL_DB", &cfg.DB},
	}
	for _, f := range fields {
		if *f.dst, err = envOrFile(getenv, f.name); err != nil {
			return mysqlConfig{}, false, err
		}
	}
	if cfg.Host == "" {
		return mysqlConfig{}, false, nil
	}
	if cfg.User == "" {
		return mysqlConfig{}, false, errors.New("MYSQL_HOST is set but MYSQL_USER (or MYSQL_USER_FILE) is not")
	}
	if cfg.DB == "" {
		return mysqlConfig{}, false, errors.New("MYSQL_HOST is set but MYSQL_DB (or MYSQL_DB_FILE) is not")
	}
	return cfg, true, nil
}

// envOrFile returns the variable name, or the contents of the file named by name_FILE without its
// trailing newlines (as the MySQL image's entrypoint reads its *_FILE variables). Both set is an error.
func envOrFile(getenv func(string) string, name string) (string, error) {
	val, file := getenv(name), getenv(name+"_FILE")
	if file == "" {
		return val, nil
	}
	if val != "" {
		return "", fmt.Errorf("both %s and %s_FILE are set; set only one", name, name)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// network and address for the driver: a path is a unix socket, a host without a port gets 3306.
func (c mysqlConfig) netAddr() (string, string) {
	if strings.HasPrefix(c.Host, "/") {
		return "unix", c.Host
	}
	if _, _, err := net.SplitHostPort(c.Host); err == nil {
		return "tcp", c.Host
	}
	return "tcp", net.JoinHostPort(strings.Trim(c.Host, "[]"), "3306")
}

// waitPolicy bounds how long openMySQL waits for the server to accept connections.
type waitPolicy struct {
	Timeout  time.Duration // total time to keep trying
	Interval time.Duration // pause between tries
}

// defaultWait covers a database container that is still initialising when the app starts.
var defaultWait = waitPolicy{Timeout: 60 * time.Second, Interval: time.Second}

// openMySQL connects to the server, waiting (and logging each failed try) until it accepts
// connections or the wait's timeout passes, then creates the todo_items table if missing.
func openMySQL(ctx context.Context, c mysqlConfig, wait waitPolicy, logf func(string, ...interface{})) (*Store, error) {
	dc := mysql.NewConfig()
	dc.User, dc.Passwd, dc.DBName = c.User, c.Password, c.DB
	dc.Net, dc.Addr = c.netAddr()
	dc.Timeout = 5 * time.Second
	dc.Params = map[string]string{"charset": "utf8mb4"}
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		return nil, fmt.Errorf("mysql %s: %w", c.Host, err)
	}
	db := sql.OpenDB(conn)
	if err := waitForServer(ctx, db, wait, c.Host, logf); err != nil {
		db.Close()
		return nil, err
	}
	s, err := newStore(ctx, db, "mysql", " DEFAULT CHARSET utf8mb4", "")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (host %s, database %s)", err, c.Host, c.DB)
	}
	return s, nil
}

func waitForServer(ctx context.Context, db *sql.DB, wait waitPolicy, host string, logf func(string, ...interface{})) error {
	deadline := time.Now().Add(wait.Timeout)
	for try := 1; ; try++ {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := db.PingContext(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if permanent(err) {
			return fmt.Errorf("mysql %s: %w", host, err)
		}
		if time.Now().Add(wait.Interval).After(deadline) {
			return fmt.Errorf("mysql %s: not accepting connections after %s (%d tries): %w", host, wait.Timeout, try, err)
		}
		logf("Waiting for mysql at %s (try %d): %v", host, try, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("mysql %s: %w", host, ctx.Err())
		case <-time.After(wait.Interval):
		}
	}
}

// permanent tells the errors that waiting cannot fix: the server answered and said no.
func permanent(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1044, 1045, 1049: // access denied to database, access denied for user, unknown database
		return true
	}
	return false
}

// stdLogf adapts the log package to openMySQL's logf.
func stdLogf(l *log.Logger) func(string, ...interface{}) {
	return func(format string, args ...interface{}) { l.Printf(format, args...) }
}
