package drill

import (
	"context"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/local"
)

// Lambda refusal: the Lambda service in the primary refuses EventBridge's
// invocations of the processor. EventBridge retries per the target's retry
// policy, then puts the event in the delivery DLQ; the invocation attempts
// start on time, so the alarm does not breach and routing stays. After the
// refusal ends, the operator redrives the delivery DLQ.
//
// The scenario deploys with tap:targetMaxEventAgeSeconds=60 (the least
// EventBridge allows), so events reach the DLQ within the drill; with the
// default 24 h they would wait in retries, which the processor-failure
// scenario's Lambda retries already show.
const LambdaRefusal Scenario = "lambda-refusal"

func lambdaRefusal() scenario {
	return scenario{
		name:       LambdaRefusal,
		about:      "the primary's Lambda service refuses invocations → EventBridge retries, then its delivery DLQ → routing stays → redrive",
		longOutage: true,
		overrides:  map[string]any{config.KeyTargetMaxEventAgeSeconds: 60},
		run: func(ctx context.Context, d *drillRun) error {
			p := d.spec.Primary
			return d.stayThenRedrive(ctx, "Lambda in "+p+" refuses invocations", func() error { return d.e.RefuseInvocations(p) },
				"Lambda in "+p+" accepts again", delivery)
		},
		checks: func(d *drillRun, rep *Report) []local.Check {
			failed := 0
			for _, r := range d.l.settledIn(d.spec.Primary) {
				if r.Outcome == local.OutcomeDeliveryFailed {
					failed++
				}
			}
			left := -1
			if rr := rep.region(d.spec.Primary); rr != nil {
				left = rr.DeliveryDeadLetters
			}
			return []local.Check{
				routeChanges(d, rep, 0),
				check("refused events reached the delivery DLQ as EventBridge's records", failed > 0,
					"%d events of %s exhausted the target retry policy (maximum event age %s, scaled %s); %d redriven",
					failed, d.spec.Primary, d.spec.Target.MaximumEventAge, d.e.Scale().Local(d.spec.Target.MaximumEventAge), rep.Redriven),
				check("delivery DLQ empty after the redrive", left == 0, "%d left in %s's delivery DLQ", left, d.spec.Primary),
			}
		},
	}
}
