package graph_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/google/uuid"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/events"
	"github.com/gantry/gantry/graph"
	"github.com/gantry/gantry/graph/graphtest"
	"github.com/gantry/gantry/store"
	"github.com/gantry/gantry/store/storetest"
)

const eventsSub = `subscription($where: JobEventWhereInput, $after: Cursor) {
  jobEvents(where: $where, after: $after) { job { id } fromStatus toStatus sequence cursor reason }
}`

func submit(t *testing.T, c graphtest.Client, in map[string]any) string {
	t.Helper()
	d := c.OK(t, `mutation($in: SubmitJobInput!) { submitJob(input: $in) { job { id } } }`, map[string]any{"in": in})
	return graphtest.Get(d, "submitJob.job.id").(string)
}

// collect reads jobEvents payloads until want statuses arrived for job.
func collect(t *testing.T, s *graphtest.Sub, job string, n int) []map[string]any {
	t.Helper()
	var got []map[string]any
	for len(got) < n {
		r, ok := s.Next(20 * time.Second)
		if !ok {
			t.Fatalf("stream ended or stalled after %d events: %v", len(got), got)
		}
		if len(r.Errors) > 0 {
			t.Fatalf("subscription error: %s", r.Raw)
		}
		ev, _ := graphtest.Get(r.Data, "jobEvents").(map[string]any)
		if graphtest.Get(ev, "job.id") == job {
			got = append(got, ev)
		}
	}
	return got
}

func statusesOf(evs []map[string]any) string {
	var s []string
	for _, e := range evs {
		s = append(s, fmt.Sprint(e["toStatus"]))
	}
	return strings.Join(s, " ")
}

func TestSubscriptionsOverEveryTransport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		c := newDispatchingServer(t, dialect)
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "m", "executorType": "mock", "maxConcurrentJobs": 5}})
		for _, proto := range []string{graphtest.TransportWS, graphtest.LegacyWS, graphtest.SSE} {
			t.Run(proto, func(t *testing.T) {
				s := graphtest.Subscribe(t, proto, c.URL, eventsSub, nil)
				time.Sleep(100 * time.Millisecond) // let the subscription register
				id := submit(t, c, map[string]any{"image": "x", "environment": map[string]any{"GANTRY_TEST_SLEEP_MS": "50"}})
				got := collect(t, s, id, 4)
				if statusesOf(got) != "queued launching running completed" {
					t.Fatalf("events %s", statusesOf(got))
				}
				for i := 1; i < len(got); i++ {
					if got[i]["sequence"].(float64) <= got[i-1]["sequence"].(float64) || got[i]["fromStatus"] != got[i-1]["toStatus"] {
						t.Fatalf("events out of order: %v", got)
					}
				}

				// Cancel a running job: cancelling, then cancelled.
				long := submit(t, c, map[string]any{"image": "x", "environment": map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}})
				collect(t, s, long, 3)
				c.OK(t, `mutation($id: ID!) { cancelJob(input: {jobID: $id}) { job { id } } }`, map[string]any{"id": long})
				if got := statusesOf(collect(t, s, long, 2)); got != "cancelling cancelled" {
					t.Fatalf("cancel events %s", got)
				}
			})
		}
	})
}

func TestJobUpdatedStartsWithCurrentState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		c := newDispatchingServer(t, dialect)
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "m", "executorType": "mock"}})
		at := time.Now().Add(400 * time.Millisecond).UTC().Format(time.RFC3339Nano)
		id := submit(t, c, map[string]any{"image": "x", "scheduledFor": at})
		s := graphtest.Subscribe(t, graphtest.TransportWS, c.URL, `subscription($id: ID!) { jobUpdated(id: $id) { id status exitCode } }`, map[string]any{"id": id})
		var seen []string
		for {
			r, ok := s.Next(20 * time.Second)
			if !ok {
				t.Fatalf("stream ended after %v", seen)
			}
			st := graphtest.Get(r.Data, "jobUpdated.status").(string)
			if len(seen) == 0 || seen[len(seen)-1] != st {
				seen = append(seen, st)
			}
			if st == "completed" {
				break
			}
		}
		if seen[0] != "queued" {
			t.Errorf("first state %v, want the current (queued)", seen)
		}
	})
}

// TestResumeAfterDisconnect disconnects mid-stream and resumes from the
// last cursor: exactly the missed events arrive, no gap, no duplicate.
func TestResumeAfterDisconnect(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		c := newDispatchingServer(t, dialect)
		c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "m", "executorType": "mock"}})
		id := submit(t, c, map[string]any{"image": "x", "environment": map[string]any{"GANTRY_TEST_SLEEP_MS": "400"}})
		where := map[string]any{"jobID": id}
		s := graphtest.Subscribe(t, graphtest.TransportWS, c.URL, eventsSub, map[string]any{"where": where, "after": firstCursor(t, c, id)})
		first := collect(t, s, id, 2) // replayed: launching, running (after queued)
		s.Close()
		if statusesOf(first) != "launching running" {
			t.Fatalf("first part %s", statusesOf(first))
		}
		waitStatus(t, c, id, "completed")
		s2 := graphtest.Subscribe(t, graphtest.LegacyWS, c.URL, eventsSub, map[string]any{"where": where, "after": first[1]["cursor"]})
		rest := collect(t, s2, id, 1)
		if statusesOf(rest) != "completed" {
			t.Fatalf("resumed with %s", statusesOf(rest))
		}
		if r, ok := s2.Next(300 * time.Millisecond); ok {
			t.Fatalf("duplicate or extra event after resume: %s", r.Raw)
		}
	})
}

// firstCursor is the cursor of a job's first event, from the connection.
func firstCursor(t *testing.T, c graphtest.Client, job string) any {
	t.Helper()
	for range 100 {
		d := c.OK(t, `query($id: ID!) { jobEvents(where: {jobID: $id}, orderBy: {field: SEQUENCE}) { edges { node { cursor toStatus } } } }`, map[string]any{"id": job})
		if cur := graphtest.Get(d, "jobEvents.edges.0.node.cursor"); cur != nil {
			return cur
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("job has no sequenced event")
	return nil
}

// TestSubscriberOnOtherReplica runs a subscriber on an API-only replica and
// the dispatcher on another: PostgreSQL NOTIFY carries the events across.
func TestSubscriberOnOtherReplica(t *testing.T) {
	if !contains(storetest.Dialects(), store.Postgres) {
		t.Skip("needs PostgreSQL; CI sets it")
	}
	url := storetest.URL(t, store.Postgres)
	api := serveReplica(t, storetest.OpenURL(t, url), false)
	worker := serveReplica(t, storetest.OpenURL(t, url), true)
	worker.OK(t, createHost, map[string]any{"in": map[string]any{"name": "m", "executorType": "mock"}})
	s := graphtest.Subscribe(t, graphtest.TransportWS, api.URL, eventsSub, nil)
	time.Sleep(100 * time.Millisecond)
	id := submit(t, api, map[string]any{"image": "x"})
	if got := statusesOf(collect(t, s, id, 4)); got != "queued launching running completed" {
		t.Fatalf("events on the API replica: %s", got)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestSubscriptionBadInput(t *testing.T) {
	c := newDispatchingServer(t, "sqlite")
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		want        string
	}{
		{"unknown job", `subscription { jobUpdated(id: "00000000-0000-0000-0000-000000000001") { id } }`, nil, "NOT_FOUND"},
		{"unknown host", `subscription { hostUpdated(id: "00000000-0000-0000-0000-000000000001") { id } }`, nil, "NOT_FOUND"},
		{"malformed cursor", eventsSub, map[string]any{"after": "!!not-a-cursor"}, "INVALID_INPUT"},
		{"unsupported filter", eventsSub, map[string]any{"where": map[string]any{"hasJob": true}}, "not supported"},
	} {
		for _, proto := range []string{graphtest.TransportWS, graphtest.SSE} {
			s := graphtest.Subscribe(t, proto, c.URL, tc.query, tc.vars)
			r, ok := s.Next(5 * time.Second)
			if !ok || len(r.Errors) == 0 || !strings.Contains(r.Raw, tc.want) {
				t.Errorf("%s over %s: %q (ok=%v), want an error mentioning %s", tc.name, proto, r.Raw, ok, tc.want)
			}
			s.Close()
		}
	}
	// A subscribe before connection_init closes the connection with a
	// protocol error (gqlgen answers 1002; the spec's 4401 is accepted too).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := graphtest.Dial(ctx, graphtest.TransportWS, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	_ = wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": eventsSub}})
	var m map[string]any
	err = wsjson.Read(ctx, conn, &m)
	if code := websocket.CloseStatus(err); code != websocket.StatusProtocolError && code != 4401 {
		t.Errorf("subscribe before init: read %v / %v, want a protocol-error close", m, err)
	}
}

// TestNoGoroutineLeak subscribes and unsubscribes 10,000 times; the
// goroutine count returns to its baseline.
func TestNoGoroutineLeak(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	broker := events.NewBroker(db, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- broker.Run(ctx) }()
	defer func() { cancel(); <-done }()
	r := &graph.Resolver{Client: db.Client, Broker: broker, Dispatcher: dispatch.New(db, dispatch.Options{})}
	job, _, err := r.Dispatcher.Submit(context.Background(), dispatch.SubmitInput{Image: ptrTo("x")})
	if err != nil {
		t.Fatal(err)
	}
	sub := r.Subscription()
	runtime.GC()
	base := runtime.NumGoroutine()
	seq := int64(0)
	for i := range 10_000 {
		sctx, scancel := context.WithCancel(context.Background())
		var ch any
		switch i % 3 {
		case 0:
			ch, err = sub.JobEvents(sctx, nil, nil)
		case 1:
			ch, err = sub.JobEvents(sctx, &ent.JobEventWhereInput{JobID: &job.ID}, &entgql.Cursor[uuid.UUID]{ID: uuid.New(), Value: seq})
		default:
			ch, err = sub.JobUpdated(sctx, job.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := ch.(<-chan *ent.ContainerJob); ok {
			<-c // the current state
		}
		scancel()
		drain(ch)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		t.Fatalf("%d goroutines after 10,000 cycles, baseline %d", n, base)
	}
	if n := broker.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers still registered", n)
	}
}

// drain waits for a subscription channel to close.
func drain(ch any) {
	switch c := ch.(type) {
	case <-chan *ent.JobEvent:
		for range c {
		}
	case <-chan *ent.ContainerJob:
		for range c {
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestHostUpdated pushes a host's capacity as jobs take and free its slots.
func TestHostUpdated(t *testing.T) {
	c := newDispatchingServer(t, "sqlite")
	h := c.OK(t, createHost, map[string]any{"in": map[string]any{"name": "m", "executorType": "mock", "maxConcurrentJobs": 3}})
	id := graphtest.Get(h, "createExecutorHost.executorHost.id")
	s := graphtest.Subscribe(t, graphtest.TransportWS, c.URL, `subscription($id: ID) { hostUpdated(id: $id) { name currentJobCount isAvailable } }`, map[string]any{"id": id})
	first, ok := s.Next(5 * time.Second)
	if !ok || graphtest.Get(first.Data, "hostUpdated.currentJobCount") != float64(0) {
		t.Fatalf("initial state: %s", first.Raw)
	}
	job := submit(t, c, map[string]any{"image": "x", "environment": map[string]any{"GANTRY_TEST_NEVER_EXIT": "1"}})
	seen := map[float64]bool{}
	for !seen[1] {
		r, ok := s.Next(10 * time.Second)
		if !ok {
			t.Fatalf("no capacity update; saw %v", seen)
		}
		seen[graphtest.Get(r.Data, "hostUpdated.currentJobCount").(float64)] = true
	}
	c.OK(t, `mutation($id: ID!) { cancelJob(input: {jobID: $id}) { job { id } } }`, map[string]any{"id": job})
	for {
		r, ok := s.Next(10 * time.Second)
		if !ok {
			t.Fatal("no update after the slot was freed")
		}
		if graphtest.Get(r.Data, "hostUpdated.currentJobCount") == float64(0) {
			return
		}
	}
}

// TestKeepAlivePings: an idle graphql-transport-ws connection gets pings;
// a client that stops answering them is dropped.
func TestKeepAlivePings(t *testing.T) {
	c := newDispatchingServer(t, "sqlite")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := graphtest.Dial(ctx, graphtest.TransportWS, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	_ = wsjson.Write(ctx, conn, map[string]any{"type": "connection_init"})
	pings := 0
	for pings < 2 {
		var m map[string]any
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			t.Fatalf("after %d pings: %v", pings, err)
		}
		if m["type"] == "ping" {
			pings++
			_ = wsjson.Write(ctx, conn, map[string]any{"type": "pong"})
		}
	}
	for { // stop answering: the server closes the connection
		var m map[string]any
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			if ctx.Err() != nil {
				t.Fatal("a client that ignores pings was not dropped")
			}
			return
		}
	}
}
