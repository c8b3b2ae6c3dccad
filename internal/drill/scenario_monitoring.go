package drill

import (
	"context"

	"github.com/tap-trading/tap/internal/local"
)

// Monitoring lost: the primary's CloudWatch stops evaluating and Route 53
// cannot read the alarm, while the pipeline itself works. The health check
// takes its InsufficientDataHealthStatus: with Unhealthy (the deployed
// choice) routing moves to the secondary — a needless but safe failover:
// both regions process every event — and back when monitoring returns; with
// LastKnownStatus it stays.
const MonitoringLost Scenario = "monitoring-lost"

func monitoringLost() scenario {
	return scenario{
		name:  MonitoringLost,
		about: "the primary's CloudWatch is lost (the pipeline works) → routing follows InsufficientDataHealthStatus → monitoring back",
		run: func(ctx context.Context, d *drillRun) error {
			p := d.spec.Primary
			inject := func() error { return d.e.LoseMonitoring(p) }
			heal := func() error { return d.e.Heal(p) }
			if d.spec.HealthCheck.InsufficientDataHealthStatus == "Unhealthy" {
				return d.failover(ctx, "lose "+p+"'s monitoring", inject, "monitoring back in "+p, heal)
			}
			return d.stay(ctx, "lose "+p+"'s monitoring", inject, "monitoring back in "+p, heal)
		},
		checks: func(d *drillRun, rep *Report) []local.Check {
			if d.spec.HealthCheck.InsufficientDataHealthStatus == "Unhealthy" {
				return []local.Check{
					routedWithin(rep, d.win.unreadable, "Route 53 cannot read the alarm: InsufficientDataHealthStatus Unhealthy"),
					routeChanges(d, rep, 2),
					failedBackWithin(rep, d.win.recover),
				}
			}
			return []local.Check{routeChanges(d, rep, 0)}
		},
	}
}
