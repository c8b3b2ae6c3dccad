package drill

import (
	"context"
	"fmt"
	"time"

	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/twin"
)

// scenario is one failure drill: what it injects and heals (run), and what
// it promises (checks), beside the checks every drill makes.
type scenario struct {
	name  Scenario
	about string
	// longOutage: the failure lasts 7 periods by default (it must outlast
	// retries), not 3.
	longOutage bool
	// failsSecondary: the failure is the secondary's; the table's RPO is
	// measured for it (else for the primary).
	failsSecondary bool
	// overrides are deployment settings the scenario runs with, as `cdk
	// deploy -c key=value` would set them; the report lists them.
	overrides map[string]any
	run       func(ctx context.Context, d *drillRun) error
	checks    func(d *drillRun, rep *Report) []local.Check
}

// all is every scenario, in the order `make drill` runs them.
func all() []scenario {
	return []scenario{
		regionLoss(), regionLossHang(), brownout(), secondaryLoss(), linkPartition(),
		monitoringLost(), lambdaRefusal(), processorFailure(),
	}
}

// lookup finds a scenario by name.
func lookup(name Scenario) (scenario, bool) {
	for _, s := range all() {
		if s.name == name {
			return s, true
		}
	}
	return scenario{}, false
}

// Names lists every scenario's name, in the order All runs them.
func Names() []string {
	var out []string
	for _, s := range all() {
		out = append(out, string(s.name))
	}
	return out
}

// All returns every scenario's name.
func All() []Scenario {
	var out []Scenario
	for _, s := range all() {
		out = append(out, s.name)
	}
	return out
}

// About is one line on what a scenario does, for help texts.
func About(name Scenario) string {
	s, _ := lookup(name)
	return s.about
}

// drillRun is one drill in progress: the twin, the ledger, the times of
// what happened.
type drillRun struct {
	cfg  Config
	spec deployspec.Spec
	win  windows
	e    *twin.Env
	l    *ledger
	// phase marks a new phase of the drill.
	phase func(string)
	// fail is when the failure was injected, heal when it ended.
	fail, heal time.Time
	// redriven counts dead letters redriven.
	redriven int
}

// injectAfterWarmup runs the warm-up, then inject, marking the failure.
func (d *drillRun) injectAfterWarmup(ctx context.Context, what string, inject func() error) error {
	d.phase("warm-up")
	if err := sleep(ctx, d.cfg.Warmup); err != nil {
		return err
	}
	d.phase(what)
	d.fail = time.Now()
	return inject()
}

// healNow ends the failure, marking the time.
func (d *drillRun) healNow(what string, heal func() error) error {
	d.phase(what)
	d.heal = time.Now()
	return heal()
}

// awaitHealth waits for the health check to turn healthy (or not) after t.
func (d *drillRun) awaitHealth(ctx context.Context, healthy bool, after time.Time, what string) (time.Time, error) {
	var at time.Time
	err := waitFor(ctx, d.cfg.PhaseTimeout, what, func() bool {
		var ok bool
		at, ok = d.l.healthChange(healthy, after)
		return ok
	})
	return at, err
}

// awaitCaughtUp waits until every event accepted before t reached the other
// region and table replication has caught up.
func (d *drillRun) awaitCaughtUp(ctx context.Context, t time.Time) error {
	if err := waitFor(ctx, d.cfg.PhaseTimeout, "event replication of what was accepted before "+t.Format("15:04:05.000"), func() bool {
		return d.l.unreplicatedBefore(t) == 0
	}); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, d.cfg.PhaseTimeout)
	defer cancel()
	if err := d.e.TableCaughtUp(cctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("drill: table replication did not catch up within %s: %w", d.cfg.PhaseTimeout, err)
	}
	return nil
}

// failover runs the common shape of a failover drill: inject after the
// warm-up, wait for routing to move, hold the outage, heal, wait for the
// regions to catch up and routing to fail back.
func (d *drillRun) failover(ctx context.Context, what string, inject func() error, healWhat string, heal func() error) error {
	if err := d.injectAfterWarmup(ctx, what, inject); err != nil {
		return err
	}
	d.phase("detecting")
	if _, err := d.awaitHealth(ctx, false, d.fail, "failover to "+d.spec.Secondary); err != nil {
		return err
	}
	d.phase("failed over to " + d.spec.Secondary)
	if err := sleep(ctx, d.cfg.Outage); err != nil {
		return err
	}
	if err := d.healNow(healWhat, heal); err != nil {
		return err
	}
	d.phase("catching up; failing back")
	if _, err := d.awaitHealth(ctx, true, d.heal, "failback to "+d.spec.Primary); err != nil {
		return err
	}
	d.phase("failed back to " + d.spec.Primary)
	return d.awaitCaughtUp(ctx, d.heal)
}

// stay runs the common shape of a drill in which routing must not move:
// inject after the warm-up, hold it for the outage (at least as long as
// the alarm would need to fire), heal, and wait for the regions to catch up.
func (d *drillRun) stay(ctx context.Context, what string, inject func() error, healWhat string, heal func() error) error {
	if err := d.injectAfterWarmup(ctx, what, inject); err != nil {
		return err
	}
	d.phase("holding (routing must stay on " + d.spec.Primary + ")")
	if err := sleep(ctx, max(d.cfg.Outage, d.win.detect)); err != nil {
		return err
	}
	if err := d.healNow(healWhat, heal); err != nil {
		return err
	}
	d.phase("catching up")
	return d.awaitCaughtUp(ctx, d.heal)
}

// stayThenRedrive is stay followed by the operator's redrive of one of the
// primary's DLQs: the shape of the drills whose events wait in a DLQ.
func (d *drillRun) stayThenRedrive(ctx context.Context, what string, inject func() error, healWhat string, q queueKind) error {
	p := d.spec.Primary
	if err := d.stay(ctx, what, inject, healWhat, func() error { return d.e.Heal(p) }); err != nil {
		return err
	}
	d.phase("redrive " + p + "'s " + q.String() + " DLQ")
	n, err := redrive(ctx, d.e, p, q)
	d.redriven += n
	return err
}
