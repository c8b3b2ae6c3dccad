package drill

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/twin"
	"github.com/tap-trading/tap/producer"
)

// Run runs one scenario on a freshly deployed twin and returns its report.
// The error is for a drill that could not run; failed checks are in the
// report (Report.OK). When ctx ends (Ctrl-C) the drill heals both regions,
// stops the load, waits briefly for what is in flight and reports what
// settled, marked interrupted.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sc, _ := lookup(cfg.Scenario)
	l := newLedger()
	tc := cfg.twinConfig()
	tc.Observer = l.observer()
	d := &drillRun{cfg: cfg, spec: cfg.spec(), win: cfg.windowsOf(), l: l}
	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	d.phase = func(p string) {
		l.mark(p)
		if cfg.Progress != nil && d.e != nil {
			cfg.Progress(progressOf(d.e, l))
		}
	}
	d.phase("deploy both regions, then the failover path")
	e, err := twin.Start(ctx, tc)
	if err != nil {
		return nil, err
	}
	d.e = e
	defer e.Close()

	// Load: enough lifecycles for far longer than any drill; what is not
	// published is not counted.
	orders := int(cfg.Rate*float64(10*time.Minute/time.Second))/4 + 10
	ls := gen.Lifecycles(cfg.Seed, orders, gen.Options{Start: time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)})
	stream := closeConflicts(gen.Stream(ls, gen.StreamOptions{Seed: cfg.Seed, Duplicates: cfg.Duplicates, Conflicts: cfg.Conflicts}))
	entries := entriesFor(stream, d.spec.Names.Bus())
	l.accepted = make([]bool, len(stream))
	// The drill's producer is a real one: it takes each delivery at the
	// load's rate and retries what the endpoint refuses until accepted,
	// up to 4 calls in flight (deliveries may be reordered, as by any
	// producer that publishes concurrently).
	flight := &published{byDetail: map[string][]int{}}
	pub, err := e.Producer(ctx, producer.Config{Concurrency: 4, OnResult: l.onResult(flight, stream)})
	if err != nil {
		return nil, err
	}
	defer func() { _ = pub.Close(done) }()
	if cfg.Progress != nil {
		progressWG.Add(1)
		go func() {
			defer progressWG.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					cfg.Progress(progressOf(e, l))
				case <-progressDone:
					return
				}
			}
		}()
	}

	// The producer's retries outlive "stop load" (what it took is sent)
	// but not Ctrl-C.
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	produced := make(chan struct{})
	loadStart := time.Now()
	go func() { defer close(produced); l.produce(loadCtx, pub, flight, entries, cfg.Rate) }()

	err = sc.run(ctx, d)
	if err == nil && cfg.afterScenario != nil {
		cfg.afterScenario(e)
	}
	if err == nil {
		d.phase("cool-down")
		err = sleep(ctx, cfg.Cooldown)
	}
	// A phase that timed out (routing never moved, replication never caught
	// up) is a failed check, not a lost report: heal and verify anyway.
	var phaseErr error
	interrupted := false
	switch {
	case ctx.Err() != nil:
		interrupted = true
		e.HealAll()
	case err != nil:
		phaseErr = err
		e.HealAll()
	}
	d.phase("stop load")
	stopLoad()
	<-produced
	loadTook := time.Since(loadStart)
	// Entries still refused after a phase timeout are abandoned here, not
	// after the endpoint is closed; they stay "never accepted" in the
	// report.
	closeCtx, cancelClose := context.WithTimeout(ctx, cfg.PhaseTimeout)
	_ = pub.Close(closeCtx)
	cancelClose()

	d.phase("quiesce")
	// Heartbeats stop so the replicas can settle; health is frozen with
	// them, as it would otherwise count the silence.
	e.StopHeartbeats()
	qctx := ctx
	if interrupted {
		var cancel context.CancelFunc
		qctx, cancel = context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
	}
	n, qerr := quiesce(qctx, cfg, e)
	d.redriven += n

	d.phase("verify")
	// Bounded: a local AWS that stopped answering fails its checks by the
	// phase timeout, and the report is printed.
	vctx, cancelVerify := context.WithTimeout(context.WithoutCancel(ctx), cfg.PhaseTimeout)
	defer cancelVerify()
	rep, err := d.report(vctx, ls, stream, sc)
	close(progressDone)
	progressWG.Wait()
	if err != nil {
		return nil, err
	}
	rep.Interrupted = interrupted
	rep.Capacity = cfg.Capacity
	if loadTook > 0 {
		rep.Achieved = float64(rep.Accepted) / loadTook.Seconds()
	}
	if len(rep.Unreadable) > 0 {
		rep.Cause = unanswering(vctx, e)
	}
	rep.Checks = append(rep.Checks,
		check("quiesced: both regions idle, replication caught up", qerr == nil, "%s", errText(qerr, "inboxes empty, nothing in flight, nothing pending")),
		check("every phase completed in time", phaseErr == nil, "%s", errText(phaseErr, "within --phase-timeout "+cfg.PhaseTimeout.String())))
	if cfg.TimelineDir != "" {
		path, err := writeTimeline(cfg.TimelineDir, d, rep)
		if err != nil {
			return rep, fmt.Errorf("drill: timeline: %w", err)
		}
		rep.Timeline = path
	}
	return rep, nil
}

// unanswering names the regions whose local AWS does not answer a cheap
// call within a few seconds, with the error: the cause of checks that
// could not read.
func unanswering(ctx context.Context, e *twin.Env) string {
	var out []string
	for _, region := range []string{e.Primary(), e.Secondary()} {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := e.Clients(region).DynamoDB.ListTables(pctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		cancel()
		if err != nil {
			out = append(out, fmt.Sprintf("the local AWS of %s does not answer (%v)", region, err))
		}
	}
	if len(out) == 0 {
		return "both regions answer now; what could not be read is listed as UNREADABLE"
	}
	return strings.Join(out, "; ")
}

func errText(err error, ok string) string {
	if err != nil {
		return err.Error()
	}
	return ok
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

// closeConflicts moves each conflicting event to just after the first
// delivery of the event it conflicts with: two events claiming one (orderId,
// seq) published close together, so each region may see either first —
// what a producer bug looks like, and what the conflict rule must settle
// alike in both regions. (gen spreads them over the whole stream, most of
// which a drill never publishes.)
func closeConflicts(stream []gen.Delivery) []gen.Delivery {
	type key struct {
		order string
		seq   int64
	}
	var conflicts []gen.Delivery
	out := make([]gen.Delivery, 0, len(stream))
	for _, d := range stream {
		if d.Kind == gen.Conflicting {
			conflicts = append(conflicts, d)
		} else {
			out = append(out, d)
		}
	}
	after := map[key][]gen.Delivery{}
	for _, c := range conflicts {
		k := key{c.Report.OrderID, c.Report.Seq}
		after[k] = append(after[k], c)
	}
	res := make([]gen.Delivery, 0, len(stream))
	for _, d := range out {
		res = append(res, d)
		k := key{d.Report.OrderID, d.Report.Seq}
		if d.Kind == gen.Original && len(after[k]) > 0 {
			res = append(res, after[k]...)
			delete(after, k)
		}
	}
	return res
}

// produce gives the producer one delivery every 1/rate until ctx ends.
func (l *ledger) produce(ctx context.Context, pub *producer.Producer, flight *published, entries []ebtypes.PutEventsRequestEntry, rate float64) {
	paced(ctx, rate, 0, len(entries), func(i int) error {
		detail := aws.ToString(entries[i].Detail)
		flight.add(detail, i)
		l.mu.Lock()
		l.published++
		l.mu.Unlock()
		if _, err := pub.Send(ctx, entries[i]); err != nil {
			flight.take(detail)
			l.mu.Lock()
			l.published--
			l.mu.Unlock()
			return err
		}
		return nil
	})
}

// paced calls send for from, from+1, … up to n, one every 1/rate, until
// ctx ends or send fails (a producer's Send blocks while it is full: its
// backpressure, so the rate achieved may be lower). It returns the index
// of the first entry not sent.
func paced(ctx context.Context, rate float64, from, n int, send func(i int) error) int {
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for i := from; i < n; i++ {
		select {
		case <-t.C:
		case <-ctx.Done():
			return i
		}
		if err := send(i); err != nil {
			return i
		}
	}
	return n
}

// onResult records an accepted delivery in the ledger, with the region and
// time the endpoint accepted it.
func (l *ledger) onResult(flight *published, stream []gen.Delivery) func(producer.Result) {
	return func(r producer.Result) {
		i, ok := flight.take(aws.ToString(r.Entry.Detail))
		if !ok || !r.Accepted() {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		l.accepted[i] = true
		if a, ok := l.byEBID[r.EventID]; ok {
			l.detail[stream[i].Report.EventID] = a
		}
	}
}

// published finds the delivery a producer's result is about: the stream
// indexes given to the producer and not yet settled, by detail (a
// duplicate delivery has its original's detail; either index will do).
type published struct {
	mu       sync.Mutex
	byDetail map[string][]int
}

func (p *published) add(detail string, i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byDetail[detail] = append(p.byDetail[detail], i)
}

func (p *published) take(detail string) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	is := p.byDetail[detail]
	if len(is) == 0 {
		return 0, false
	}
	if len(is) == 1 {
		delete(p.byDetail, detail)
	} else {
		p.byDetail[detail] = is[1:]
	}
	return is[0], true
}

// done is a context already ended: Close with it stops a producer at once.
var done = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// queueKind picks one of a region's dead-letter queues.
type queueKind int

const (
	processing queueKind = iota
	delivery
)

// String names the queue as the reports do.
func (q queueKind) String() string {
	if q == delivery {
		return "delivery"
	}
	return "processing"
}

// redrive republishes one of the region's DLQs to its bus.
func redrive(ctx context.Context, e *twin.Env, region string, q queueKind) (int, error) {
	return e.Redrive(ctx, region, q == delivery)
}

// quiesce waits until both regions are idle, nothing waits for event
// replication and table replication has caught up; dead letters left by
// invocation failures are redriven on the way (the operator's part).
func quiesce(ctx context.Context, cfg Config, e *twin.Env) (redriven int, err error) {
	deadline := time.Now().Add(cfg.PhaseTimeout)
	regions := []string{e.Primary(), e.Secondary()}
	for round := 0; ; round++ {
		stable := 0
		err = waitFor(ctx, time.Until(deadline), "quiesce", func() bool {
			p := e.PendingReplication()
			if p[regions[0]] == 0 && p[regions[1]] == 0 && e.Idle(ctx, regions[0]) && e.Idle(ctx, regions[1]) {
				stable++
			} else {
				stable = 0
			}
			return stable >= 3
		})
		if err != nil {
			// Name what did not settle: each region's backlog.
			return redriven, fmt.Errorf("%w; still: %s", err, e.Status().Line())
		}
		cctx, cancel := context.WithDeadline(ctx, deadline)
		err = e.TableCaughtUp(cctx)
		cancel()
		if err != nil {
			return redriven, fmt.Errorf("%w; still: %s", err, e.Status().Line())
		}
		// Lambda's on-failure records and EventBridge's delivery failures
		// mean an event was never processed: the operator redrives them.
		total := 0
		for _, r := range regions {
			proc, del, err := e.DeadLetters(ctx, r)
			if err != nil {
				return redriven, err
			}
			failed := 0
			for _, rec := range proc {
				if rec.Format == dlq.FormatLambda {
					failed++
				}
			}
			total += failed + len(del)
			if round >= maxRedrives {
				continue
			}
			for q, n := range map[queueKind]int{processing: failed, delivery: len(del)} {
				if n == 0 {
					continue
				}
				k, err := redrive(ctx, e, r, q)
				redriven += k
				if err != nil {
					return redriven, err
				}
			}
		}
		switch {
		case total == 0:
			return redriven, nil
		case round >= maxRedrives:
			// A dead letter counts as accounted for in I2, so events still
			// failing for good after the redrives must fail this check
			// instead: the drill's point is that recovery applies them.
			return redriven, fmt.Errorf("%d events still in a DLQ as failed invocations or deliveries after %d redrives", total, maxRedrives)
		}
	}
}

// maxRedrives bounds how often quiesce redrives failed invocations.
const maxRedrives = 3

// waitFor polls cond every 50 ms until it holds, ctx ends or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("drill: %s did not happen within %s", what, timeout.Round(time.Millisecond))
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

// progressOf snapshots the twin and the ledger.
func progressOf(e *twin.Env, l *ledger) Progress {
	p := Progress{Status: e.Status()}
	l.mu.Lock()
	defer l.mu.Unlock()
	p.Elapsed = time.Since(l.start)
	p.Phase = l.phase
	p.Accepted = len(l.byEBID)
	return p
}
