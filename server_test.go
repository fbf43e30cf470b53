package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry/gantry/migrations"
	"github.com/gantry/gantry/store"
)

func TestCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage"},
		{[]string{"launch"}, `unknown command "launch"`},
		{[]string{"serve", "--addr", "nonsense"}, "bad --addr"},
		{[]string{"serve", "--database", "mysql://x"}, `unsupported database URL scheme "mysql"`},
		{[]string{"serve", "--log-format", "xml"}, "bad log format"},
		{[]string{"serve", "--database", "postgres://u:hunter2@127.0.0.1:1/db", "--addr", "127.0.0.1:0"}, "127.0.0.1:1"},
		{[]string{"serve", "--prices", filepath.Join(t.TempDir(), "missing.json")}, "bad --prices: price table: open"},
		{[]string{"serve", "--prices", "go.mod"}, "bad --prices: price table go.mod"},
		{[]string{"migrate", "sideways"}, "want up, down [N] or status"},
		{[]string{"migrate", "--database", "sqlite:" + filepath.Join(t.TempDir(), "x.db"), "down", "zero"}, "positive number"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to mention %q", tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%v: error echoes the database password: %v", tc.args, err)
		}
	}
}

func TestMigrateCommand(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
	n, err := migrations.Latest(store.SQLite)
	if err != nil || n < 4 {
		t.Fatalf("latest migration %d, %v", n, err)
	}
	v := func(i uint) string { return fmt.Sprintf("version %d of %d", i, n) }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, v(0)},
		{[]string{"up"}, v(n) + ", dirty=false"},
		{[]string{"down", "2"}, v(n - 2)},
		{[]string{"down"}, v(n - 3)},
		{[]string{"up"}, v(n)},
	} {
		var out bytes.Buffer
		args := append([]string{"migrate", "--database", db}, tc.args...)
		if err := run(context.Background(), args, &out, io.Discard); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Fatalf("%v: %q, want %q", tc.args, out.String(), tc.want)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeStartsAndStops runs `gantry serve` on a fresh SQLite file, as a
// new user would, and shuts it down gracefully.
func TestServeStartsAndStops(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--database", "sqlite:" + filepath.Join(t.TempDir(), "g.db"), "--log-format", "json"}, io.Discard, &syncWriter{w: &logs})
	}()
	base := "http://" + addr
	waitFor(t, base+"/readyz")
	resp, err := http.Post(base+"/query", "application/json", strings.NewReader(`{"query":"{ executorHosts { totalCount } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"totalCount":0`) {
		t.Fatalf("query: %s", body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down")
	}
}

func waitFor(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", url)
}
