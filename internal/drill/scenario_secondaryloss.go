package drill

import (
	"context"

	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/partition"
)

// Secondary loss: the secondary is cut off. Routing depends on the
// primary's health alone and must not move; what the primary replicates to
// the secondary waits, and drains when it heals.
const SecondaryLoss Scenario = "secondary-loss"

func secondaryLoss() scenario {
	return scenario{
		name:           SecondaryLoss,
		failsSecondary: true,
		about:          "cut the whole secondary → routing must not move → heal → the replication backlog drains",
		run: func(ctx context.Context, d *drillRun) error {
			s := d.spec.Secondary
			return d.stay(ctx, "cut "+s+" (refuse)", func() error { return d.e.Cut(s, partition.Refuse) },
				"heal "+s, func() error { return d.e.Heal(s) })
		},
		checks: func(d *drillRun, rep *Report) []local.Check {
			return []local.Check{routeChanges(d, rep, 0), waitedForHealing(rep), drainedAfterHeal(d, rep)}
		},
	}
}
