package drill

import (
	"context"

	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/partition"
)

// Partition: only the path between the regions is cut (hung): both regions
// serve their clients and process; event and table replication wait.
// Routing must not move, and the replicas converge once the link heals.
const Partition Scenario = "partition"

func linkPartition() scenario {
	return scenario{
		name:  Partition,
		about: "cut only the link between the regions (hung) → both stay up, routing stays → heal → the replicas converge",
		run: func(ctx context.Context, d *drillRun) error {
			return d.stay(ctx, "cut the link "+d.spec.Primary+" ↔ "+d.spec.Secondary+" (hang)", func() error { return d.e.CutLink(partition.Hang) },
				"heal the link", func() error { d.e.HealAll(); return nil })
		},
		checks: func(d *drillRun, rep *Report) []local.Check {
			return []local.Check{routeChanges(d, rep, 0), bothProcessedDuringCut(d, rep), waitedForHealing(rep), drainedAfterHeal(d, rep)}
		},
	}
}
