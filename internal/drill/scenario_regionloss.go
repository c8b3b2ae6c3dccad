package drill

import (
	"context"

	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/partition"
)

// Region loss: the whole primary is cut off — its clients, the link to the
// secondary, and its CloudWatch as Route 53 sees it. Route 53 cannot read
// the alarm, so the health check takes its InsufficientDataHealthStatus:
// Unhealthy fails over within one read; LastKnownStatus never does (the
// evidence for DESIGN §1's choice).
const (
	RegionLoss     Scenario = "region-loss"
	RegionLossHang Scenario = "region-loss-hang"
)

func regionLoss() scenario     { return regionLossIn(RegionLoss, partition.Refuse) }
func regionLossHang() scenario { return regionLossIn(RegionLossHang, partition.Hang) }

func regionLossIn(name Scenario, mode partition.Mode) scenario {
	return scenario{
		name:  name,
		about: "cut the whole primary (connections " + map[partition.Mode]string{partition.Refuse: "refused", partition.Hang: "hung"}[mode] + ") → routing moves → heal → catch up → fail back",
		run: func(ctx context.Context, d *drillRun) error {
			p := d.spec.Primary
			return d.failover(ctx, "cut "+p+" ("+mode.String()+")", func() error { return d.e.Cut(p, mode) },
				"heal "+p, func() error { return d.e.Heal(p) })
		},
		checks: func(d *drillRun, rep *Report) []local.Check {
			return []local.Check{
				routedWithin(rep, d.win.unreadable, "Route 53 cannot read the cut region's alarm: InsufficientDataHealthStatus "+d.spec.HealthCheck.InsufficientDataHealthStatus),
				appliedThroughSecondary(d, rep),
				routeChanges(d, rep, 2),
				waitedForHealing(rep),
				failedBackWithin(rep, d.win.recover),
			}
		},
	}
}
