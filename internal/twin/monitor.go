package twin

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/twin/cloudwatch"
	"github.com/tap-trading/tap/internal/twin/route53"
)

// AlarmChange is a state change of a region's alarm.
type AlarmChange struct {
	Region   string
	From, To cloudwatch.State
	At       time.Time
	// Deployed is false for the secondary's alarm, which the stacks do not
	// create: the twin evaluates the same alarm there for the picture.
	Deployed bool
}

// HealthChange is a change of the Route 53 health check on the primary's
// alarm: what the endpoint routes by.
type HealthChange struct {
	Healthy bool
	At      time.Time
	// Alarm is the alarm state Route 53 read, "" when it could not reach
	// the alarm's CloudWatch.
	Alarm cloudwatch.State
}

// Datapoint is one period of a region's IngestionToInvocationStartLatency.
type Datapoint struct {
	Start   time.Time
	Samples int
	Average time.Duration
}

// monitor is CloudWatch in each region and Route 53 above them: every first
// invocation attempt of a rule target in a region is a sample of its
// IngestionToInvocationStartLatency (no dimensions: every rule, the
// endpoint's managed replication rule included); the primary's health alarm
// evaluates it as the deployed alarm does, in the primary's CloudWatch, so
// a cut primary cuts its alarm off too; Route 53's health check reads that
// alarm every interval and the endpoint routes by the health check.
type monitor struct {
	spec  deployspec.Spec
	scale Scale
	obs   Observer
	every time.Duration // the alarm period, scaled
	poll  time.Duration // Route 53's interval, scaled

	mu       sync.Mutex
	byName   map[string]*region
	alarms   map[string]*cloudwatch.Alarm
	check    *route53.HealthCheck
	deployed bool
	points   map[string]map[time.Time]*Datapoint
}

func newMonitor(spec deployspec.Spec, scale Scale, obs Observer) (*monitor, error) {
	m := &monitor{
		spec: spec, scale: scale, obs: obs,
		every: scale.Local(spec.HealthAlarm.Period), poll: scale.Local(Route53AlarmPollInterval),
		byName: map[string]*region{}, alarms: map[string]*cloudwatch.Alarm{},
		points: map[string]map[time.Time]*Datapoint{},
	}
	now := time.Now()
	for _, r := range []string{spec.Primary, spec.Secondary} {
		a, err := cloudwatch.NewAlarm(m.alarmConfig(r), now)
		if err != nil {
			return nil, fmt.Errorf("twin: the health alarm of %s: %w", r, err)
		}
		m.alarms[r] = a
		m.points[r] = map[time.Time]*Datapoint{}
	}
	return m, nil
}

// alarmConfig is the deployed health alarm, scaled.
func (m *monitor) alarmConfig(region string) cloudwatch.AlarmConfig {
	a := m.spec.HealthAlarm
	return cloudwatch.AlarmConfig{
		Name:   a.Name + " (" + region + ")",
		Period: m.every, EvaluationPeriods: a.EvaluationPeriods, DatapointsToAlarm: a.DatapointsToAlarm,
		// The threshold is a latency: it scales with time.
		Threshold:        float64(m.scale.Local(time.Duration(a.Threshold*float64(time.Millisecond)))) / float64(time.Millisecond),
		Comparison:       cloudwatch.Comparison(a.ComparisonOperator),
		Statistic:        a.Statistic,
		TreatMissingData: cloudwatch.TreatMissingData(a.TreatMissingData),
		DeliveryDelay:    m.scale.Local(MetricDeliveryDelay),
	}
}

func (m *monitor) regions(rs ...*region) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range rs {
		m.byName[r.name] = r
	}
}

// evaluates reports whether region's CloudWatch evaluates its alarms: not
// while its monitoring is lost. A region cut off from the outside keeps
// evaluating, on the metrics its services (no longer) emit — ASSUMED: AWS
// documents no partition of CloudWatch from its region's services.
func (m *monitor) evaluates(region string) bool {
	m.mu.Lock()
	r := m.byName[region]
	m.mu.Unlock()
	return r != nil && !r.monitoringLost.Load()
}

// readable reports whether Route 53 can read region's alarms: not while
// the region is cut off or its monitoring lost.
func (m *monitor) readable(region string) bool {
	m.mu.Lock()
	r := m.byName[region]
	m.mu.Unlock()
	return r != nil && !r.front.IsCut() && !r.monitoringLost.Load()
}

// observe records one sample of region's latency metric, at. Samples taken
// while the region's monitoring is lost are kept and evaluated when it
// returns (ASSUMED: the service publishing the metric retries).
func (m *monitor) observe(region string, at time.Time, latency time.Duration) {
	m.mu.Lock()
	a := m.alarms[region]
	start := at.Truncate(m.every)
	p := m.points[region][start]
	if p == nil {
		p = &Datapoint{Start: start}
		m.points[region][start] = p
	}
	p.Average = (p.Average*time.Duration(p.Samples) + latency) / time.Duration(p.Samples+1)
	p.Samples++
	m.mu.Unlock()
	if a != nil {
		a.Put(at, float64(latency)/float64(time.Millisecond))
	}
}

// deploy creates the failover stack's alarm and health check. It waits for
// the primary's first heartbeat datapoint to be visible first, as a
// deployment does: the failover stack deploys after both processing stacks
// (stacks.NewAll), whose heartbeats have been putting events on the buses
// since, so the alarm is created on a metric with data.
func (m *monitor) deploy(ctx context.Context, now time.Time) error {
	deadline := now.Add(4*m.every + m.scale.Local(MetricDeliveryDelay))
	for {
		m.mu.Lock()
		var first time.Time
		for start := range m.points[m.spec.Primary] {
			if first.IsZero() || start.Before(first) {
				first = start
			}
		}
		m.mu.Unlock()
		visible := !first.IsZero() && time.Now().After(first.Add(m.every+m.scale.Local(MetricDeliveryDelay)))
		if visible {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("twin: no heartbeat reached %s's processor within %s of the deployment, so its alarm would start in ALARM; see why in the processor log (--processor-log -) and moto's", m.spec.Primary, deadline.Sub(now))
		}
		select {
		case <-time.After(m.every / 10):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	hc, err := route53.New(route53.Config{
		InsufficientData: route53.InsufficientDataHealthStatus(m.spec.HealthCheck.InsufficientDataHealthStatus),
		Interval:         m.poll,
	}, m.primaryAlarm, Route53InitialHealthy)
	if err != nil {
		return fmt.Errorf("twin: the health check: %w", err)
	}
	m.mu.Lock()
	m.check = hc
	m.deployed = true
	m.mu.Unlock()
	// A new alarm is evaluated when it is created (ASSUMED, see
	// AlarmEvaluatedAtCreation), then every period.
	m.evaluate(time.Now())
	m.pollCheck(time.Now())
	return nil
}

// primaryAlarm is Route 53's read of the primary's alarm.
func (m *monitor) primaryAlarm() (cloudwatch.State, bool) {
	if !m.readable(m.spec.Primary) {
		return "", false
	}
	return m.alarms[m.spec.Primary].State(), true
}

// primaryHealthy is what the endpoint routes by.
func (m *monitor) primaryHealthy() bool {
	m.mu.Lock()
	hc := m.check
	m.mu.Unlock()
	return hc == nil || hc.Healthy()
}

// alarmState is region's alarm state now.
func (m *monitor) alarmState(region string) cloudwatch.State {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.alarms[region]; a != nil {
		return a.State()
	}
	return ""
}

// evaluate evaluates each region's alarm whose CloudWatch is up.
func (m *monitor) evaluate(now time.Time) {
	for _, r := range []string{m.spec.Primary, m.spec.Secondary} {
		if !m.evaluates(r) {
			continue
		}
		a := m.alarms[r]
		from := a.State()
		to, changed := a.Evaluate(now)
		if changed && m.obs.Alarm != nil {
			m.obs.Alarm(AlarmChange{Region: r, From: from, To: to, At: now, Deployed: r == m.spec.Primary})
		}
	}
}

// pollCheck is one read of the alarm by Route 53.
func (m *monitor) pollCheck(now time.Time) {
	m.mu.Lock()
	hc := m.check
	m.mu.Unlock()
	if hc == nil {
		return
	}
	healthy, changed := hc.Poll(now)
	if changed && m.obs.Health != nil {
		st, ok := m.primaryAlarm()
		if !ok {
			st = ""
		}
		m.obs.Health(HealthChange{Healthy: healthy, At: now, Alarm: st})
	}
}

// run evaluates the alarms once a period, aligned to the periods, and polls
// the health check every interval, until done.
func (m *monitor) run(done <-chan struct{}) {
	next := time.Now().Truncate(m.every).Add(m.every)
	eval := time.NewTimer(time.Until(next))
	defer eval.Stop()
	poll := time.NewTicker(m.poll)
	defer poll.Stop()
	for {
		select {
		case now := <-eval.C:
			m.evaluate(now)
			next = next.Add(m.every)
			eval.Reset(time.Until(next))
		case <-poll.C:
			// Stamped when the read happens, not when the tick was due: on
			// a loaded machine this goroutine may take the tick late, after
			// a heal, and a read stamped before the heal would show a
			// health change that preceded its cause.
			m.pollCheck(time.Now())
		case <-done:
			return
		}
	}
}

// datapoints returns region's periods so far, oldest first.
func (m *monitor) datapoints(region string) []Datapoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Datapoint
	for _, p := range m.points[region] {
		out = append(out, *p)
	}
	sortDatapoints(out)
	return out
}
