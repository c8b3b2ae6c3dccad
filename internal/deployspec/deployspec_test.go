package deployspec

import (
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/schema"
)

func TestScheduleExpression(t *testing.T) {
	for rate, want := range map[time.Duration]string{
		time.Minute:        "rate(1 minute)",
		5 * time.Minute:    "rate(5 minutes)",
		90 * time.Minute:   "rate(90 minutes)",
		time.Hour:          "rate(1 hour)",
		2 * time.Hour:      "rate(2 hours)",
		24 * time.Hour:     "rate(1 day)",
		7 * 24 * time.Hour: "rate(7 days)",
	} {
		if got := (Heartbeat{Rate: rate}).ScheduleExpression(); got != want {
			t.Errorf("ScheduleExpression(%s) = %q, want %q", rate, got, want)
		}
	}
	for _, rate := range []time.Duration{0, -time.Minute, 30 * time.Second, 90 * time.Second} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("ScheduleExpression(%s) did not panic", rate)
				}
			}()
			_ = (Heartbeat{Rate: rate}).ScheduleExpression()
		}()
	}
}

// TestForDefaults: the design's values (DESIGN §1, §3, §4) from the default config.
func TestForDefaults(t *testing.T) {
	s := For(config.Defaults())
	a := s.HealthAlarm
	if a.Period != time.Minute || a.EvaluationPeriods != 5 || a.DatapointsToAlarm != 5 || a.Threshold != 30000 ||
		a.Statistic != "Average" || a.ComparisonOperator != "GreaterThanThreshold" || a.TreatMissingData != "breaching" {
		t.Errorf("health alarm = %+v, want Average over 60 s > 30000 ms for 5 of 5, missing data breaching", a)
	}
	if s.HealthCheck.InsufficientDataHealthStatus != "Unhealthy" {
		t.Errorf("InsufficientDataHealthStatus = %s, want Unhealthy", s.HealthCheck.InsufficientDataHealthStatus)
	}
	if s.Target.MaximumRetryAttempts != 185 || s.Target.MaximumEventAge != 24*time.Hour {
		t.Errorf("target retry policy = %+v, want 185 attempts over 24 h", s.Target)
	}
	if s.Function.AsyncRetryAttempts != 2 || s.Function.AsyncMaxEventAge != 6*time.Hour {
		t.Errorf("async invoke config = %+v, want 2 retries over 6 h", s.Function)
	}
	if s.DLQ.Retention != 14*24*time.Hour {
		t.Errorf("DLQ retention = %s, want 14 days", s.DLQ.Retention)
	}
	if s.Table.Billing != BillingPayPerRequest || s.Table.StreamViewType != StreamViewNewAndOldImages || s.Table.Keys.Indexes[0].Projection != schema.KeysOnly {
		t.Errorf("table = %+v", s.Table)
	}
	if hb := s.Heartbeat; hb.ScheduleExpression() != "rate(1 minute)" || hb.MaxEventAge != hb.Rate || hb.RetryAttempts != 2 {
		t.Errorf("heartbeat = %+v, want every minute, 2 retries within one rate", hb)
	}
	if s.Peer(s.Primary) != s.Secondary || s.Peer(s.Secondary) != s.Primary {
		t.Errorf("Peer is not the other region of %v", s.Regions())
	}
}
