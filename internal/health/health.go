// Package health decides whether a local region is healthy the way the
// deployed failover path does (DESIGN §1, §8.1): the Average of EventBridge's
// IngestionToInvocationStartLatency per period, a period breaching when the
// average is over the threshold or has no data at all (the heartbeat keeps an
// idle region's metric alive), the region unhealthy after N consecutive
// breaching periods and healthy again after N good ones. Periods are scaled:
// seconds locally for AWS's 60 s.
package health

import (
	"fmt"
	"sync"
	"time"
)

// AWS's figures for the deployed health check, for AWS-equivalent times.
const (
	// AWSPeriod is the alarm's period.
	AWSPeriod = 60 * time.Second
	// AWSPeriods is the alarm's evaluation periods (and datapoints to alarm).
	AWSPeriods = 5
	// AWSThreshold is the alarm's threshold on the average latency.
	AWSThreshold = 30 * time.Second
	// Route53Interval is how often Route 53 evaluates a CLOUDWATCH_METRIC
	// health check's alarm: up to this much is added to every transition.
	Route53Interval = 30 * time.Second
)

// Period is one period's latency data.
type Period struct {
	// Count is the number of invocations started in the period; Sum their
	// summed latencies.
	Count int
	Sum   time.Duration
}

// Average is the period's average latency (0 without data).
func (p Period) Average() time.Duration {
	if p.Count == 0 {
		return 0
	}
	return p.Sum / time.Duration(p.Count)
}

// Breaching reports whether the period counts against the region: no data,
// or an average over threshold.
func (p Period) Breaching(threshold time.Duration) bool {
	return p.Count == 0 || p.Average() > threshold
}

// Evaluator is one region's health state machine. The zero value is not
// usable: build it with NewEvaluator.
type Evaluator struct {
	threshold time.Duration
	n         int
	healthy   bool
	run       int // consecutive periods pointing away from the current state
}

// NewEvaluator returns an evaluator that starts healthy.
func NewEvaluator(threshold time.Duration, n int) *Evaluator {
	return &Evaluator{threshold: threshold, n: n, healthy: true}
}

// Healthy is the current state.
func (e *Evaluator) Healthy() bool { return e.healthy }

// Add evaluates one more period and reports whether the state changed.
func (e *Evaluator) Add(p Period) (changed bool) {
	if p.Breaching(e.threshold) == e.healthy {
		e.run++
	} else {
		e.run = 0
	}
	if e.run >= e.n {
		e.healthy = !e.healthy
		e.run = 0
		return true
	}
	return false
}

// Config configures a Monitor.
type Config struct {
	// Period is the (scaled) evaluation period. Required.
	Period time.Duration
	// Periods is N: consecutive breaching periods to turn unhealthy, good
	// ones to turn healthy. Required.
	Periods int
	// Threshold is the average latency over which a period breaches.
	// Required.
	Threshold time.Duration
	// OnChange, if set, is told of every transition (from the monitor's
	// goroutine).
	OnChange func(Transition)
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Validate names the first setting that makes evaluation impossible.
func (c Config) Validate() error {
	switch {
	case c.Period <= 0:
		return fmt.Errorf("health: period %s: must be positive", c.Period)
	case c.Periods < 1:
		return fmt.Errorf("health: periods %d: must be at least 1", c.Periods)
	case c.Threshold <= 0:
		return fmt.Errorf("health: threshold %s: must be positive", c.Threshold)
	}
	return nil
}

// Scale is the ratio of the local period to AWS's.
func (c Config) Scale() float64 { return float64(c.Period) / float64(AWSPeriod) }

// AWSEquivalent converts a local duration to what it stands for in AWS.
func (c Config) AWSEquivalent(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.Scale())
}

// Transition is a change of a region's health.
type Transition struct {
	Region  string
	Healthy bool
	At      time.Time
	// Last is the period that decided it.
	Last Period
}

// Monitor evaluates the health of several regions from observed latencies.
type Monitor struct {
	cfg Config

	mu      sync.Mutex
	current map[string]*Period
	eval    map[string]*Evaluator
	last    map[string]Period
	history []Transition
}

// NewMonitor returns a monitor of regions, all healthy.
func NewMonitor(cfg Config, regions ...string) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Monitor{cfg: cfg, current: map[string]*Period{}, eval: map[string]*Evaluator{}, last: map[string]Period{}}
	for _, r := range regions {
		m.current[r] = &Period{}
		m.eval[r] = NewEvaluator(cfg.Threshold, cfg.Periods)
	}
	return m, nil
}

// Observe records one invocation start in region, latency after ingestion.
// Regions the monitor does not watch are ignored.
func (m *Monitor) Observe(region string, latency time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.current[region]; ok {
		p.Count++
		p.Sum += latency
	}
}

// Healthy reports region's current state.
func (m *Monitor) Healthy(region string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.eval[region]
	return ok && e.Healthy()
}

// LastPeriod is region's last closed period.
func (m *Monitor) LastPeriod(region string) Period {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last[region]
}

// History returns the transitions so far.
func (m *Monitor) History() []Transition {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Transition(nil), m.history...)
}

// Close ends the current period of every region and evaluates it.
func (m *Monitor) Close() []Transition {
	m.mu.Lock()
	now := m.cfg.Now()
	var out []Transition
	for r, p := range m.current {
		m.last[r] = *p
		if m.eval[r].Add(*p) {
			t := Transition{Region: r, Healthy: m.eval[r].Healthy(), At: now, Last: *p}
			out = append(out, t)
			m.history = append(m.history, t)
		}
		m.current[r] = &Period{}
	}
	m.mu.Unlock()
	if m.cfg.OnChange != nil {
		for _, t := range out {
			m.cfg.OnChange(t)
		}
	}
	return out
}

// Run closes a period every cfg.Period until done is closed.
func (m *Monitor) Run(done <-chan struct{}) {
	t := time.NewTicker(m.cfg.Period)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			m.Close()
		case <-done:
			return
		}
	}
}
