package route53_test

import (
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/twin/cloudwatch"
	"github.com/tap-trading/tap/internal/twin/route53"
)

// The deployed health alarm and check (internal/deployspec), scaled 1:60:
// a 60 s period is 1 s here.
const scale = 60

var t0 = time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)

func scaled(d time.Duration) time.Duration { return d / scale }

func deployedAlarm() cloudwatch.AlarmConfig {
	return cloudwatch.AlarmConfig{
		Name:   "tap-test-primary-health",
		Period: scaled(time.Minute), EvaluationPeriods: 5, DatapointsToAlarm: 5,
		// 30 000 ms of latency, scaled like every duration.
		Threshold:  float64(scaled(30*time.Second)) / float64(time.Millisecond),
		Comparison: cloudwatch.GreaterThanThreshold, Statistic: cloudwatch.Average,
		TreatMissingData: cloudwatch.Breaching,
		DeliveryDelay:    scaled(12 * time.Second), // ASSUMED figure, scaled
	}
}

// region is one simulated region: while up it emits a low-latency sample of
// IngestionToInvocationStartLatency every tick (the heartbeat and the
// events), into its alarm.
type region struct {
	up    bool
	alarm *cloudwatch.Alarm
	// cloudWatchReachable is what Route 53 sees of the region's CloudWatch.
	cloudWatchReachable bool
}

func (r *region) source() (cloudwatch.State, bool) {
	if !r.cloudWatchReachable {
		return "", false
	}
	return r.alarm.State(), true
}

// sim drives a region, its alarm (evaluated every period, as CloudWatch
// evaluates a 60 s alarm every minute) and the health check (polled every
// tick, reading the alarm every interval) on one clock.
type sim struct {
	t      *testing.T
	now    time.Time
	tick   time.Duration
	r      *region
	check  *route53.HealthCheck
	period time.Duration
	// deployed is false until the health check is created: it is polled
	// from then on.
	deployed bool
	// alarmAt and healthAt are when the alarm and the health check last
	// changed.
	alarmAt, healthAt time.Time
}

func newSim(t *testing.T, ins route53.InsufficientDataHealthStatus) *sim {
	t.Helper()
	cfg := deployedAlarm()
	a, err := cloudwatch.NewAlarm(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	r := &region{up: true, alarm: a, cloudWatchReachable: true}
	hc, err := route53.New(route53.Config{InsufficientData: ins, Interval: scaled(route53.AssumedAWSInterval)}, r.source, route53.InitialHealthy)
	if err != nil {
		t.Fatal(err)
	}
	return &sim{t: t, now: t0, tick: cfg.Period / 10, r: r, check: hc, period: cfg.Period}
}

// run advances the clock to until.
func (s *sim) run(until time.Time) {
	for s.now.Before(until) {
		s.now = s.now.Add(s.tick)
		if s.r.up {
			s.r.alarm.Put(s.now, float64(scaled(200*time.Millisecond))/float64(time.Millisecond))
		}
		if s.r.cloudWatchReachable && s.now.Truncate(s.period).Equal(s.now) {
			if _, changed := s.r.alarm.Evaluate(s.now); changed {
				s.alarmAt = s.now
			}
		}
		if !s.deployed {
			continue
		}
		if _, changed := s.check.Poll(s.now); changed {
			s.healthAt = s.now
		}
	}
}

func (s *sim) at(periods float64) time.Time {
	return t0.Add(time.Duration(periods * float64(s.period)))
}

// deploy creates the health check now, as the failover stack is deployed
// after the processing stacks: on an alarm that already has data.
func (s *sim) deploy() { s.deployed = true }

func (s *sim) expect(alarm cloudwatch.State, healthy bool) {
	s.t.Helper()
	if got := s.r.alarm.State(); got != alarm {
		s.t.Fatalf("at period %.1f: alarm %s, want %s (history %+v)", float64(s.now.Sub(t0))/float64(s.period), got, alarm, s.r.alarm.History())
	}
	if got := s.check.Healthy(); got != healthy {
		s.t.Fatalf("at period %.1f: healthy %v, want %v (history %+v)", float64(s.now.Sub(t0))/float64(s.period), got, healthy, s.check.History())
	}
}

// TestScenarioRegionCutAndHealed: a region whose latency samples are low is
// OK and healthy; cut (no samples; its CloudWatch still evaluating, as when
// only the region's EventBridge path is lost), its breaching alarm goes to
// ALARM only when the last real datapoint has left the evaluation range —
// 7 periods of silence (N + 2, ASSUMED), not N = 5, because a real good
// datapoint in the range is always used and only N-1 can be filled — and
// the health check turns unhealthy at its next read; healed, one good
// period makes the alarm OK at the first evaluation after it is delivered,
// and the health check healthy at its next read.
func TestScenarioRegionCutAndHealed(t *testing.T) {
	s := newSim(t, route53.Unhealthy)
	s.expect(cloudwatch.StateInsufficientData, true) // as created
	s.run(s.at(2.5))
	s.expect(cloudwatch.StateOK, true)
	s.deploy()

	s.run(s.at(10.5))
	s.expect(cloudwatch.StateOK, true)

	// Cut mid-period 10: period 10 has data, 11 on are silent.
	s.r.up = false
	s.run(s.at(17.9)) // 6.9 silent periods: more than N, fewer than the range
	s.expect(cloudwatch.StateOK, true)
	s.run(s.at(18)) // periods 11..17 — the whole range — silent
	if got := s.r.alarm.State(); got != cloudwatch.StateAlarm || !s.alarmAt.Equal(s.at(18)) {
		t.Fatalf("alarm %s since period %v, want ALARM from 18", got, s.alarmAt.Sub(t0).Seconds())
	}
	s.run(s.at(18).Add(scaled(route53.AssumedAWSInterval)))
	s.expect(cloudwatch.StateAlarm, false)
	if lag := s.healthAt.Sub(s.alarmAt); lag < 0 || lag > scaled(route53.AssumedAWSInterval) {
		t.Errorf("health check unhealthy %s after the alarm, want within the interval", lag)
	}
	h := s.r.alarm.History()
	if last := h[len(h)-1]; last.To != cloudwatch.StateAlarm || last.Reason == "" {
		t.Errorf("last alarm change %+v", last)
	}

	// Healed mid-period 25: period 25 is the first good one; it ends at 26
	// and is delivered at 26 + delay, so the evaluation at 27 sees it.
	s.run(s.at(25.3))
	s.expect(cloudwatch.StateAlarm, false)
	s.r.up = true
	s.run(s.at(26.9))
	s.expect(cloudwatch.StateAlarm, false)
	s.run(s.at(27))
	if got := s.r.alarm.State(); got != cloudwatch.StateOK || !s.alarmAt.Equal(s.at(27)) {
		t.Fatalf("alarm %s since period %v, want OK from 27", got, s.alarmAt.Sub(t0).Seconds())
	}
	s.run(s.at(27).Add(scaled(route53.AssumedAWSInterval)))
	s.expect(cloudwatch.StateOK, true)
	if lag := s.healthAt.Sub(s.alarmAt); lag < 0 || lag > scaled(route53.AssumedAWSInterval) {
		t.Errorf("health check healthy %s after the alarm, want within the interval", lag)
	}
}

// TestScenarioCloudWatchUnreachable: when the cut takes the region's
// CloudWatch with it, Route 53 cannot read the alarm (ASSUMED: insufficient
// data). With InsufficientDataHealthStatus Unhealthy (the global-endpoint
// template's value for breaching missing data, and TAP's default) the
// health check is unhealthy at its first read after the cut, before any
// alarm could change; with LastKnownStatus it stays healthy for the whole
// outage and the endpoint would never fail over.
func TestScenarioCloudWatchUnreachable(t *testing.T) {
	for _, c := range []struct {
		ins          route53.InsufficientDataHealthStatus
		healthyInCut bool
	}{
		{route53.Unhealthy, false},
		{route53.LastKnownStatus, true},
		{route53.Healthy, true},
	} {
		t.Run(string(c.ins), func(t *testing.T) {
			s := newSim(t, c.ins)
			s.run(s.at(2.5))
			s.deploy()
			s.run(s.at(10.5))
			s.expect(cloudwatch.StateOK, true)
			cut := s.now
			s.r.up, s.r.cloudWatchReachable = false, false
			s.run(s.at(30))
			if got := s.check.Healthy(); got != c.healthyInCut {
				t.Fatalf("healthy %v during the cut, want %v", got, c.healthyInCut)
			}
			if lag := s.healthAt.Sub(cut); !c.healthyInCut && (lag <= 0 || lag > scaled(route53.AssumedAWSInterval)) {
				t.Errorf("unhealthy %s after the cut, want within one interval", lag)
			}
			// The alarm is frozen while its CloudWatch is away.
			if got := s.r.alarm.State(); got != cloudwatch.StateOK {
				t.Errorf("alarm %s during the cut", got)
			}
		})
	}
}
