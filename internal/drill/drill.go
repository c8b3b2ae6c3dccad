package drill

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/globalendpoint"
	"github.com/tap-trading/tap/internal/health"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/publish"
	"github.com/tap-trading/tap/internal/replication"
	"github.com/tap-trading/tap/internal/schema"
)

// Env is a running two-region environment: both regions, health, the
// global endpoint and table replication. Run drives a drill through it;
// `tapctl local --regions` runs it interactively.
type Env struct {
	cfg      Config
	primary  *region
	second   *region
	monitor  *health.Monitor
	endpoint *globalendpoint.Endpoint
	repl     *replication.Replicator

	stop    context.CancelFunc
	hbStop  context.CancelFunc
	wg      sync.WaitGroup
	hbWG    sync.WaitGroup
	onState func(stateEvent)
}

// stateEvent is what the environment tells the drill as it happens.
type stateEvent struct {
	accepted   *globalendpoint.Accepted
	replicated *globalendpoint.Replicated
	settled    *local.Result
	region     string
	transition *health.Transition
}

// Start starts both regions and everything between them. Close stops it.
func Start(ctx context.Context, cfg Config) (*Env, error) {
	return start(ctx, cfg.withDefaults(), func(stateEvent) {})
}

func start(ctx context.Context, cfg Config, on func(stateEvent)) (e *Env, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e = &Env{cfg: cfg, onState: on}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if e.monitor, err = health.NewMonitor(health.Config{
		Period: cfg.Period, Periods: cfg.Periods, Threshold: cfg.Threshold,
		OnChange: func(t health.Transition) { on(stateEvent{transition: &t}) },
	}, cfg.Primary, cfg.Secondary); err != nil {
		return e, err
	}
	rc := func(name string) regionConfig {
		c := regionConfig{
			name: name, env: cfg.Env, procOut: cfg.ProcessorOutput,
			invoker: local.InvokerConfig{
				Concurrency: cfg.Concurrency, RetryAttempts: 2, RetryBackoff: max(cfg.Period/4, 100*time.Millisecond),
				Timeout: 5 * time.Second, Visibility: 20 * time.Second, OnError: cfg.OnError,
			},
			onInvoke: e.monitor.Observe,
			observe:  func(r string, res local.Result) { on(stateEvent{settled: &res, region: r}) },
		}
		if cfg.MotoLogDir != "" {
			c.motoLog = filepath.Join(cfg.MotoLogDir, "moto-"+name+".log")
		}
		return c
	}
	// The two regions start side by side: moto takes a few seconds.
	var errs [2]error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); e.primary, errs[0] = startRegion(ctx, rc(cfg.Primary)) }()
	go func() { defer wg.Done(); e.second, errs[1] = startRegion(ctx, rc(cfg.Secondary)) }()
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return e, err
	}

	if e.repl, err = replication.New(replication.Config{
		Table: e.primary.pipe.Resources.Table, A: e.primary.replica(), B: e.second.replica(),
		Lag: cfg.Lag, Poll: 250 * time.Millisecond, CallTimeout: 3 * time.Second,
	}); err != nil {
		return e, err
	}
	epRegion := func(r *region) globalendpoint.Region {
		return globalendpoint.Region{
			Name: r.name, Account: awslocal.AccountID, Events: r.events,
			Reachable: func() bool { return !r.part.IsCut() }, Deliver: r.deliver,
		}
	}
	if e.endpoint, err = globalendpoint.Start(globalendpoint.Config{
		Primary: epRegion(e.primary), Secondary: epRegion(e.second),
		PrimaryHealthy: func() bool { return e.monitor.Healthy(cfg.Primary) },
		ForwardTimeout: 3 * time.Second, ReplicationLag: cfg.Lag,
		OnAccept:     func(a globalendpoint.Accepted) { on(stateEvent{accepted: &a}) },
		OnReplicated: func(r globalendpoint.Replicated) { on(stateEvent{replicated: &r}) },
	}); err != nil {
		return e, err
	}

	run, stop := context.WithCancel(context.Background())
	e.stop = stop
	hb, hbStop := context.WithCancel(run)
	e.hbStop = hbStop
	e.wg.Add(4)
	go func() { defer e.wg.Done(); e.monitor.Run(hb.Done()) }()
	go func() {
		defer e.wg.Done()
		if err := e.repl.Run(run); err != nil {
			cfg.OnError(err)
		}
	}()
	for _, r := range []*region{e.primary, e.second} {
		go func() { defer e.wg.Done(); r.run(run, 5*time.Second, cfg.OnError) }()
		e.hbWG.Add(1)
		go func() { defer e.hbWG.Done(); r.heartbeat(hb, cfg.Period) }()
	}
	return e, nil
}

// Regions returns the primary and the secondary.
func (e *Env) regions() []*region { return []*region{e.primary, e.second} }

// Region returns the named region, or nil.
func (e *Env) region(name string) *region {
	for _, r := range e.regions() {
		if r != nil && r.name == name {
			return r
		}
	}
	return nil
}

// Cut partitions the named region; it fails for a region not in the drill.
func (e *Env) Cut(name string) error {
	r := e.region(name)
	if r == nil {
		return fmt.Errorf("cut %q: not a region of this run (%s, %s)", name, e.cfg.Primary, e.cfg.Secondary)
	}
	return r.part.Cut(e.cfg.Mode)
}

// HealAll heals every region and removes every processor fault.
func (e *Env) HealAll() {
	for _, r := range e.regions() {
		if r != nil {
			r.part.Heal()
			r.faulty.Store(false)
		}
	}
}

// stopHeartbeats stops both regions' heartbeats, so the tables can settle,
// and health evaluation with them.
func (e *Env) stopHeartbeats() {
	if e.hbStop != nil {
		e.hbStop()
		e.hbWG.Wait()
	}
}

// Close heals everything, stops every goroutine and every moto server.
func (e *Env) Close() {
	if e == nil {
		return
	}
	e.HealAll()
	if e.stop != nil {
		e.stop()
		e.wg.Wait()
	}
	if e.endpoint != nil {
		_ = e.endpoint.Close()
	}
	for _, r := range e.regions() {
		r.close()
	}
}

// snapshot is the progress of the environment now.
func (e *Env) snapshot() Progress {
	p := Progress{
		Route: e.endpoint.Route(), Healthy: map[string]bool{}, Applied: map[string]int{},
		PendingReplication: e.endpoint.Pending(), TableBacklog: map[string]int64{}, TableLagP99: map[string]time.Duration{},
	}
	for _, r := range e.regions() {
		p.Healthy[r.name] = e.monitor.Healthy(r.name)
		if r.part.IsCut() {
			p.Cut = append(p.Cut, r.name)
		}
		p.Applied[r.name] = r.pipe.Invoker.Stats().Outcomes["applied"]
	}
	s := e.repl.Stats()
	for _, d := range []replication.DirectionStats{s.AToB, s.BToA} {
		p.TableBacklog[d.From] = d.Backlog
		p.TableLagP99[d.From] = d.LagP99
	}
	return p
}

// entriesFor turns deliveries into PutEvents entries for the regions' bus.
func entriesFor(stream []gen.Delivery, bus string) []ebtypes.PutEventsRequestEntry {
	out := make([]ebtypes.PutEventsRequestEntry, len(stream))
	for i := range stream {
		out[i] = ebtypes.PutEventsRequestEntry{
			EventBusName: aws.String(bus), Source: aws.String(schema.Source),
			DetailType: aws.String(schema.DetailTypeExecutionReport),
			Detail:     aws.String(string(event.EncodeDetail(&stream[i].Report))),
		}
	}
	return out
}

// producer returns a publisher to the endpoint that retries failed entries
// the way a careful producer does, for as long as it takes.
func (e *Env) producer(ctx context.Context) (*publish.Publisher, error) {
	cfg, err := awslocal.Config(ctx, e.endpoint.URL, e.cfg.Primary)
	if err != nil {
		return nil, err
	}
	return publish.New(eventbridge.NewFromConfig(cfg), publish.Options{
		MaxAttempts: 1 << 20, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second,
	}), nil
}

// waitFor polls cond every 50 ms until it holds, ctx ends or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("drill: %s did not happen within %s", what, timeout)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// percentiles returns p50 and p99 of ds.
func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	return local.Percentile(ds, 50), local.Percentile(ds, 99)
}
