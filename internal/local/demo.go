package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/schollz/progressbar/v3"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/publish"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
)

// DemoConfig shapes a demo run.
type DemoConfig struct {
	// Orders is how many order lifecycles are generated. Default 200.
	Orders int
	// Seed makes the run repeatable; 0 picks one from the clock (reported).
	Seed uint64
	// Duplicates is the probability an event is delivered again.
	Duplicates float64
	// Reorder shuffles the deliveries.
	Reorder bool
	// Invalid adds invalid events, as a fraction of the events.
	Invalid float64
	// Conflicts adds events reusing another's (orderId, seq), as a fraction.
	Conflicts float64
	// Window bounds the events published and not yet settled: publishing
	// waits while the pipeline has this many to work through. Default 10.
	Window int
	// DrainTimeout bounds the wait for the pipeline to settle every event
	// after publishing. Default 60 s.
	DrainTimeout time.Duration
	// Progress, if not nil, shows a progress bar of publishing.
	Progress io.Writer
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c DemoConfig) withDefaults() DemoConfig {
	if c.Orders <= 0 {
		c.Orders = 200
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Seed == 0 {
		c.Seed = uint64(c.Now().UnixNano())
	}
	if c.Window <= 0 {
		c.Window = 10
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 60 * time.Second
	}
	return c
}

// demoRun is the bookkeeping of one demo: what was sent, and what the
// invoker settled.
type demoRun struct {
	stream   []gen.Delivery
	accepted []bool
	mu       sync.Mutex
	sentAt   map[string]time.Time // eventId → earliest accepted publish
	outcomes map[string]int
	settled  int
	applied  map[string]time.Time // eventId → when it was applied
	lastDone time.Time
}

func (d *demoRun) observe(r Result) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.outcomes[r.Outcome]++
	if r.Outcome != OutcomeUnfinished {
		d.settled++
	}
	if r.Outcome == "applied" {
		if _, ok := d.applied[r.EventID]; !ok {
			d.applied[r.EventID] = r.Done
		}
	}
	if r.Done.After(d.lastDone) {
		d.lastDone = r.Done
	}
}

// RunDemo streams generated order lifecycles through the running pipeline p
// (its invoker must be running), waits for it to drain, and returns the
// report with the verification of I1 and I2. The error is for a demo that
// could not run at all; a failed verification is in the report (Report.OK).
func RunDemo(ctx context.Context, p *Pipeline, cfg DemoConfig) (*Report, error) {
	cfg = cfg.withDefaults()
	// transactTimes an hour back: always valid, never "in the future".
	ls := gen.Lifecycles(cfg.Seed, cfg.Orders, gen.Options{Start: cfg.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)})
	stream := gen.Stream(ls, gen.StreamOptions{
		Seed: cfg.Seed, Duplicates: cfg.Duplicates, Reorder: cfg.Reorder,
		Invalid: cfg.Invalid, Conflicts: cfg.Conflicts,
	})
	entries := make([]ebtypes.PutEventsRequestEntry, len(stream))
	for i := range stream {
		entries[i] = ebtypes.PutEventsRequestEntry{
			EventBusName: aws.String(p.Resources.Bus),
			Source:       aws.String(schema.Source),
			DetailType:   aws.String(schema.DetailTypeExecutionReport),
			Detail:       aws.String(string(event.EncodeDetail(&stream[i].Report))),
		}
	}

	run := &demoRun{
		stream:   stream,
		accepted: make([]bool, len(stream)),
		sentAt:   map[string]time.Time{},
		outcomes: map[string]int{},
		applied:  map[string]time.Time{},
	}
	unsubscribe := p.Subscribe(run.observe)
	defer unsubscribe()

	rep := &Report{
		Seed: cfg.Seed, Orders: len(ls), Generated: len(stream),
		Options: fmt.Sprintf("duplicates=%g reorder=%v invalid=%g conflicts=%g concurrency=%d window=%d",
			cfg.Duplicates, cfg.Reorder, cfg.Invalid, cfg.Conflicts, p.Invoker.cfg.Concurrency, cfg.Window),
	}
	rep.Kinds = map[string]int{}
	for _, d := range stream {
		rep.Kinds[d.Kind.String()]++
	}

	bar := NewProgress(cfg.Progress, len(stream), "publishing")
	start := cfg.Now()
	pub := publish.New(eventbridge.NewFromConfig(p.AWS), publish.Options{})
	var sum publish.Summary
	var err error
	for _, batch := range publish.Batches(entries) {
		// Backpressure: the local AWS is far slower than EventBridge, and a
		// backlog the demo built itself would dominate the latency measured.
		if err = run.waitOutstanding(ctx, sum.Accepted, cfg.Window, cfg.DrainTimeout); err != nil {
			if errors.Is(err, errStalled) {
				// Stop publishing; the report shows what did not settle.
				err = nil
				rep.Stalled = true
			}
			break
		}
		part := make([]ebtypes.PutEventsRequestEntry, len(batch))
		for i, k := range batch {
			part[i] = entries[k]
		}
		var s publish.Summary
		s, err = pub.Publish(ctx, part, func(r publish.EntryResult) {
			_ = bar.Add(1)
			if !r.Accepted() {
				return
			}
			k := batch[r.Index]
			run.mu.Lock()
			defer run.mu.Unlock()
			run.accepted[k] = true
			id := stream[k].Report.EventID
			if t, ok := run.sentAt[id]; !ok || r.SentAt.Before(t) {
				run.sentAt[id] = r.SentAt
			}
		})
		sum.Accepted += s.Accepted
		sum.Failed = append(sum.Failed, s.Failed...)
		sum.Unsent += s.Unsent
		if err != nil {
			break
		}
	}
	if sum.Accepted+len(sum.Failed) == len(stream) {
		_ = bar.Finish()
	} else {
		_ = bar.Exit() // interrupted: leave the bar where it stopped
		if cfg.Progress != nil {
			fmt.Fprintln(cfg.Progress)
		}
	}
	rep.Sent = sum.Accepted
	rep.PublishFailed = len(sum.Failed)
	rep.NotSent = len(stream) - sum.Accepted - len(sum.Failed)
	rep.PublishTime = cfg.Now().Sub(start)
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("demo: publish: %w", err)
	}

	rep.Drained = run.waitDrained(ctx, p, rep.Sent, cfg.DrainTimeout)
	if ctx.Err() != nil {
		// Ctrl-C: the invoker gives the events in flight a grace period;
		// count them once it is over.
		rep.Interrupted = true
		waitIdle(p.Invoker, cfg.DrainTimeout)
		rep.fill(run, start)
		return rep, nil
	}
	rep.fill(run, start)

	recs, err := dlq.Peek(ctx, sqs.NewFromConfig(p.AWS), p.Resources.ProcessingDLQURL, 0)
	if err != nil {
		return rep, fmt.Errorf("demo: read the processing DLQ: %w", err)
	}
	rep.DeadLettered = len(recs)
	st := store.New(dynamodb.NewFromConfig(p.AWS), p.Resources.Table, p.Resources.Region, nil)
	rep.Checks, err = verify(ctx, st, ls, run, recs)
	if err != nil {
		return rep, fmt.Errorf("demo: verify: %w", err)
	}
	return rep, nil
}

// errStalled means the pipeline settled nothing for a whole drain timeout.
var errStalled = errors.New("demo: the pipeline stopped settling events")

// waitOutstanding waits until fewer than window of the accepted events are
// unsettled, or returns errStalled after timeout.
func (d *demoRun) waitOutstanding(ctx context.Context, accepted, window int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		d.mu.Lock()
		outstanding := accepted - d.settled
		d.mu.Unlock()
		if outstanding < window {
			return nil
		}
		if time.Now().After(deadline) {
			return errStalled
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitDrained waits until the invoker has settled sent events, has none in
// flight and the inbox is empty, or until timeout or ctx ends.
func (d *demoRun) waitDrained(ctx context.Context, p *Pipeline, sent int, timeout time.Duration) bool {
	q := sqs.NewFromConfig(p.AWS)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		d.mu.Lock()
		settled := d.settled
		d.mu.Unlock()
		if settled >= sent && p.Invoker.Stats().InFlight == 0 {
			depth, err := dlq.QueueDepth(ctx, q, p.Resources.InboxURL)
			if err == nil && depth == (dlq.Depth{}) {
				return true
			}
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// waitIdle waits until the invoker has no event in flight, or timeout.
func waitIdle(v *Invoker, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for v.Stats().InFlight > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// fill sets the report's outcome counts, throughput and latencies.
func (r *Report) fill(d *demoRun, start time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r.Outcomes = map[string]int{}
	for k, v := range d.outcomes {
		r.Outcomes[k] = v
	}
	r.Settled = d.settled
	if !d.lastDone.IsZero() {
		r.Elapsed = d.lastDone.Sub(start)
		if r.Elapsed > 0 {
			r.Throughput = float64(d.settled) / r.Elapsed.Seconds()
		}
	}
	var lat []time.Duration
	for id, done := range d.applied {
		if sent, ok := d.sentAt[id]; ok {
			lat = append(lat, max(0, done.Sub(sent)))
		}
	}
	slices.Sort(lat)
	r.LatencySamples = len(lat)
	if len(lat) > 0 {
		r.LatencyP50 = Percentile(lat, 50)
		r.LatencyP99 = Percentile(lat, 99)
		r.LatencyMax = lat[len(lat)-1]
	}
}

// Percentile is the nearest-rank p-th percentile of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// NewProgress returns a progress bar of total steps on w, or a silent one
// when w is nil.
func NewProgress(w io.Writer, total int, desc string) *progressbar.ProgressBar {
	if w == nil {
		return progressbar.NewOptions(total, progressbar.OptionSetVisibility(false))
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("events"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}
