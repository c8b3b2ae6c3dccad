package drill

import (
	"sync"
	"time"

	"github.com/tap-trading/tap/internal/globalendpoint"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/twin"
)

// routeChange is when the endpoint started sending calls to a region.
type routeChange struct {
	Region string
	At     time.Time
}

// ledger is the drill's bookkeeping, fed by the twin's observer.
type ledger struct {
	mu         sync.Mutex
	start      time.Time
	phase      string
	phases     []PhaseMark
	accepted   []bool
	published  int
	byEBID     map[string]globalendpoint.Accepted
	detail     map[string]globalendpoint.Accepted // detail eventId → its last acceptance
	replicated []globalendpoint.Replicated
	results    map[string][]local.Result // by region
	alarms     []twin.AlarmChange
	health     []twin.HealthChange
	routes     []routeChange
	survived   twin.SurvivedCounts
}

func newLedger() *ledger {
	return &ledger{byEBID: map[string]globalendpoint.Accepted{}, detail: map[string]globalendpoint.Accepted{},
		results: map[string][]local.Result{}, survived: twin.SurvivedCounts{}, start: time.Now()}
}

// observer feeds the ledger from the twin.
func (l *ledger) observer() twin.Observer {
	locked := func(f func()) { l.mu.Lock(); defer l.mu.Unlock(); f() }
	return twin.Observer{
		Accepted:   func(a globalendpoint.Accepted) { locked(func() { l.byEBID[a.EventID] = a }) },
		Replicated: func(r globalendpoint.Replicated) { locked(func() { l.replicated = append(l.replicated, r) }) },
		Settled: func(region string, r local.Result) {
			locked(func() { l.results[region] = append(l.results[region], r) })
		},
		Alarm:  func(c twin.AlarmChange) { locked(func() { l.alarms = append(l.alarms, c) }) },
		Health: func(c twin.HealthChange) { locked(func() { l.health = append(l.health, c) }) },
		Route: func(region string, at time.Time) {
			locked(func() { l.routes = append(l.routes, routeChange{region, at}) })
		},
		Survived: func(source string, _ error) { locked(func() { l.survived[source]++ }) },
	}
}

func (l *ledger) mark(phase string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phase = phase
	l.phases = append(l.phases, PhaseMark{Phase: phase, At: time.Since(l.start)})
}

// healthChange returns the first change of the health check to healthy
// after t.
func (l *ledger) healthChange(healthy bool, after time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range l.health {
		if h.Healthy == healthy && !h.At.Before(after) {
			return h.At, true
		}
	}
	return time.Time{}, false
}

// routesSnapshot copies the route changes.
func (l *ledger) routesSnapshot() []routeChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]routeChange(nil), l.routes...)
}

// settledIn copies the region's settled events.
func (l *ledger) settledIn(region string) []local.Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]local.Result(nil), l.results[region]...)
}

// unreplicatedBefore counts the events accepted before t not yet delivered
// to the other region.
func (l *ledger) unreplicatedBefore(t time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	done := make(map[string]bool, len(l.replicated))
	for _, r := range l.replicated {
		done[r.EventID] = true
	}
	n := 0
	for id, a := range l.byEBID {
		if a.At.Before(t) && !done[id] {
			n++
		}
	}
	return n
}

// lastReplicationOfBefore is when the last event accepted before t reached
// the other region (zero if none was delivered).
func (l *ledger) lastReplicationOfBefore(t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last time.Time
	for _, r := range l.replicated {
		if r.AcceptedAt.Before(t) && r.At.After(last) {
			last = r.At
		}
	}
	return last
}
