// Package graphtest is a small GraphQL-over-HTTP client for tests.
package graphtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the error's extensions.code.
func (e Error) Code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// Response is a decoded GraphQL response plus its raw body.
type Response struct {
	Data   map[string]any `json:"data"`
	Errors []Error        `json:"errors"`
	Raw    string         `json:"-"`
}

// Client posts operations to a GraphQL endpoint.
type Client struct {
	URL  string
	HTTP *http.Client
}

// Do posts query with vars and decodes the answer.
func (c Client) Do(t testing.TB, query string, vars map[string]any) Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Post(c.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r Response
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
	r.Raw = string(raw)
	return r
}

// OK runs query and fails the test on any GraphQL error.
func (c Client) OK(t testing.TB, query string, vars map[string]any) map[string]any {
	t.Helper()
	r := c.Do(t, query, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %s", r.Raw)
	}
	return r.Data
}

// Fail runs query and returns its first error, failing the test if none.
func (c Client) Fail(t testing.TB, query string, vars map[string]any) Error {
	t.Helper()
	r := c.Do(t, query, vars)
	if len(r.Errors) == 0 {
		t.Fatalf("want an error, got %s", r.Raw)
	}
	return r.Errors[0]
}

// Get walks a decoded JSON value by dotted path ("a.b.0.c").
func Get(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch m := v.(type) {
		case map[string]any:
			v = m[p]
		case []any:
			i := 0
			for _, ch := range p {
				i = i*10 + int(ch-'0')
			}
			if i >= len(m) {
				return nil
			}
			v = m[i]
		default:
			return nil
		}
	}
	return v
}
