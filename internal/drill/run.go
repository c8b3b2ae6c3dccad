package drill

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/globalendpoint"
	"github.com/tap-trading/tap/internal/health"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/publish"
	"github.com/tap-trading/tap/internal/replication"
	"github.com/tap-trading/tap/internal/store"
)

// ledger is the drill's bookkeeping, fed by the environment's callbacks.
type ledger struct {
	mu         sync.Mutex
	start      time.Time
	phase      string
	phases     []PhaseMark
	accepted   []bool
	published  int
	byEBID     map[string]globalendpoint.Accepted
	detail     map[string]globalendpoint.Accepted // detail eventId → its last acceptance
	replicated []globalendpoint.Replicated
	results    map[string][]local.Result // by region
	health     []health.Transition
}

func (l *ledger) on(ev stateEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case ev.accepted != nil:
		l.byEBID[ev.accepted.EventID] = *ev.accepted
	case ev.replicated != nil:
		l.replicated = append(l.replicated, *ev.replicated)
	case ev.settled != nil:
		l.results[ev.region] = append(l.results[ev.region], *ev.settled)
	case ev.transition != nil:
		l.health = append(l.health, *ev.transition)
	}
}

func (l *ledger) mark(phase string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phase = phase
	l.phases = append(l.phases, PhaseMark{Phase: phase, At: time.Since(l.start)})
}

// transition returns the first transition of region to healthy after t.
func (l *ledger) transition(region string, healthy bool, after time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range l.health {
		if t.Region == region && t.Healthy == healthy && !t.At.Before(after) {
			return t.At, true
		}
	}
	return time.Time{}, false
}

// unreplicatedBefore counts the events accepted before t not yet delivered
// to the other region.
func (l *ledger) unreplicatedBefore(t time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	done := make(map[string]bool, len(l.replicated))
	for _, r := range l.replicated {
		done[r.EventID] = true
	}
	n := 0
	for id, a := range l.byEBID {
		if a.At.Before(t) && !done[id] {
			n++
		}
	}
	return n
}

// times of the drill's events; zero when they did not happen.
type times struct {
	fail, routed, heal, failback time.Time
}

// Run runs one drill in a fresh two-region environment and returns its
// report. The error is for a drill that could not run; failed checks are in
// the report (Report.OK). When ctx ends (Ctrl-C) the drill heals both
// regions, stops the load, waits briefly for what is in flight and reports
// what settled, marked interrupted.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &ledger{byEBID: map[string]globalendpoint.Accepted{}, detail: map[string]globalendpoint.Accepted{}, results: map[string][]local.Result{}, start: time.Now()}
	l.mark("start both regions")
	e, err := start(ctx, cfg, l.on)
	if err != nil {
		return nil, err
	}
	defer e.Close()

	// Load: enough lifecycles for far longer than any drill; what is not
	// published is not counted.
	orders := int(cfg.Rate*float64(10*time.Minute/time.Second))/4 + 10
	ls := gen.Lifecycles(cfg.Seed, orders, gen.Options{Start: time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)})
	stream := gen.Stream(ls, gen.StreamOptions{Seed: cfg.Seed, Duplicates: cfg.Duplicates})
	entries := entriesFor(stream, e.primary.pipe.Resources.Bus)
	l.accepted = make([]bool, len(stream))
	pub, err := e.producer(ctx)
	if err != nil {
		return nil, err
	}

	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
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
	phase := func(p string) {
		l.mark(p)
		if cfg.Progress != nil {
			cfg.Progress(progressOf(e, l))
		}
	}

	// The producer's calls outlive "stop load" (their retries finish) but
	// not Ctrl-C.
	loadCtx, stopLoad := context.WithCancel(ctx)
	callCtx, stopCalls := context.WithCancel(ctx)
	defer stopCalls()
	var inflight sync.WaitGroup
	go l.produce(loadCtx, callCtx, pub, entries, stream, cfg.Rate, &inflight)

	var tm times
	redriven := 0
	interrupted := false
	switch cfg.Scenario {
	case RegionLoss:
		err = regionLoss(ctx, cfg, e, l, phase, &tm)
	case ProcessorFailure:
		redriven, err = processorFailure(ctx, cfg, e, l, phase, &tm)
	}
	if err == nil {
		phase("cool-down")
		err = sleep(ctx, cfg.Cooldown)
	}
	// A phase that timed out (routing never moved, replication never caught
	// up) is a failed check, not a lost report: heal and verify anyway.
	var phaseErr error
	switch {
	case ctx.Err() != nil:
		interrupted = true
		e.HealAll()
	case err != nil:
		phaseErr = err
		e.HealAll()
	}
	phase("stop load")
	stopLoad()
	waitCtx, cancelWait := context.WithTimeout(context.Background(), cfg.PhaseTimeout)
	defer cancelWait()
	waitGroup(waitCtx, &inflight)
	// Calls still retrying after the wait (an endpoint that never accepts
	// them) end here, not after the endpoint is closed; what they published
	// stays "never accepted" in the report.
	stopCalls()

	phase("quiesce")
	// Heartbeats stop so the replicas can settle; health is frozen with
	// them, as it would otherwise count the silence.
	e.stopHeartbeats()
	qctx := ctx
	if interrupted {
		var cancel context.CancelFunc
		qctx, cancel = context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
	}
	n, qerr := quiesce(qctx, cfg, e)
	redriven += n

	phase("verify")
	rep, err := l.report(context.WithoutCancel(ctx), cfg, e, ls, stream, tm, redriven)
	close(progressDone)
	progressWG.Wait()
	if err != nil {
		return nil, err
	}
	rep.Interrupted = interrupted
	rep.Checks = append(rep.Checks, check("quiesced: both regions idle, replication caught up", qerr == nil, "%s", errText(qerr, "inboxes empty, nothing in flight, nothing pending")))
	rep.Checks = append(rep.Checks, check("every phase completed in time", phaseErr == nil, "%s", errText(phaseErr, "within --phase-timeout "+cfg.PhaseTimeout.String())))
	return rep, nil
}

func errText(err error, ok string) string {
	if err != nil {
		return err.Error()
	}
	return ok
}

// produce publishes one delivery every 1/rate until loadCtx ends; each is
// retried by the publisher until accepted or callCtx ends.
func (l *ledger) produce(loadCtx, callCtx context.Context, pub *publish.Publisher, entries []ebtypes.PutEventsRequestEntry, stream []gen.Delivery, rate float64, inflight *sync.WaitGroup) {
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for i := range entries {
		select {
		case <-t.C:
		case <-loadCtx.Done():
			return
		}
		l.mu.Lock()
		l.published++
		l.mu.Unlock()
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			_, _ = pub.Publish(callCtx, entries[i:i+1], func(r publish.EntryResult) {
				if !r.Accepted() {
					return
				}
				l.mu.Lock()
				defer l.mu.Unlock()
				l.accepted[i] = true
				if a, ok := l.byEBID[r.EventID]; ok {
					l.detail[stream[i].Report.EventID] = a
				}
			})
		}()
	}
}

func waitGroup(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// regionLoss: cut the primary, wait for routing to move, keep it cut for
// the outage, heal, wait for replication to catch up and routing to fail
// back.
func regionLoss(ctx context.Context, cfg Config, e *Env, l *ledger, phase func(string), tm *times) error {
	phase("warm-up")
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return err
	}
	phase("cut " + cfg.Primary + " (" + cfg.Mode.String() + ")")
	tm.fail = time.Now()
	if err := e.Cut(cfg.Primary); err != nil {
		return err
	}
	phase("detecting")
	err := waitFor(ctx, cfg.PhaseTimeout, "failover to "+cfg.Secondary, func() bool {
		at, ok := l.transition(cfg.Primary, false, tm.fail)
		tm.routed = at
		return ok
	})
	if err != nil {
		return err
	}
	phase("failed over to " + cfg.Secondary)
	if err := sleep(ctx, cfg.Outage); err != nil {
		return err
	}
	phase("heal " + cfg.Primary)
	tm.heal = time.Now()
	e.HealAll()
	phase("catching up")
	// Caught up: every event accepted before the heal has reached the other
	// region (the load goes on, so later ones may still be pending).
	if err := waitFor(ctx, cfg.PhaseTimeout, "event replication of what was accepted before the heal", func() bool {
		return l.unreplicatedBefore(tm.heal) == 0
	}); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.PhaseTimeout)
	defer cancel()
	if err := e.repl.CaughtUp(cctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("drill: table replication did not catch up within %s: %w", cfg.PhaseTimeout, err)
	}
	phase("caught up; failing back")
	err = waitFor(ctx, cfg.PhaseTimeout, "failback to "+cfg.Primary, func() bool {
		at, ok := l.transition(cfg.Primary, true, tm.heal)
		tm.failback = at
		return ok
	})
	if err != nil {
		return err
	}
	phase("failed back to " + cfg.Primary)
	return nil
}

// processorFailure: make the primary's processor's DynamoDB calls fail for
// the outage (routing must stay), then remove the fault and redrive what
// was dead-lettered.
func processorFailure(ctx context.Context, cfg Config, e *Env, l *ledger, phase func(string), tm *times) (int, error) {
	phase("warm-up")
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return 0, err
	}
	phase("fail " + cfg.Primary + "'s processor")
	tm.fail = time.Now()
	e.primary.faulty.Store(true)
	if err := sleep(ctx, cfg.Outage); err != nil {
		return 0, err
	}
	phase("fault removed")
	tm.heal = time.Now()
	e.primary.faulty.Store(false)
	// Events failing their last retry when the fault went away reach the
	// DLQ a little later; quiesce redrives again.
	if err := sleep(ctx, 2*time.Second); err != nil {
		return 0, err
	}
	phase("redrive " + cfg.Primary + "'s DLQ")
	return redrive(ctx, e.primary)
}

// redrive republishes the region's processing DLQ to its bus.
func redrive(ctx context.Context, r *region) (int, error) {
	pub := publish.New(r.events, publish.Options{})
	outs, err := dlq.Redrive(ctx, r.sqs, r.pipe.Resources.ProcessingDLQURL, pub, dlq.RedriveOptions{Bus: r.pipe.Resources.Bus})
	n := 0
	for _, o := range outs {
		if o.Status == dlq.Redriven {
			n++
		}
	}
	if err != nil {
		return n, fmt.Errorf("redrive %s's processing DLQ: %w", r.name, err)
	}
	return n, nil
}

// quiesce waits until both regions are idle, nothing waits for event
// replication and table replication has caught up; dead letters left by
// invocation failures are redriven on the way.
func quiesce(ctx context.Context, cfg Config, e *Env) (redriven int, err error) {
	deadline := time.Now().Add(cfg.PhaseTimeout)
	for round := 0; ; round++ {
		stable := 0
		err = waitFor(ctx, time.Until(deadline), "quiesce", func() bool {
			p := e.endpoint.Pending()
			if p[cfg.Primary] == 0 && p[cfg.Secondary] == 0 && e.primary.idle(ctx) && e.second.idle(ctx) {
				stable++
			} else {
				stable = 0
			}
			return stable >= 3
		})
		if err != nil {
			return redriven, err
		}
		cctx, cancel := context.WithDeadline(ctx, deadline)
		err = e.repl.CaughtUp(cctx)
		cancel()
		if err != nil {
			return redriven, err
		}
		// Lambda's on-failure records mean an invocation failed for good:
		// after a processor failure, the operator redrives them.
		total := 0
		for _, r := range e.regions() {
			recs, err := r.deadLetters(ctx)
			if err != nil {
				return redriven, err
			}
			failed := 0
			for _, rec := range recs {
				if rec.Format == dlq.FormatLambda {
					failed++
				}
			}
			total += failed
			if failed > 0 && round < maxRedrives {
				n, err := redrive(ctx, r)
				redriven += n
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
			return redriven, fmt.Errorf("%d events still in a processing DLQ as failed invocations after %d redrives", total, maxRedrives)
		}
	}
}

// maxRedrives bounds how often quiesce redrives failed invocations.
const maxRedrives = 3

// report builds the report from the ledger and the converged tables.
func (l *ledger) report(ctx context.Context, cfg Config, e *Env, ls []gen.Lifecycle, stream []gen.Delivery, tm times, redriven int) (*Report, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rep := &Report{
		Scenario: cfg.Scenario, Primary: cfg.Primary, Secondary: cfg.Secondary, Seed: cfg.Seed,
		Period: cfg.Period, Periods: cfg.Periods, Threshold: cfg.Threshold, Rate: cfg.Rate, Lag: cfg.Lag,
		Mode: cfg.Mode.String(), Phases: append([]PhaseMark(nil), l.phases...), Health: append([]health.Transition(nil), l.health...),
		Published: l.published, Elapsed: time.Since(l.start), Redriven: redriven,
	}
	if cfg.Scenario == ProcessorFailure {
		rep.Mode = "processor DynamoDB calls fail (HTTP 500)"
	}
	for _, ok := range l.accepted {
		if ok {
			rep.Accepted++
		}
	}
	rep.Unaccepted = rep.Published - rep.Accepted
	rep.EntriesRefused = e.endpoint.Counts().FailedEntries

	route := func(d time.Duration) Duration {
		return Duration{Local: d, AWS: cfg.AWSEquivalent(d) + health.Route53Interval, Measured: true}
	}
	if !tm.routed.IsZero() {
		rep.FailureToRouted = route(tm.routed.Sub(tm.fail))
	}
	if !tm.failback.IsZero() {
		rep.HealToFailback = route(tm.failback.Sub(tm.heal))
	}
	// First event the secondary accepted after the failure and applied.
	if !tm.fail.IsZero() {
		var first time.Time
		for _, r := range l.results[cfg.Secondary] {
			a, ok := l.detail[r.EventID]
			if r.Outcome == "applied" && ok && a.Region == cfg.Secondary && a.At.After(tm.fail) && r.Done.After(a.At) && (first.IsZero() || r.Done.Before(first)) {
				first = r.Done
			}
		}
		if !first.IsZero() {
			rep.FailureToFirstApplied = route(first.Sub(tm.fail))
		}
	}
	end := tm.heal
	if end.IsZero() {
		end = time.Now()
	}
	for _, a := range l.byEBID {
		if !tm.fail.IsZero() && !a.At.Before(tm.fail) && a.At.Before(end) {
			rep.AcceptedDuringOutage++
		}
	}
	var delays []time.Duration
	for _, r := range l.replicated {
		delays = append(delays, r.At.Sub(r.AcceptedAt))
		if cfg.Scenario == RegionLoss && !tm.heal.IsZero() && r.AcceptedAt.Before(tm.heal) && !r.At.Before(tm.heal) {
			rep.WaitedForHealing++
			if r.From == cfg.Primary {
				rep.AtRisk++
			}
		}
	}
	rep.EventReplicationP50, rep.EventReplicationP99 = percentiles(delays)

	rs := e.repl.Stats()
	rep.TableReplicated = rs.AToB.Applied + rs.BToA.Applied
	rep.TableSuperseded = rs.AToB.Superseded + rs.BToA.Superseded
	rep.TableLagP50 = max(rs.AToB.LagP50, rs.BToA.LagP50)
	rep.TableLagP99 = max(rs.AToB.LagP99, rs.BToA.LagP99)

	applied := map[string]int{}
	for _, region := range []string{cfg.Primary, cfg.Secondary} {
		seen := map[string]bool{}
		for _, r := range l.results[region] {
			if r.Outcome == "applied" && !seen[r.EventID] {
				seen[r.EventID] = true
				applied[r.EventID]++
			}
		}
	}
	for _, n := range applied {
		if n == 2 {
			rep.BothApplied++
		}
	}

	// I3 first: the per-replica checks then read converged tables.
	table := e.primary.pipe.Resources.Table
	diff, err := replication.Compare(ctx, e.primary.ddb, e.second.ddb, table)
	if err != nil {
		return nil, err
	}
	rep.Replicas = diff.String()
	var dead []dlq.Record
	depth := map[string]int{}
	for _, r := range e.regions() {
		recs, err := r.deadLetters(ctx)
		if err != nil {
			return nil, err
		}
		depth[r.name] = len(recs)
		dead = append(dead, recs...)
	}
	for _, r := range e.regions() {
		rr := RegionReport{Region: r.name, Outcomes: map[string]int{}, DynamoDBOps: r.ops.counts(), OpsPerEvent: map[string]float64{}, DeadLetters: depth[r.name]}
		for _, a := range l.byEBID {
			if a.Region == r.name {
				rr.Accepted++
			}
		}
		for _, res := range l.results[r.name] {
			rr.Outcomes[res.Outcome]++
			if res.Outcome != local.OutcomeUnfinished {
				rr.Invocations++
			}
		}
		for k, n := range rr.DynamoDBOps {
			if rr.Invocations > 0 {
				rr.OpsPerEvent[k] = float64(n) / float64(rr.Invocations)
			}
		}
		st := store.New(r.ddb, table, r.name, nil)
		checks, lost, err := local.VerifyReplica(ctx, st, ls, stream, l.accepted, dead)
		if err != nil {
			return nil, fmt.Errorf("verify %s: %w", r.name, err)
		}
		rr.Checks = checks
		rep.Lost = max(rep.Lost, lost)
		rep.Regions = append(rep.Regions, rr)
	}

	rep.Checks = append(rep.Checks,
		check("0 events lost", rep.Lost == 0, "%d of %d accepted events neither recorded nor dead-lettered", rep.Lost, rep.Accepted),
		check("every published event accepted (producer retries)", rep.Unaccepted == 0, "%d of %d published never accepted", rep.Unaccepted, rep.Published),
		withInvariant("I3", check("replicas identical item by item", diff.Identical(), "%s", diff.String())),
	)
	if !diff.Identical() {
		explainDiff(ctx, &rep.Checks[len(rep.Checks)-1], e, table, diff.Differ)
	}
	switch cfg.Scenario {
	case RegionLoss:
		rep.Checks = append(rep.Checks,
			check("routing moved to the secondary", rep.FailureToRouted.Measured, "cut → routed %s", rep.FailureToRouted),
			check("an event accepted by the secondary was applied there", rep.FailureToFirstApplied.Measured, "cut → applied %s", rep.FailureToFirstApplied),
			check("routing failed back to the primary", rep.HealToFailback.Measured, "heal → failback %s", rep.HealToFailback),
		)
	case ProcessorFailure:
		moved := 0
		for _, t := range l.health {
			if t.Region == cfg.Primary && !t.Healthy {
				moved++
			}
		}
		failed := 0
		for _, res := range l.results[cfg.Primary] {
			if res.Invokes > 1 || res.Outcome == local.OutcomeFailed {
				failed++
			}
		}
		rep.Checks = append(rep.Checks,
			check("routing did not move (ingestion latency stayed low)", moved == 0, "%d transitions of %s to unhealthy", moved, cfg.Primary),
			check("events waited in retries or the DLQ", failed > 0, "%d events of %s retried or dead-lettered, %d redriven", failed, cfg.Primary, rep.Redriven),
		)
	}
	return rep, nil
}

func withInvariant(inv string, c local.Check) local.Check {
	c.Invariant = inv
	return c
}

// progressOf snapshots the environment and the ledger.
func progressOf(e *Env, l *ledger) Progress {
	p := e.snapshot()
	l.mu.Lock()
	defer l.mu.Unlock()
	p.Elapsed = time.Since(l.start)
	p.Phase = l.phase
	p.Accepted = len(l.byEBID)
	return p
}

// explainDiff lists, for the order states that differ between the replicas,
// what each replica holds and the stream history of the item in each: the
// evidence for a convergence failure.
func explainDiff(ctx context.Context, c *local.Check, e *Env, table string, keys []string) {
	for _, k := range keys {
		id := orderOfKey(k)
		if id == "" {
			c.Failures = append(c.Failures, k)
			continue
		}
		var side []string
		for _, r := range e.regions() {
			o, err := store.New(r.ddb, table, r.name, nil).GetOrder(ctx, id)
			if err != nil {
				side = append(side, fmt.Sprintf("%s: %v", r.name, err))
				continue
			}
			side = append(side, fmt.Sprintf("%s: seq %d %s %s, written by %s at %s", r.name, o.LastSeq, o.LastEventID, o.Status,
				o.ProcessedRegion, o.UpdatedAt.Format(time.RFC3339Nano)))
		}
		c.Failures = append(c.Failures, fmt.Sprintf("order %s: %s", id, strings.Join(side, "; ")))
		for _, r := range e.regions() {
			h, err := streamHistory(ctx, r, table, id)
			if err != nil {
				h = append(h, fmt.Sprintf("%s: stream: %v", r.name, err))
			}
			c.Failures = append(c.Failures, h...)
		}
	}
}
