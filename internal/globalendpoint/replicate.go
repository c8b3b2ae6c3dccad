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

// done drops the head, or counts a failed attempt on it.
func (q *queue) done(ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if ok {
		q.items = q.items[1:]
	} else {
		q.items[0].attempts++
	}
}

// replicate delivers q's events to the other region, in order, each no
// earlier than ReplicationLag after its acceptance and only while the
// source region is reachable.
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
		dctx, cancel := context.WithTimeout(ctx, e.cfg.ForwardTimeout)
		err := q.dst.Deliver(dctx, p.env)
		cancel()
		if ctx.Err() != nil {
			return
		}
		q.done(err == nil)
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
				AcceptedAt: p.acceptedAt, At: e.cfg.Now(), Attempts: p.attempts + 1,
			})
		}
	}
}
