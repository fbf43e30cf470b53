package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/gantry/gantry/ent"
	"github.com/gantry/gantry/routing"
	"github.com/gantry/gantry/store"
)

// Options tune a Dispatcher; zero values take the defaults.
type Options struct {
	ID                string             // replica id (lease owner); default host-pid-random
	BatchSize         int                // jobs claimed per transaction (100)
	LaunchConcurrency int                // launches in flight (64)
	PollInterval      time.Duration      // how often running jobs are checked (100ms)
	RemotePoll        time.Duration      // first gap between status checks of a cloud execution (2s), doubling...
	RemotePollMax     time.Duration      // ...up to this (30s)
	LeaseTTL          time.Duration      // lease length; renewed every TTL/3 (15s)
	ReconcileEvery    time.Duration      // host counter recount period (1m)
	StopGrace         time.Duration      // SIGTERM-to-SIGKILL grace on cancel/timeout (10s)
	RetryBase         time.Duration      // first retry delay of the default strategy (2s)
	IdleTick          time.Duration      // safety wake-up when nothing signals (5s)
	HealthEvery       time.Duration      // host health checks and orphan sweeps (30s)
	KeepFailed        time.Duration      // how long executions of failed/timed-out jobs are kept for inspection (10m; <0: remove at once)
	LogCap            int                // bytes kept of each of stdout/stderr (256 KiB)
	Completers        int                // concurrent outcome-applying transactions (4; 1 on SQLite)
	Prices            routing.PriceTable // provider price models (nil: the built-in table, or GANTRY_PRICES_FILE)
	Router            routing.Router     // nil: the policy over the routing rules in the database
	Now               func() time.Time
	Logger            *slog.Logger
	// Publish receives events after their transaction commits.
	Publish func([]*ent.JobEvent)
}

func (o *Options) defaults() {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.ID == "" {
		host, _ := os.Hostname()
		o.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.LaunchConcurrency <= 0 {
		o.LaunchConcurrency = 64
	}
	if o.Completers <= 0 {
		o.Completers = 4
	}
	if o.LogCap <= 0 {
		o.LogCap = 256 << 10
	}
	def(&o.PollInterval, 100*time.Millisecond)
	def(&o.RemotePoll, 2*time.Second)
	def(&o.RemotePollMax, 30*time.Second)
	def(&o.LeaseTTL, 15*time.Second)
	def(&o.ReconcileEvery, time.Minute)
	def(&o.StopGrace, 10*time.Second)
	def(&o.RetryBase, 2*time.Second)
	def(&o.IdleTick, 5*time.Second)
	def(&o.HealthEvery, 30*time.Second)
	if o.KeepFailed == 0 {
		o.KeepFailed = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = func() time.Time { return time.Now().UTC() }
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Dispatcher claims, launches and watches jobs. Its methods that change
// jobs (Submit, Cancel, Retry, Route, Transition) are safe to call from any
// goroutine, with or without Run.
type Dispatcher struct {
	opts        Options
	id          string
	client      *ent.Client
	db          *store.DB
	dialect     string
	log         *slog.Logger
	execs       *executorCache
	pace        *pacer
	sizes       *sizeCache
	budgets     *budgetCache
	watchedRows *watchedRows

	wake      chan struct{}
	outcomes  chan outcome
	launchSem chan struct{}

	seq    *sequencer
	rules  *ruleCache
	prices routing.PriceTable

	submits    chan submitReq
	submitOnce sync.Once

	mu        sync.Mutex
	launching map[uuid.UUID]bool // launches in flight
	settling  map[uuid.UUID]bool // outcomes waiting for the completer
	settledAt map[uuid.UUID]time.Time
	startups  map[uuid.UUID][]time.Duration // launch durations per host, folded in by the health loop
	usage     map[uuid.UUID]*usageTrack     // resource readings of running jobs
	stopping  map[uuid.UUID]time.Time
	swept     map[uuid.UUID]time.Time // last orphan sweep of each cloud host
}

// New returns a dispatcher over db.
func New(db *store.DB, opts Options) *Dispatcher {
	opts.defaults()
	prices := opts.Prices
	if prices == nil {
		var err error
		if prices, err = routing.LoadPrices(os.Getenv("GANTRY_PRICES_FILE")); err != nil {
			opts.Logger.Error("price table unreadable; cloud costs unknown", "err", err)
		}
	}
	if db.Dialect == store.SQLite {
		opts.Completers = 1 // one writer at a time anyway
	}
	d := &Dispatcher{
		opts: opts, id: opts.ID, client: db.Client, db: db, dialect: db.Dialect, log: opts.Logger.With("replica", opts.ID),
		execs:       newExecutorCache(db.Client),
		pace:        newPacer(opts.RemotePoll, opts.RemotePollMax),
		sizes:       newSizeCache(),
		budgets:     &budgetCache{},
		watchedRows: newWatchedRows(),
		wake:        make(chan struct{}, 1),
		outcomes:    make(chan outcome, 1024),
		launchSem:   make(chan struct{}, opts.LaunchConcurrency),
		seq:         newSequencer(),
		prices:      prices,
		submits:     make(chan submitReq, 1024),
		rules:       &ruleCache{programs: map[uuid.UUID]compiled{}},
		launching:   map[uuid.UUID]bool{},
		settling:    map[uuid.UUID]bool{},
		settledAt:   map[uuid.UUID]time.Time{},
		startups:    map[uuid.UUID][]time.Duration{},
		usage:       map[uuid.UUID]*usageTrack{},
		stopping:    map[uuid.UUID]time.Time{},
		swept:       map[uuid.UUID]time.Time{},
	}
	d.dropBudgetsOnWrite()
	return d
}

// ID is the replica id written as lease owner.
func (d *Dispatcher) ID() string { return d.id }

func (d *Dispatcher) now() time.Time { return d.opts.Now() }

// Wake asks the claim loop to look for work now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) publish(evs []*ent.JobEvent) {
	if len(evs) > 0 && d.opts.Publish != nil {
		d.opts.Publish(evs)
	}
}

// Run dispatches until ctx ends. It reconciles first, then runs the claim
// loop, the completer, the watcher, the lease keeper and the listener.
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.reconcile(ctx); err != nil {
		d.log.Warn("reconcile at start failed", "err", err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return d.claimLoop(ctx) })
	// Several completers let PostgreSQL commit batches side by side (group
	// commit); they cannot deadlock, every transaction locks in id order.
	for range d.opts.Completers {
		g.Go(func() error { return d.completeLoop(ctx) })
	}
	g.Go(func() error { return d.watchLoop(ctx) })
	g.Go(func() error { return d.leaseLoop(ctx) })
	g.Go(func() error { return d.healthLoop(ctx) })
	if d.dialect == store.Postgres {
		// NOTIFYs from any replica wake the claim loop; the idle tick
		// covers notifications lost while reconnecting.
		g.Go(func() error { store.Listen(ctx, d.db.DSN, chanWork, d.Wake, d.log); return nil })
	}
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// claimLoop claims whenever woken, on the next scheduled job's time, or on
// the idle tick.
func (d *Dispatcher) claimLoop(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-timer.C:
		}
		full, err := d.claimAll(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Error("claim failed", "err", err)
		}
		timer.Reset(d.nextWake(ctx, full))
	}
}

// nextWake is how long to sleep: until the next scheduled job, at most the
// idle tick; immediately again when the last batch was full.
func (d *Dispatcher) nextWake(ctx context.Context, full bool) time.Duration {
	if full {
		return 0
	}
	wait := d.opts.IdleTick
	now := d.now()
	if t, ok, err := d.nextScheduled(ctx, now); err == nil && ok {
		wait = min(wait, max(t.Sub(now), time.Millisecond))
	}
	return wait
}

func (d *Dispatcher) reconcile(ctx context.Context) error {
	if err := d.recount(ctx); err != nil {
		return err
	}
	now := d.now()
	n, err := d.takeOver(ctx, now, now.Add(d.opts.LeaseTTL))
	if err != nil {
		return fmt.Errorf("take over expired leases: %w", err)
	}
	if n > 0 {
		d.log.Info("took over jobs with expired leases", "jobs", n)
	}
	return nil
}

// leaseLoop renews leases, takes over jobs of dead replicas and
// periodically reconciles host counters.
func (d *Dispatcher) leaseLoop(ctx context.Context) error {
	renew := time.NewTicker(d.opts.LeaseTTL / 3)
	defer renew.Stop()
	recon := time.NewTicker(d.opts.ReconcileEvery)
	defer recon.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-renew.C:
			now := d.now()
			if err := d.renewLeases(ctx, now.Add(d.opts.LeaseTTL)); err != nil && ctx.Err() == nil {
				d.log.Error("renew leases failed", "err", err)
			}
			if n, err := d.takeOver(ctx, now, now.Add(d.opts.LeaseTTL)); err != nil && ctx.Err() == nil {
				d.log.Error("take over failed", "err", err)
			} else if n > 0 {
				d.log.Info("took over jobs with expired leases", "jobs", n)
			}
		case <-recon.C:
			if err := d.recount(ctx); err != nil && ctx.Err() == nil {
				d.log.Error("recount failed", "err", err)
			}
		}
	}
}

// every runs f every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func()) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			f()
		}
	}
}
