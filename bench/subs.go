package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// subscriptions runs a real `gantry serve` (SQLite), queues filler jobs
// that cannot be placed, opens subs websocket subscriptions each watching
// one job, lets those jobs run, and reports event→subscriber latency and
// the server's RSS.
func subscriptions(subs, filler int) error {
	dir, err := os.MkdirTemp("", "gantry-subs")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "gantry")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v: %s", err, out)
	}
	addr, err := freePort()
	if err != nil {
		return err
	}
	srv := exec.Command(bin, "serve", "--addr", addr, "--database", "sqlite:"+filepath.Join(dir, "g.db"), "--log-level", "warn")
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	api := "http://" + addr + "/query"
	if err := waitReady("http://" + addr + "/readyz"); err != nil {
		return err
	}
	if _, err := gql(api, `mutation { createExecutorHost(input: {name: "m", executorType: mock, maxConcurrentJobs: 100}) { executorHost { id } } }`, nil); err != nil {
		return err
	}
	if err := submitMany(api, filler, map[string]any{"image": "x", "priority": 0, "preferredExecutor": "fargate"}); err != nil {
		return err
	}
	// The watched jobs start 10 ms apart: a steady flow of ~100 jobs/s
	// (300 events/s) once every subscription is open.
	base := time.Now().Add(time.Duration(subs/40+8) * time.Second)
	ids, err := submitIDs(api, subs, func(i int) map[string]any {
		return map[string]any{"image": "x", "priority": 100, "scheduledFor": base.Add(time.Duration(i) * 10 * time.Millisecond).UTC().Format(time.RFC3339Nano),
			"environment": map[string]any{"GANTRY_TEST_SLEEP_MS": "200"}}
	})
	if err != nil {
		return err
	}
	lats, rss, err := watch(addr, ids, srv.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("sqlite   %d websocket subscriptions (one job each, jobs starting 10 ms apart), %d unplaceable queued jobs: event→subscriber p50 %s p99 %s (%d events); server RSS %d MB with all subscribed\n",
		subs, filler, pct(lats, 50), pct(lats, 99), len(lats), rss>>20)
	return nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(url string) error {
	for range 300 {
		if r, err := http.Get(url); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("server not ready")
}

func gql(url, query string, vars map[string]any) (map[string]any, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if len(out.Errors) > 0 {
		return nil, fmt.Errorf("graphql: %v", out.Errors)
	}
	return out.Data, nil
}

func submitMany(url string, n int, in map[string]any) error {
	_, err := submitIDs(url, n, func(int) map[string]any { return in })
	return err
}

func submitIDs(url string, n int, input func(i int) map[string]any) ([]string, error) {
	ids := make([]string, n)
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				d, err := gql(url, `mutation($in: SubmitJobInput!) { submitJob(input: $in) { job { id } } }`, map[string]any{"in": input(i)})
				if err != nil {
					errc <- err
					return
				}
				ids[i] = d["submitJob"].(map[string]any)["job"].(map[string]any)["id"].(string)
			}
		}()
	}
	wg.Wait()
	close(errc)
	return ids, <-errc
}

type wsMsg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// watch subscribes to every job, waits for each to complete, and returns
// the latencies from event creation to receipt, and the server RSS.
func watch(addr string, ids []string, pid int) ([]time.Duration, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var lats []time.Duration
	var wg, subscribed sync.WaitGroup
	errc := make(chan error, len(ids))
	for _, id := range ids {
		wg.Add(1)
		subscribed.Add(1)
		go func() {
			defer wg.Done()
			got, err := follow(ctx, addr, id, &subscribed)
			if err != nil {
				errc <- err
				return
			}
			mu.Lock()
			lats = append(lats, got...)
			mu.Unlock()
		}()
	}
	subscribed.Wait()
	time.Sleep(500 * time.Millisecond)
	rss := rssOf(pid)
	wg.Wait()
	close(errc)
	return lats, rss, <-errc
}

func follow(ctx context.Context, addr, id string, subscribed *sync.WaitGroup) ([]time.Duration, error) {
	once := sync.OnceFunc(subscribed.Done)
	defer once()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/query", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	defer c.CloseNow()
	_ = wsjson.Write(ctx, c, wsMsg{Type: "connection_init"})
	var ack wsMsg
	if err := wsjson.Read(ctx, c, &ack); err != nil {
		return nil, err
	}
	payload, _ := json.Marshal(map[string]any{"query": `subscription($id: ID!) { jobEvents(where: {jobID: $id}) { toStatus createdAt } }`,
		"variables": map[string]any{"id": id}})
	if err := wsjson.Write(ctx, c, wsMsg{ID: "1", Type: "subscribe", Payload: payload}); err != nil {
		return nil, err
	}
	once()
	var lats []time.Duration
	for {
		var m wsMsg
		if err := wsjson.Read(ctx, c, &m); err != nil {
			return nil, err
		}
		if m.Type == "ping" {
			_ = wsjson.Write(ctx, c, wsMsg{Type: "pong"})
			continue
		}
		if m.Type != "next" {
			continue
		}
		var p struct {
			Data struct {
				JobEvents struct {
					ToStatus  string    `json:"toStatus"`
					CreatedAt time.Time `json:"createdAt"`
				} `json:"jobEvents"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			return nil, err
		}
		lats = append(lats, time.Since(p.Data.JobEvents.CreatedAt))
		if p.Data.JobEvents.ToStatus == "completed" {
			return lats, nil
		}
	}
}

func rssOf(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}
