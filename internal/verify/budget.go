package verify

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Clock is the time verify runs on: the budget's waits and the pause.
type Clock interface {
	Now() time.Time
	// SleepUntil returns at t, or with ctx's error if ctx ends first.
	SleepUntil(ctx context.Context, t time.Time) error
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// budget keeps one region's consumed read capacity at rcu per second (doc
// "The budget"). Its tokens are half read capacity units, the smallest
// amount DynamoDB charges; it holds at most one second of budget.
type budget struct {
	lim   *rate.Limiter
	burst int
	clock Clock

	mu     sync.Mutex
	waited time.Duration
}

func newBudget(rcu float64, clock Clock) *budget {
	perSecond := 2 * rcu
	burst := max(1, int(math.Ceil(perSecond)))
	return &budget{lim: rate.NewLimiter(rate.Limit(perSecond), burst), burst: burst, clock: clock}
}

// wait returns once the budget is out of debt: a request may start.
func (b *budget) wait(ctx context.Context) error {
	now := b.clock.Now()
	// Reserving nothing asks only how long until the bucket is at zero.
	d := b.lim.ReserveN(now, 0).DelayFrom(now)
	if d <= 0 {
		return ctx.Err()
	}
	b.mu.Lock()
	b.waited += d
	b.mu.Unlock()
	return b.clock.SleepUntil(ctx, now.Add(d))
}

// charge takes what a request consumed from the budget; the debt it may
// leave is what the next wait pays. A charge larger than the bucket (one
// page of large items under a small budget) is taken in bucket-sized parts,
// each a reservation the limiter accepts.
func (b *budget) charge(rcu float64) {
	units := int(math.Ceil(2*rcu - 1e-9))
	now := b.clock.Now()
	for units > 0 {
		n := min(units, b.burst)
		b.lim.ReserveN(now, n)
		units -= n
	}
}

// waitedFor is how long requests have waited on the budget.
func (b *budget) waitedFor() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waited
}
