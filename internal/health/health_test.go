package health

import (
	"strings"
	"testing"
	"time"
)

// p is a period of n invocations averaging avg milliseconds.
func p(n int, avgMS int) Period {
	return Period{Count: n, Sum: time.Duration(n*avgMS) * time.Millisecond}
}

var none = Period{}

func TestEvaluator(t *testing.T) {
	const threshold = 100 * time.Millisecond
	tests := []struct {
		name    string
		periods []Period
		// want is the state after each period.
		want string // H healthy, U unhealthy
	}{
		{"good periods stay healthy", []Period{p(3, 10), p(1, 99), p(5, 100)}, "HHH"},
		{"N missing periods turn unhealthy", []Period{none, none, none}, "HHU"},
		{"N slow periods turn unhealthy", []Period{p(2, 101), p(1, 500), p(9, 200)}, "HHU"},
		{"missing and slow periods both breach", []Period{none, p(1, 150), none}, "HHU"},
		{"a good period resets the count", []Period{none, none, p(1, 5), none, none}, "HHHHH"},
		{"healthy again after N good periods", []Period{none, none, none, p(1, 5), p(1, 5), p(1, 5)}, "HHUUUH"},
		{"a breach resets the recovery", []Period{none, none, none, p(1, 5), none, p(1, 5), p(1, 5), p(1, 5)}, "HHUUUUUH"},
		{"average, not maximum", []Period{{Count: 2, Sum: 190 * time.Millisecond}, none, none}, "HHH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEvaluator(threshold, 3)
			var got strings.Builder
			for _, per := range tt.periods {
				before := e.Healthy()
				changed := e.Add(per)
				if changed != (before != e.Healthy()) {
					t.Errorf("Add(%+v) reported changed=%v, state %v → %v", per, changed, before, e.Healthy())
				}
				if e.Healthy() {
					got.WriteByte('H')
				} else {
					got.WriteByte('U')
				}
			}
			if got.String() != tt.want {
				t.Errorf("states %s, want %s", got.String(), tt.want)
			}
		})
	}
}

func TestMonitorClosesPeriodsPerRegion(t *testing.T) {
	var changes []Transition
	m, err := NewMonitor(Config{Period: time.Second, Periods: 2, Threshold: 50 * time.Millisecond,
		OnChange: func(tr Transition) { changes = append(changes, tr) }}, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		m.Observe("a", 10*time.Millisecond)
		m.Observe("a", 20*time.Millisecond)
		m.Observe("elsewhere", time.Hour) // not watched: ignored
		m.Close()
	}
	if !m.Healthy("a") || m.Healthy("b") {
		t.Fatalf("healthy a=%v b=%v, want a only (b had no data)", m.Healthy("a"), m.Healthy("b"))
	}
	if got := m.LastPeriod("a"); got.Count != 2 || got.Average() != 15*time.Millisecond {
		t.Errorf("last period of a = %+v, want 2 samples averaging 15ms", got)
	}
	if len(changes) != 1 || changes[0].Region != "b" || changes[0].Healthy {
		t.Errorf("transitions %+v, want one: b unhealthy", changes)
	}
	if h := m.History(); len(h) != 1 {
		t.Errorf("history %+v, want the one transition", h)
	}
}

func TestConfigValidateAndScale(t *testing.T) {
	for _, c := range []Config{
		{Period: 0, Periods: 1, Threshold: 1},
		{Period: 1, Periods: 0, Threshold: 1},
		{Period: 1, Periods: 1, Threshold: 0},
	} {
		if c.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
	}
	c := Config{Period: 2 * time.Second, Periods: 3, Threshold: time.Second}
	if got := c.AWSEquivalent(6 * time.Second); got != 3*time.Minute {
		t.Errorf("AWSEquivalent(6s) with 2s periods = %s, want 3m", got)
	}
}
