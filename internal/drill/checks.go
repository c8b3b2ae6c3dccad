package drill

import (
	"fmt"
	"time"

	"github.com/tap-trading/tap/internal/local"
)

// The checks scenarios choose from. Each bounds what it asserts in time
// where the deployment bounds it (Config.windowsOf).

// routedWithin: routing moved to the secondary, within bound of the
// failure.
func routedWithin(rep *Report, bound time.Duration, why string) local.Check {
	d := rep.FailureToRouted
	return check("routing moved to the secondary within "+bound.String(), d.Measured && d.Local <= bound,
		"failure → routed %s (%s)", d, why)
}

// failedBackWithin: routing came back to the primary, within bound of the
// recovery.
func failedBackWithin(rep *Report, bound time.Duration) local.Check {
	d := rep.HealToFailback
	return check("routing failed back to the primary within "+bound.String(), d.Measured && d.Local <= bound,
		"recovery → failback %s", d)
}

// routeChanges: routing changed exactly want times after the failure, and
// never before it (no spurious failover on the fresh deploy or the
// warm-up).
func routeChanges(d *drillRun, rep *Report, want int) local.Check {
	before, after := 0, 0
	var seq []string
	for _, r := range d.l.routesSnapshot() {
		if r.At.Before(d.fail) {
			before++
		} else {
			after++
		}
		seq = append(seq, r.Region)
	}
	name := fmt.Sprintf("routing changed %d times after the failure (no flapping), none before", want)
	if want == 0 {
		name = "routing did not move"
	}
	return check(name, before == 0 && after == want, "%d changes before the failure, %d after: %v", before, after, seq)
}

// appliedThroughSecondary: an event the secondary accepted while the
// primary was failed over was applied there before the recovery.
func appliedThroughSecondary(d *drillRun, rep *Report) local.Check {
	return check("an event accepted by the secondary during the outage was applied there during it",
		rep.FailureToFirstApplied.Measured && (d.heal.IsZero() || rep.FailureToFirstApplied.Local <= d.heal.Sub(d.fail)),
		"failure → first applied through the secondary %s; recovery at %s", rep.FailureToFirstApplied, d.heal.Sub(d.fail).Round(10*time.Millisecond))
}

// waitedForHealing: some replication had to wait for the failure to end.
func waitedForHealing(rep *Report) local.Check {
	return check("some event's replication waited for the recovery", rep.WaitedForHealing > 0,
		"%d events waited (%d accepted by the primary, at risk while it was cut)", rep.WaitedForHealing, rep.AtRisk)
}

// drainedAfterHeal: what waited was delivered after the recovery, in time.
func drainedAfterHeal(d *drillRun, rep *Report) local.Check {
	at := d.l.lastReplicationOfBefore(d.heal)
	ok := !at.IsZero() && at.Sub(d.heal) <= d.cfg.PhaseTimeout
	return check("the replication backlog drained after the recovery", ok && rep.WaitedForHealing > 0,
		"%d waiting events delivered by recovery + %s", rep.WaitedForHealing, at.Sub(d.heal).Round(10*time.Millisecond))
}

// bothProcessedDuringCut: both regions kept processing while the link was
// cut (each applied something: its own events or heartbeats).
func bothProcessedDuringCut(d *drillRun, rep *Report) local.Check {
	n := map[string]int{}
	for _, region := range []string{d.spec.Primary, d.spec.Secondary} {
		for _, r := range d.l.settledIn(region) {
			if r.Outcome != local.OutcomeUnfinished && r.Done.After(d.fail) && r.Done.Before(d.heal) {
				n[region]++
			}
		}
	}
	return check("both regions kept processing during the cut", n[d.spec.Primary] > 0 && n[d.spec.Secondary] > 0,
		"settled during the cut: %s %d, %s %d", d.spec.Primary, n[d.spec.Primary], d.spec.Secondary, n[d.spec.Secondary])
}
