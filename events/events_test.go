package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gantry/gantry/dispatch"
	"github.com/gantry/gantry/ent"
	st "github.com/gantry/gantry/ent/schematype"
	"github.com/gantry/gantry/events"
	"github.com/gantry/gantry/store/storetest"
)

func ptr[T any](v T) *T { return &v }

func TestMatcher(t *testing.T) {
	job, host := uuid.New(), uuid.New()
	queued := st.StatusQueued
	ev := &ent.JobEvent{ID: uuid.New(), Sequence: ptr(int64(7)), JobID: job, FromStatus: &queued, ToStatus: st.StatusLaunching,
		Reason: "Default policy", HostID: &host, ExecutorType: st.ExecutorMock, Attempt: 2, CreatedAt: time.Now()}
	other := uuid.New()
	for _, tc := range []struct {
		name string
		w    *ent.JobEventWhereInput
		want bool
	}{
		{"nil", nil, true},
		{"job", &ent.JobEventWhereInput{JobID: &job}, true},
		{"other job", &ent.JobEventWhereInput{JobID: &other}, false},
		{"job in", &ent.JobEventWhereInput{JobIDIn: []uuid.UUID{other, job}}, true},
		{"status in", &ent.JobEventWhereInput{ToStatusIn: []st.JobStatus{st.StatusRunning, st.StatusLaunching}}, true},
		{"status not in", &ent.JobEventWhereInput{ToStatusNotIn: []st.JobStatus{st.StatusLaunching}}, false},
		{"executor type", &ent.JobEventWhereInput{ExecutorType: ptr(st.ExecutorDocker)}, false},
		{"host", &ent.JobEventWhereInput{HostID: &host}, true},
		{"host is nil", &ent.JobEventWhereInput{HostIDIsNil: true}, false},
		{"attempt gte", &ent.JobEventWhereInput{AttemptGTE: ptr(2)}, true},
		{"attempt lt", &ent.JobEventWhereInput{AttemptLT: ptr(2)}, false},
		{"sequence gt", &ent.JobEventWhereInput{SequenceGT: ptr(int64(6))}, true},
		{"reason fold", &ent.JobEventWhereInput{ReasonContainsFold: ptr("POLICY")}, true},
		{"not", &ent.JobEventWhereInput{Not: &ent.JobEventWhereInput{JobID: &job}}, false},
		{"or", &ent.JobEventWhereInput{Or: []*ent.JobEventWhereInput{{JobID: &other}, {HostID: &host}}}, true},
		{"and", &ent.JobEventWhereInput{And: []*ent.JobEventWhereInput{{JobID: &job}, {ExecutorType: ptr(st.ExecutorDocker)}}}, false},
	} {
		m, err := events.Matcher(tc.w)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := m(ev); got != tc.want {
			t.Errorf("%s: match = %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := events.Matcher(&ent.JobEventWhereInput{HasJob: ptr(true)}); err == nil {
		t.Error("hasJob filter accepted; it cannot be evaluated on live events")
	}
}

// TestSlowSubscriberDropped: a subscriber that stops reading is dropped
// once its buffer is full, and the others still get every event.
func TestSlowSubscriberDropped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		db := storetest.Open(t, dialect)
		b := events.NewBroker(db, nil)
		d := dispatch.New(db, dispatch.Options{Publish: func([]*ent.JobEvent) { b.Notify() }})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		defer func() { cancel(); <-done }()
		slow := b.Subscribe(nil)
		fast := b.Subscribe(nil)
		n := events.Buffer + 50
		got := make(chan int)
		go func() {
			c := 0
			for range fast.C {
				if c++; c == n {
					break
				}
			}
			got <- c
		}()
		for range n {
			if _, _, err := d.Submit(ctx, dispatch.SubmitInput{Image: ptr("x")}); err != nil {
				t.Fatal(err)
			}
		}
		_ = d.Sequence(ctx)
		select {
		case c := <-got:
			if c != n {
				t.Fatalf("fast subscriber got %d of %d", c, n)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("fast subscriber starved")
		}
		if !slow.Dropped() {
			t.Fatal("slow subscriber was not dropped")
		}
		fast.Close()
		if b.Subscribers() != 0 {
			t.Fatalf("%d subscribers left", b.Subscribers())
		}
	})
}
