package globalendpoint

import (
	"context"
	"sync"
	"time"

	"github.com/tap-trading/tap/internal/event"
)

// pending is an accepted event waiting to be replicated.
type pending struct {
	env        event.Envelope
	acceptedAt time.Time
	attempts   int
	// firstAttempt is when delivery was first attempted: the managed
	// rule's invocation start.
	firstAttempt time.Time
}

// queue holds the replications sourced from one region, in acceptance order.
type queue struct {
	src, dst Region
	mu       sync.Mutex
	items    []pending
	wake     chan struct{}
}

func newQueue(src, dst Region) *queue {
	return &queue{src: src, dst: dst, wake: make(chan struct{}, 1)}
}

func (q *queue) push(p pending) {
	q.mu.Lock()
	q.items = append(q.items, p)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

func (q *queue) head() (pending, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return pending{}, false
	}
	return q.items[0], true
}

// attempt marks the head's first delivery attempt at t and returns it.
func (q *queue) attempt(t time.Time) pending {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.items[0].firstAttempt.IsZero() {
		q.items[0].firstAttempt = t
	}
	return q.items[0]
}

// done drops the head, or counts a failed attempt on it at t. A failed
// attempt also counts one on every event behind it that was due by t
// (accepted at least lag before) and not yet tried: EventBridge applies
// its retry policy to each event on its own ("Event retry policy and using
// dead-letter queues",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html),
// so while the other region refuses them it tries, and fails, every due
// event, not only the oldest (that each is tried as soon as it is due is
// assumed: no page gives the order) — and the first attempt is what
// IngestionToInvocationStartLatency measures ("EventBridge metrics",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html).
// Only the head is really sent, so the queue keeps its order; without
// this, the events queued behind it would make their first attempt only
// once the other region is back, and their latency, as long as the outage,
// would raise the source region's alarm although that region is healthy.
func (q *queue) done(ok bool, t time.Time, lag time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if ok {
		q.items = q.items[1:]
		return
	}
	q.items[0].attempts++
	for i := 1; i < len(q.items); i++ {
		p := &q.items[i]
		if p.attempts == 0 && !p.acceptedAt.Add(lag).After(t) {
			p.attempts, p.firstAttempt = 1, t
		}
	}
}

// drop removes the head without delivering it.
func (q *queue) drop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = q.items[1:]
}

// replicate delivers q's events to the other region, in order, each no
// earlier than ReplicationLag after its acceptance and only while the
// source region is reachable. An event still undelivered ReplicationMaxAge
// after its acceptance is dropped, as EventBridge drops an event whose
// target retry policy is exhausted and that has no DLQ (the managed rule
// has none): it stays applied in the region that accepted it only.
func (e *Endpoint) replicate(ctx context.Context, q *queue) {
	for {
		p, ok := q.head()
		var wait time.Duration
		switch {
		case !ok:
			select {
			case <-q.wake:
				continue
			case <-ctx.Done():
				return
			}
		case q.src.Reachable != nil && !q.src.Reachable():
			wait = e.cfg.RetryDelay
		default:
			wait = p.acceptedAt.Add(e.cfg.ReplicationLag).Sub(e.cfg.Now())
		}
		if wait > 0 {
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
				return
			}
		}
		if e.cfg.ReplicationMaxAge > 0 && e.cfg.Now().Sub(p.acceptedAt) > e.cfg.ReplicationMaxAge {
			q.drop()
			e.mu.Lock()
			e.expired++
			e.mu.Unlock()
			continue
		}
		p = q.attempt(e.cfg.Now())
		dctx, cancel := context.WithTimeout(ctx, e.cfg.ForwardTimeout)
		err := q.dst.Deliver(dctx, p.env)
		cancel()
		if ctx.Err() != nil {
			return
		}
		q.done(err == nil, e.cfg.Now(), e.cfg.ReplicationLag)
		if err != nil {
			// The destination is unreachable (or refused): try again.
			select {
			case <-time.After(e.cfg.RetryDelay):
			case <-ctx.Done():
				return
			}
			continue
		}
		if e.cfg.OnReplicated != nil {
			e.cfg.OnReplicated(Replicated{
				EventID: p.env.ID, From: q.src.Name, To: q.dst.Name,
				AcceptedAt: p.acceptedAt, FirstAttempt: p.firstAttempt, At: e.cfg.Now(), Attempts: p.attempts + 1,
			})
		}
	}
}
