package graphtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// Protocols a subscription client can speak.
const (
	TransportWS = "graphql-transport-ws"
	LegacyWS    = "graphql-ws"
	SSE         = "sse"
)

// Sub is one open subscription.
type Sub struct {
	t      testing.TB
	next   chan Response
	cancel context.CancelFunc
	done   chan struct{}
}

// Next waits for the next payload.
func (s *Sub) Next(timeout time.Duration) (Response, bool) {
	s.t.Helper()
	select {
	case r, ok := <-s.next:
		return r, ok
	case <-time.After(timeout):
		return Response{}, false
	}
}

// Close ends the subscription and its connection.
func (s *Sub) Close() {
	s.cancel()
	<-s.done
}

// Subscribe opens query over protocol against httpURL (the /query endpoint).
func Subscribe(t testing.TB, protocol, httpURL, query string, vars map[string]any) *Sub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sub{t: t, next: make(chan Response, 1024), cancel: cancel, done: make(chan struct{})}
	var err error
	if protocol == SSE {
		err = s.startSSE(ctx, httpURL, query, vars)
	} else {
		err = s.startWS(ctx, protocol, httpURL, query, vars)
	}
	if err != nil {
		cancel()
		t.Fatalf("subscribe over %s: %v", protocol, err)
	}
	t.Cleanup(s.Close)
	return s
}

// Dial opens a websocket with a subprotocol, for protocol-level tests.
func Dial(ctx context.Context, protocol, httpURL string) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(httpURL, "http"), &websocket.DialOptions{Subprotocols: []string{protocol}})
	return c, err
}

type wsMsg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func (s *Sub) startWS(ctx context.Context, protocol, httpURL, query string, vars map[string]any) error {
	c, err := Dial(ctx, protocol, httpURL)
	if err != nil {
		return err
	}
	c.SetReadLimit(16 << 20)
	if err := wsjson.Write(ctx, c, wsMsg{Type: "connection_init"}); err != nil {
		return err
	}
	for {
		var m wsMsg
		if err := wsjson.Read(ctx, c, &m); err != nil {
			return fmt.Errorf("waiting for ack: %w", err)
		}
		if m.Type == "connection_ack" {
			break
		}
	}
	start := "subscribe"
	if protocol == LegacyWS {
		start = "start"
	}
	payload, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err := wsjson.Write(ctx, c, wsMsg{ID: "1", Type: start, Payload: payload}); err != nil {
		return err
	}
	go s.readWS(ctx, c)
	return nil
}

func (s *Sub) readWS(ctx context.Context, c *websocket.Conn) {
	defer close(s.done)
	defer close(s.next)
	defer c.CloseNow()
	for {
		var m wsMsg
		if err := wsjson.Read(ctx, c, &m); err != nil {
			return
		}
		switch m.Type {
		case "ping":
			_ = wsjson.Write(ctx, c, wsMsg{Type: "pong"})
		case "next", "data", "error":
			var r Response
			if m.Type == "error" {
				_ = json.Unmarshal(m.Payload, &r.Errors)
			} else {
				_ = json.Unmarshal(m.Payload, &r)
			}
			r.Raw = string(m.Payload)
			s.next <- r
		case "complete":
			return
		}
	}
}

func (s *Sub) startSSE(ctx context.Context, httpURL, query string, vars map[string]any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, httpURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	go func() {
		defer close(s.done)
		defer close(s.next)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "event: complete") {
				return
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok || data == "" {
				continue
			}
			var r Response
			_ = json.Unmarshal([]byte(data), &r)
			r.Raw = data
			s.next <- r
		}
	}()
	return nil
}
