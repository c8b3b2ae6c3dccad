package deployspec

import (
	"slices"
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

// TestForConsistency: the table's consistency, third Region, stream and
// replicas in each mode (DESIGN §3, strong consistency).
func TestForConsistency(t *testing.T) {
	load := func(t *testing.T, ctx map[string]any) Spec {
		t.Helper()
		c, err := config.Load(ctx, map[string]string{config.EnvAlertEmail: "ops@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		return For(c)
	}
	tests := []struct {
		name            string
		ctx             map[string]any
		consistency     schema.Consistency
		cfn, stream     string
		witness         string
		replicas        []string
		thirdRegion     string
		thirdRegionRole config.ThirdRegionRole
	}{
		{"eventual", nil, schema.Eventual, "", StreamViewNewAndOldImages, "", []string{"us-east-1", "us-west-2"}, "", ""},
		{"strong with a witness", map[string]any{config.KeyTableConsistency: "strong"},
			schema.Strong, "STRONG", "", "us-east-2", []string{"us-east-1", "us-west-2"}, "us-east-2", config.Witness},
		{"strong with a third replica", map[string]any{config.KeyTableConsistency: "strong", config.KeyMRSCThirdRegionRole: "replica"},
			schema.Strong, "STRONG", "", "", []string{"us-east-1", "us-west-2", "us-east-2"}, "us-east-2", config.ThirdReplica},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := load(t, tt.ctx)
			tb := s.Table
			if tb.Consistency != tt.consistency || tb.MultiRegionConsistency() != tt.cfn || tb.StreamViewType != tt.stream {
				t.Errorf("table consistency %q (MultiRegionConsistency %q), stream %q; want %q (%q), %q",
					tb.Consistency, tb.MultiRegionConsistency(), tb.StreamViewType, tt.consistency, tt.cfn, tt.stream)
			}
			if tb.ThirdRegion != tt.thirdRegion || tb.ThirdRegionRole != tt.thirdRegionRole || tb.Witness() != tt.witness {
				t.Errorf("third region %q (%q), witness %q; want %q (%q), %q", tb.ThirdRegion, tb.ThirdRegionRole, tb.Witness(), tt.thirdRegion, tt.thirdRegionRole, tt.witness)
			}
			if got := s.TableReplicas(); !slices.Equal(got, tt.replicas) {
				t.Errorf("TableReplicas() = %v, want %v", got, tt.replicas)
			}
			// The processors still run in the primary and secondary only.
			if got := s.Regions(); !slices.Equal(got, []string{"us-east-1", "us-west-2"}) {
				t.Errorf("Regions() = %v, want the primary and secondary", got)
			}
		})
	}
}
