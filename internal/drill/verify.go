package drill

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/replication"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
	"github.com/tap-trading/tap/internal/twin"
)

// report builds the report from the ledger and the converged tables: every
// check reads the tables and the DLQs, not counters.
func (d *drillRun) report(ctx context.Context, ls []gen.Lifecycle, stream []gen.Delivery, sc scenario) (*Report, error) {
	l, e, cfg, spec := d.l, d.e, d.cfg, d.spec
	scale := e.Scale()
	// The ledger is read under its lock up to the table checks; those and the
	// scenario's checks (which read the ledger themselves) run without it.
	l.mu.Lock()
	rep := &Report{
		Scenario: cfg.Scenario, About: sc.about, Primary: spec.Primary, Secondary: spec.Secondary, Seed: cfg.Seed,
		Period: cfg.Period, Scale: fmt.Sprintf("1/%g", 1/scale.Factor()),
		Alarm: fmt.Sprintf("%s %s of %s > %gms (scaled %s) in %d of %d periods, missing data %s; health check insufficient data: %s",
			spec.HealthAlarm.Statistic, spec.HealthAlarm.Period, spec.HealthAlarm.MetricName, spec.HealthAlarm.Threshold,
			scale.Local(time.Duration(spec.HealthAlarm.Threshold*float64(time.Millisecond))),
			spec.HealthAlarm.DatapointsToAlarm, spec.HealthAlarm.EvaluationPeriods, spec.HealthAlarm.TreatMissingData,
			spec.HealthCheck.InsufficientDataHealthStatus),
		Rate: cfg.Rate, Lag: cfg.Lag, LagJitter: cfg.LagJitter, Skew: cfg.Skew,
		Phases: append([]PhaseMark(nil), l.phases...), Alarms: append(l.alarms[:0:0], l.alarms...),
		HealthChecks: append(l.health[:0:0], l.health...), Published: l.published, Elapsed: time.Since(l.start),
		Redriven: d.redriven, Survived: maps.Clone(l.survived), Started: l.start,
	}
	for k, v := range sc.overrides {
		rep.Overrides = append(rep.Overrides, fmt.Sprintf("%s=%v", k, v))
	}
	if cfg.InsufficientData != "" {
		rep.Overrides = append(rep.Overrides, "tap:healthCheckInsufficientData="+cfg.InsufficientData)
	}
	if cfg.Consistency == schema.Strong {
		rep.Overrides = append(rep.Overrides, "tap:tableConsistency=strong")
	}
	slices.Sort(rep.Overrides)
	for _, r := range l.routes {
		rep.Routes = append(rep.Routes, RouteMark{Region: r.Region, At: r.At.Sub(l.start)})
	}
	for _, ok := range l.accepted {
		if ok {
			rep.Accepted++
		}
	}
	rep.Unaccepted = rep.Published - rep.Accepted
	counts := e.EndpointCounts()
	rep.EntriesRefused, rep.ReplicationsExpired = counts.FailedEntries, counts.Expired

	measure := func(dur time.Duration) Duration { return Duration{Local: dur, AWS: scale.AWS(dur), Measured: true} }
	if !d.fail.IsZero() {
		for _, h := range l.health {
			if !h.Healthy && !h.At.Before(d.fail) {
				rep.FailureToRouted = measure(h.At.Sub(d.fail))
				break
			}
		}
	}
	if !d.heal.IsZero() {
		for _, h := range l.health {
			if h.Healthy && !h.At.Before(d.heal) {
				rep.HealToFailback = measure(h.At.Sub(d.heal))
				break
			}
		}
	}
	// First event the secondary accepted after the failure and applied.
	if !d.fail.IsZero() {
		var first time.Time
		for _, r := range l.results[spec.Secondary] {
			a, ok := l.detail[r.EventID]
			if r.Outcome == "applied" && ok && a.Region == spec.Secondary && a.At.After(d.fail) && r.Done.After(a.At) && (first.IsZero() || r.Done.Before(first)) {
				first = r.Done
			}
		}
		if !first.IsZero() {
			rep.FailureToFirstApplied = measure(first.Sub(d.fail))
		}
	}
	end := d.heal
	if end.IsZero() {
		end = time.Now()
	}
	for _, a := range l.byEBID {
		if !d.fail.IsZero() && !a.At.Before(d.fail) && a.At.Before(end) {
			rep.AcceptedDuringOutage++
		}
	}
	var delays []time.Duration
	for _, r := range l.replicated {
		delays = append(delays, r.At.Sub(r.AcceptedAt))
		if !d.heal.IsZero() && r.AcceptedAt.Before(d.heal) && !r.At.Before(d.heal) && !r.AcceptedAt.Before(d.fail) {
			rep.WaitedForHealing++
			if r.From == spec.Primary {
				rep.AtRisk++
			}
		}
	}
	rep.EventReplicationP50, rep.EventReplicationP99 = percentiles(delays)

	rep.Consistency, rep.RPORegion = spec.Table.Consistency, spec.Primary
	if sc.failsSecondary {
		rep.RPORegion = spec.Secondary
	}
	if g := e.StrongTable(); g != nil {
		st := g.Stats()
		t := st.Total()
		rep.Strong = &StrongTableReport{
			AckedBoth: t.AckedBoth, AckedViaWitness: t.AckedViaWitness, Conflicts: t.Conflicts,
			WriteRefusals: t.WriteRefusals, ReadRefusals: t.ReadRefusals,
			WriteLatencyMean: t.MeanWriteLatencyAdded(), WriteLatencyMax: t.MaxWriteLatencyAdded,
			RoundTrip: twin.QuorumDelay(spec),
		}
		if !d.fail.IsZero() {
			rep.RPOViaWitness = g.RelayedAfter(rep.RPORegion, d.fail)
		}
	} else {
		rs := e.Replication().Stats()
		rep.TableReplicated = rs.AToB.Applied + rs.BToA.Applied
		rep.TableSuperseded = rs.AToB.Superseded + rs.BToA.Superseded
		rep.TableLagP50 = max(rs.AToB.LagP50, rs.BToA.LagP50)
		rep.TableLagP99 = max(rs.AToB.LagP99, rs.BToA.LagP99)
		if !d.fail.IsZero() {
			rep.RPOWrites = e.Replication().Stranded(rep.RPORegion, d.fail)
		}
	}

	applied := map[string]int{}
	for _, region := range []string{spec.Primary, spec.Secondary} {
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

	results := map[string][]local.Result{}
	for k, v := range l.results {
		results[k] = slices.Clone(v)
	}
	byEBID, accepted := maps.Clone(l.byEBID), slices.Clone(l.accepted)
	l.mu.Unlock()

	// A region's local AWS may stop answering (overload, a crashed
	// emulator): every check still runs on what can be read, one that
	// cannot read fails naming the region and the cause, and the report
	// is never lost. unreadable collects the causes.
	unread := func(region, what string, err error) {
		rep.Unreadable = append(rep.Unreadable, fmt.Sprintf("%s: %s: %v", region, what, err))
	}

	// I3 first: the per-replica checks then read converged tables.
	table := spec.Table.Name
	pc, sc2 := e.Clients(spec.Primary), e.Clients(spec.Secondary)
	diff, err := replication.Compare(ctx, pc.DynamoDB, sc2.DynamoDB, table)
	compared := err == nil
	if compared {
		rep.Replicas = diff.String()
	} else {
		rep.Replicas = "not compared"
		unread(spec.Primary+" and "+spec.Secondary, "compare the replicas (A is "+spec.Primary+", B "+spec.Secondary+")", err)
	}
	dead := map[string][]dlq.Record{}
	var allDead []dlq.Record
	for _, region := range []string{spec.Primary, spec.Secondary} {
		proc, del, err := e.DeadLetters(ctx, region)
		if err != nil {
			unread(region, "read the dead-letter queues", err)
		}
		dead[region] = proc
		allDead = append(allDead, proc...)
		allDead = append(allDead, del...)
		rr := RegionReport{Region: region, Outcomes: map[string]int{}, DynamoDBOps: e.DynamoDBOps(region), OpsPerEvent: map[string]float64{},
			DeadLetters: len(proc), DeliveryDeadLetters: len(del)}
		for _, a := range byEBID {
			if a.Region == region {
				rr.Accepted++
			}
		}
		for _, res := range results[region] {
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
		rep.Regions = append(rep.Regions, rr)
	}
	for i, region := range []string{spec.Primary, spec.Secondary} {
		st := store.New(e.Clients(region).DynamoDB, table, region, nil)
		checks, lost, err := local.VerifyReplica(ctx, st, ls, stream, accepted, allDead)
		if err != nil {
			unread(region, "read the replica for I1/I2", err)
			checks = []local.Check{check("I1/I2 "+region+": the replica read", false, "%v", err)}
		}
		rep.Regions[i].Checks = checks
		rep.Lost = max(rep.Lost, lost)
	}
	conflicts, err := checkConflicts(ctx, e.Clients(spec.Primary).DynamoDB, table, spec, stream, accepted, dead)
	if err != nil {
		unread(spec.Primary, "check the conflicts", err)
		conflicts = check(conflicts.Name, false, "not checked: %v", err)
	}
	rep.Conflicts = conflicts.Detail

	lostCheck := check("0 events lost", rep.Lost == 0, "%d of %d accepted events neither recorded nor dead-lettered", rep.Lost, rep.Accepted)
	if len(rep.Unreadable) > 0 {
		lostCheck = check(lostCheck.Name, false, "not established: %d of %d accepted events counted lost on what could be read; unreadable: %s",
			rep.Lost, rep.Accepted, strings.Join(rep.Unreadable, "; "))
	}
	i3 := withInvariant("I3", check("replicas identical item by item", compared && diff.Identical(), "%s", diff.String()))
	if !compared {
		i3.Detail = "not compared: " + rep.Unreadable[0]
	}
	rep.Checks = append(rep.Checks,
		lostCheck,
		check("every published event accepted (producer retries)", rep.Unaccepted == 0, "%d of %d published never accepted", rep.Unaccepted, rep.Published),
		i3,
		conflicts,
	)
	if compared && !diff.Identical() {
		explainDiff(ctx, &rep.Checks[len(rep.Checks)-2], d, table, diff.Differ)
	}
	rep.Checks = append(rep.Checks, sc.checks(d, rep)...)
	return rep, nil
}

func withInvariant(inv string, c local.Check) local.Check {
	c.Invariant = inv
	return c
}

// explainDiff lists, for the order states that differ between the replicas,
// what each replica holds and the stream history of the item in each: the
// evidence for a convergence failure.
func explainDiff(ctx context.Context, c *local.Check, d *drillRun, table string, keys []string) {
	regions := []string{d.spec.Primary, d.spec.Secondary}
	for _, k := range keys {
		id := orderOfKey(k)
		if id == "" {
			c.Failures = append(c.Failures, k)
			continue
		}
		var side []string
		for _, r := range regions {
			o, err := store.New(d.e.Clients(r).DynamoDB, table, r, nil).GetOrder(ctx, id)
			if err != nil {
				side = append(side, fmt.Sprintf("%s: %v", r, err))
				continue
			}
			side = append(side, fmt.Sprintf("%s: seq %d %s %s, written by %s at %s", r, o.LastSeq, o.LastEventID, o.Status,
				o.ProcessedRegion, o.UpdatedAt.Format(time.RFC3339Nano)))
		}
		c.Failures = append(c.Failures, fmt.Sprintf("order %s: %s", id, strings.Join(side, "; ")))
		for _, r := range regions {
			h, err := streamHistory(ctx, d.e.Clients(r), r, table, id)
			if err != nil {
				h = append(h, fmt.Sprintf("%s: stream: %v", r, err))
			}
			c.Failures = append(c.Failures, h...)
		}
	}
}
