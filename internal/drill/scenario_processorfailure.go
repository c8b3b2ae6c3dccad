package drill

import (
	"context"
	"github.com/tap-trading/tap/internal/twin"

	"github.com/tap-trading/tap/internal/local"
)

// Processor failure: the primary's processor's DynamoDB calls fail. The
// invocations still start on time, so the alarm does not breach and routing
// must not move; the events wait in Lambda's retries and the processing
// DLQ, and are redriven once the fault is gone.
const ProcessorFailure Scenario = "processor-failure"

func processorFailure() scenario {
	return scenario{
		name:       ProcessorFailure,
		about:      "the primary's processor's DynamoDB calls fail → routing must not move → fault removed, dead letters redriven",
		longOutage: true,
		run: func(ctx context.Context, d *drillRun) error {
			p := d.spec.Primary
			return d.stayThenRedrive(ctx, "fail "+p+"'s processor", func() error { return d.e.FailProcessor(p) },
				"fault removed in "+p, processing)
		},
		checks: func(d *drillRun, rep *Report) []local.Check {
			failed := 0
			for _, r := range d.l.settledIn(d.spec.Primary) {
				if r.Invokes > 1 || r.Outcome == local.OutcomeFailed {
					failed++
				}
			}
			errs := 0
			if rr := rep.region(d.spec.Primary); rr != nil {
				errs = rr.DynamoDBOps[twin.OpError]
			}
			return []local.Check{
				routeChanges(d, rep, 0),
				check("events waited in retries or the DLQ", failed > 0 && errs > 0,
					"%d events of %s retried or dead-lettered (%d failed DynamoDB calls), %d redriven", failed, d.spec.Primary, errs, rep.Redriven),
			}
		},
	}
}
