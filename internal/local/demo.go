package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
	"github.com/tap-trading/tap/producer"
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
	// outranked counts the dead letters sent by invocations whose own event
	// was not dead-lettered: an execution the event outranked (its loser,
	// processor.ReasonConflict), which the processor dead-letters when the
	// loser was recorded first.
	outranked int
	settled   int
	applied   map[string]Result // eventId → how it was applied
	lastDone  time.Time
}

func (d *demoRun) observe(r Result) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.outcomes[r.Outcome]++
	if r.Outcome != OutcomeUnfinished {
		d.settled++
	}
	if r.Reason != "" && r.Outcome != "rejected" && r.Outcome != "conflict" && r.Outcome != OutcomeUnfinished {
		d.outranked++
	}
	if r.Outcome == "applied" {
		if _, ok := d.applied[r.EventID]; !ok {
			d.applied[r.EventID] = r
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
		applied:  map[string]Result{},
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
	pub := producer.New(eventbridge.NewFromConfig(p.AWS), producer.Options{})
	var sum producer.Summary
	var err error
	for _, batch := range producer.Batches(entries) {
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
		var s producer.Summary
		s, err = pub.Publish(ctx, part, func(r producer.EntryResult) {
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

	say := func(format string, a ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", a...)
		}
	}
	say("waiting for the pipeline to settle the %d events sent (at most %s)...", rep.Sent, cfg.DrainTimeout)
	rep.Drained = run.waitDrained(ctx, p, rep.Sent, cfg.DrainTimeout, func(settled int) {
		say("settled %d of %d...", settled, rep.Sent)
	})
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
	say("verifying I1 and I2: reading %d orders back from the table and %d dead letters...", len(ls), len(recs))
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
// flight and the inbox is empty, or until timeout or ctx ends. It calls
// progress with the count settled every progressEvery while it waits.
func (d *demoRun) waitDrained(ctx context.Context, p *Pipeline, sent int, timeout time.Duration, progress func(settled int)) bool {
	q := sqs.NewFromConfig(p.AWS)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lastReport := time.Now()
	for {
		d.mu.Lock()
		settled := d.settled
		d.mu.Unlock()
		if time.Since(lastReport) >= progressEvery {
			lastReport = time.Now()
			progress(settled)
		}
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
	r.Outranked = d.outranked
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
	var b Breakdown
	for id, res := range d.applied {
		sent, ok := d.sentAt[id]
		if !ok {
			continue
		}
		lat = append(lat, max(0, res.Done.Sub(sent)))
		b.add(sent, res)
	}
	if b.Events > 0 {
		r.Breakdown = b.mean()
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

// Progress shows how far a long step has got.
type Progress interface {
	// Add counts n more steps done.
	Add(n int) error
	// Finish shows the step complete.
	Finish() error
	// Exit leaves the progress where it stopped (the step was interrupted).
	Exit() error
}

// progressEvery is how often plain progress lines are written.
const progressEvery = 5 * time.Second

// NewProgress returns the progress of total steps on w: an animated bar when
// w is a terminal, plain lines every few seconds otherwise (a redirected log
// gets no carriage-return frames), nothing when w is nil.
func NewProgress(w io.Writer, total int, desc string) Progress {
	switch {
	case w == nil:
		return progressbar.NewOptions(total, progressbar.OptionSetVisibility(false))
	case !IsTerminal(w):
		return newLineProgress(w, total, desc, time.Now, progressEvery)
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

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// minRateWindow is the shortest time over which a rate is shown: a rate
// measured over the first few milliseconds says nothing.
const minRateWindow = time.Second

// lineProgress writes one plain line when the step starts, one every
// interval while it runs, and one at its end.
type lineProgress struct {
	mu          sync.Mutex
	w           io.Writer
	desc        string
	total, done int
	now         func() time.Time
	every       time.Duration
	start, last time.Time
	ended       bool
}

func newLineProgress(w io.Writer, total int, desc string, now func() time.Time, every time.Duration) *lineProgress {
	p := &lineProgress{w: w, desc: desc, total: total, now: now, every: every}
	p.start = now()
	p.last = p.start
	fmt.Fprintf(w, "%s %d events...\n", desc, total)
	return p
}

func (p *lineProgress) Add(n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if t := p.now(); !p.ended && t.Sub(p.last) >= p.every {
		p.last = t
		p.line(t, "")
	}
	return nil
}

func (p *lineProgress) Finish() error { return p.end("") }

func (p *lineProgress) Exit() error { return p.end(" (stopped)") }

func (p *lineProgress) end(suffix string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ended {
		p.ended = true
		p.line(p.now(), suffix)
	}
	return nil
}

func (p *lineProgress) line(t time.Time, suffix string) {
	pct := 100
	if p.total > 0 {
		pct = p.done * 100 / p.total
	}
	rate := ""
	if elapsed := t.Sub(p.start); elapsed >= minRateWindow {
		rate = fmt.Sprintf(", %.0f events/s", float64(p.done)/elapsed.Seconds())
	}
	fmt.Fprintf(p.w, "%s %d/%d events (%d%%) in %s%s%s\n", p.desc, p.done, p.total, pct, t.Sub(p.start).Round(100*time.Millisecond), rate, suffix)
}
