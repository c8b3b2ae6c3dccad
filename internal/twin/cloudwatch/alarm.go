package cloudwatch

import (
	"math"
	"sync"
	"time"
)

// PeriodStart is the start of the period holding t: Epoch + k·Period, or
// t.Truncate(Period) when Epoch is zero.
func (c AlarmConfig) PeriodStart(t time.Time) time.Time {
	if c.Epoch.IsZero() {
		return t.Truncate(c.Period)
	}
	d := t.Sub(c.Epoch)
	q := d / c.Period
	if d%c.Period < 0 {
		q--
	}
	return c.Epoch.Add(q * c.Period)
}

// StateChange is one transition of an alarm.
type StateChange struct {
	At       time.Time
	From, To State
	// Reason names the datapoints that decided, as CloudWatch's
	// StateReason does.
	Reason string
}

// Datapoint is one period of the evaluation range as an evaluation sees it.
type Datapoint struct {
	// Start is the period's start.
	Start time.Time
	// Samples is how many samples the period has received.
	Samples int
	// Visible reports whether the period has ended and its delivery delay
	// passed.
	Visible bool
	// Value is the period's statistic; nil when the datapoint is missing
	// (no samples, or not visible yet).
	Value *float64
}

// Alarm is one metric alarm: Put feeds it samples, Evaluate decides on the
// periods visible at a time. It starts INSUFFICIENT_DATA ("the alarm has just
// started"). Safe for concurrent use; the times given to Evaluate are
// expected not to go backwards.
type Alarm struct {
	cfg     AlarmConfig
	created time.Time

	mu      sync.Mutex
	periods map[int64]*aggregate // by period start, UnixNano
	floor   time.Time            // periods before it can no longer be evaluated
	state   State
	history []StateChange
}

// aggregate is a period's samples, reduced.
type aggregate struct {
	n             int
	sum, min, max float64
}

func (g *aggregate) add(v float64) {
	if g.n == 0 || v < g.min {
		g.min = v
	}
	if g.n == 0 || v > g.max {
		g.max = v
	}
	g.n++
	g.sum += v
}

func (g *aggregate) statistic(s string) float64 {
	switch s {
	case Sum:
		return g.sum
	case Minimum:
		return g.min
	case Maximum:
		return g.max
	case SampleCount:
		return float64(g.n)
	}
	return g.sum / float64(g.n)
}

// NewAlarm returns cfg's alarm, created at created, in INSUFFICIENT_DATA.
// Samples from before created count, as CloudWatch uses a metric's data
// from before an alarm was created.
func NewAlarm(cfg AlarmConfig, created time.Time) (*Alarm, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Alarm{cfg: cfg, created: created, periods: map[int64]*aggregate{}, state: StateInsufficientData}, nil
}

// Config is the alarm's configuration.
func (a *Alarm) Config() AlarmConfig { return a.cfg }

// Created is when the alarm was created.
func (a *Alarm) Created() time.Time { return a.created }

// Put records one sample of the metric at time at. Samples of a period are
// aggregated by the alarm's statistic. A NaN or infinite value is dropped,
// and so is a sample of a period too old for any later evaluation.
func (a *Alarm) Put(at time.Time, value float64) {
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return
	}
	start := a.cfg.PeriodStart(at)
	a.mu.Lock()
	defer a.mu.Unlock()
	if start.Before(a.floor) {
		return
	}
	g := a.periods[start.UnixNano()]
	if g == nil {
		g = &aggregate{}
		a.periods[start.UnixNano()] = g
	}
	g.add(value)
}

// Range is the evaluation range at now, oldest first: the RangePeriods most
// recent periods that have ended by now, a period's datapoint missing until
// it is visible (its end plus DeliveryDelay).
func (a *Alarm) Range(now time.Time) []Datapoint {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rangeAt(now)
}

func (a *Alarm) rangeAt(now time.Time) []Datapoint {
	r, p := a.cfg.RangePeriods(), a.cfg.Period
	current := a.cfg.PeriodStart(now)
	out := make([]Datapoint, r)
	for i := range r {
		start := current.Add(-time.Duration(r-i) * p)
		d := Datapoint{Start: start, Visible: !now.Before(start.Add(p + a.cfg.DeliveryDelay))}
		if g := a.periods[start.UnixNano()]; g != nil {
			d.Samples = g.n
			if d.Visible && g.n > 0 {
				v := g.statistic(a.cfg.Statistic)
				d.Value = &v
			}
		}
		out[i] = d
	}
	return out
}

// Evaluate evaluates the alarm at now on the evaluation range (Range) and
// reports its state and whether it changed.
func (a *Alarm) Evaluate(now time.Time) (State, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rng := a.rangeAt(now)
	pts := make([]point, len(rng))
	for i, d := range rng {
		pts[i] = point{age: len(rng) - i, start: d.Start, v: d.Value}
	}
	dec := decide(a.cfg, pts, a.state)
	if len(rng) > 0 && rng[0].Start.After(a.floor) {
		a.floor = rng[0].Start
		for k := range a.periods {
			if k < a.floor.UnixNano() {
				delete(a.periods, k)
			}
		}
	}
	if dec.State == a.state {
		return a.state, false
	}
	a.history = append(a.history, StateChange{At: now, From: a.state, To: dec.State, Reason: dec.Reason})
	a.state = dec.State
	return a.state, true
}

// State is the alarm's current state.
func (a *Alarm) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// History is every state change so far, oldest first.
func (a *Alarm) History() []StateChange {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]StateChange(nil), a.history...)
}
