package drill

import (
	"context"
	"time"

	"github.com/tap-trading/tap/internal/local"
)

// Brownout: the primary answers, slowly — every call into it takes longer
// than the alarm's threshold. EventBridge's invocations start late, the
// alarm breaches, routing moves; when the primary is fast again one good
// datapoint brings the alarm back to OK and routing back, once.
const Brownout Scenario = "brownout"

func brownout() scenario {
	return scenario{
		name:  Brownout,
		about: "slow every call into the primary past the alarm's threshold → routing moves → fast again → fails back, no flapping",
		run: func(ctx context.Context, d *drillRun) error {
			p := d.spec.Primary
			slow := brownoutDelay(d)
			return d.failover(ctx, "slow "+p+" (+"+slow.String()+" a call)", func() error { return d.e.Slow(p, slow) },
				p+" fast again", func() error { return d.e.Heal(p) })
		},
		checks: func(d *drillRun, rep *Report) []local.Check {
			return []local.Check{
				routedWithin(rep, d.win.detect, "the alarm breaches on slow invocations"),
				appliedThroughSecondary(d, rep),
				routeChanges(d, rep, 2),
				failedBackWithin(rep, d.win.recover),
			}
		},
	}
}

// brownoutDelay is how much slower each call into the primary gets: one
// and a half times the alarm's threshold, scaled, so every invocation in
// the primary starts past it.
func brownoutDelay(d *drillRun) time.Duration {
	threshold := time.Duration(d.spec.HealthAlarm.Threshold * float64(time.Millisecond))
	return d.e.Scale().Local(threshold) * 3 / 2
}
