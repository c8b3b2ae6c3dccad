package producer

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// Options configure a Publisher. The zero value publishes to the entries'
// buses with the defaults below.
type Options struct {
	// EndpointID sends every call through this global endpoint; empty sends
	// to the regional bus named in each entry.
	EndpointID string
	// MaxAttempts is how many times an entry is sent before it counts as
	// failed. Default 5. Ignored when RetryFor is set.
	MaxAttempts int
	// RetryFor, when positive, bounds retries by time instead: an entry
	// refused for a reason a retry can fix (a global endpoint failing over,
	// throttling) is sent again until RetryFor has passed since Publish
	// began, then counts as failed with its last error. A producer rides
	// through a failover this way without knowing how many attempts it takes.
	RetryFor time.Duration
	// Backoff is the delay before the first retry; it doubles per retry, with
	// jitter, up to MaxBackoff. Defaults 200 ms and 5 s.
	Backoff, MaxBackoff time.Duration
	// Concurrency is how many calls may be in flight. Default 1.
	Concurrency int
	// Metrics, if set, receives the publisher's figures (never Spooled).
	Metrics Metrics
	// Sleep waits between retries; tests replace it. Default: a timer that
	// stops early when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock of EntryResult times. Default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Metrics == nil {
		o.Metrics = NopMetrics{}
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Publisher publishes a given slice of entries and returns once each is
// settled: the synchronous form, for a command that has all its events in
// hand (tapctl send, load, dlq redrive). Nothing is kept on disk; for a
// long-running producer that must not lose what it was given, use Open.
type Publisher struct {
	api  API
	opts Options
}

// New returns a Publisher sending through api.
func New(api API, opts Options) *Publisher {
	return &Publisher{api: api, opts: opts.withDefaults()}
}

// EntryResult is the final fate of one entry.
type EntryResult struct {
	// Index is the entry's position in the slice given to Publish.
	Index int
	// EventID is the ID EventBridge gave the event; empty when it failed.
	EventID string
	// ErrorCode and ErrorMessage say why the entry failed, from its last
	// attempt; empty when it was accepted.
	ErrorCode, ErrorMessage string
	// Attempts is how many calls carried the entry.
	Attempts int
	// SentAt is when the call that settled the entry started.
	SentAt time.Time
}

// Accepted reports whether EventBridge accepted the entry.
func (r EntryResult) Accepted() bool { return r.ErrorCode == "" }

// Summary is the result of Publish.
type Summary struct {
	// Accepted counts the entries EventBridge accepted.
	Accepted int
	// Failed are the entries that were sent and still failed after their
	// attempts (or failed permanently), in index order.
	Failed []EntryResult
	// Unsent counts the entries never sent because Publish stopped early
	// (a call failed permanently, or ctx ended).
	Unsent int
	// Calls counts the PutEvents calls made.
	Calls int
}

// NotAccepted is the number of entries that did not get in.
func (s Summary) NotAccepted() int { return len(s.Failed) + s.Unsent }

// Publish sends entries in batches and returns once every entry is settled.
// observe, if not nil, is called once per settled entry (from the publishing
// goroutines, one at a time). The error is not nil when a call failed in a
// way no retry can fix (e.g. AccessDenied, an unknown endpoint) or ctx
// ended; the summary then counts what was not sent as Unsent. An entry
// accepted is never sent again.
func (p *Publisher) Publish(ctx context.Context, entries []types.PutEventsRequestEntry, observe func(EntryResult)) (Summary, error) {
	batches := Batches(entries)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		sum      Summary
		firstErr error
		settled  = make([]bool, len(entries))
	)
	settle := func(r EntryResult) {
		mu.Lock()
		defer mu.Unlock()
		settled[r.Index] = true
		if r.Accepted() {
			sum.Accepted++
			p.opts.Metrics.Accepted(1)
		} else {
			sum.Failed = append(sum.Failed, r)
			p.opts.Metrics.Failed(1)
		}
		if observe != nil {
			observe(r)
		}
	}
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
		cancel()
	}
	call := func(refusedBefore int) {
		mu.Lock()
		defer mu.Unlock()
		sum.Calls++
		if refusedBefore > 0 {
			p.opts.Metrics.Retried(refusedBefore)
		}
	}
	refuse := func(n int) {
		mu.Lock()
		defer mu.Unlock()
		p.opts.Metrics.Refused(n)
	}

	var deadline time.Time
	if p.opts.RetryFor > 0 {
		deadline = p.opts.Now().Add(p.opts.RetryFor)
	}
	work := make(chan []int)
	var wg sync.WaitGroup
	for range p.opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := p.sendBatch(ctx, entries, b, deadline, batchHooks{settle: settle, call: call, refuse: refuse}); err != nil {
					fail(err)
				}
			}
		}()
	}
feed:
	for _, b := range batches {
		select {
		case work <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()

	for _, s := range settled {
		if !s {
			sum.Unsent++
		}
	}
	sortByIndex(sum.Failed)
	if firstErr == nil && sum.Unsent > 0 {
		firstErr = context.Cause(ctx)
	}
	return sum, firstErr
}

// batchHooks are what sendBatch reports: a settled entry, a call about to
// be made (with how many of its entries are retries) and refusals.
type batchHooks struct {
	settle func(EntryResult)
	call   func(retries int)
	refuse func(n int)
}

// sendBatch sends the entries at indexes idx, retrying refused ones until
// they have used their attempts or, with a deadline, until it has passed.
func (p *Publisher) sendBatch(ctx context.Context, entries []types.PutEventsRequestEntry, idx []int, deadline time.Time, h batchHooks) error {
	attempts := make(map[int]int, len(idx))
	exhausted := func(k int) bool {
		if deadline.IsZero() {
			return attempts[k] >= p.opts.MaxAttempts
		}
		return !p.opts.Now().Before(deadline)
	}
	pending := idx
	for try := 0; len(pending) > 0; try++ {
		if try > 0 {
			wait := backoff(p.opts.Backoff, p.opts.MaxBackoff, try)
			if !deadline.IsZero() {
				// The last attempt is made at the deadline, not past it.
				wait = max(0, min(wait, deadline.Sub(p.opts.Now())))
			}
			if err := p.opts.Sleep(ctx, wait); err != nil {
				return err
			}
		}
		batch := make([]types.PutEventsRequestEntry, len(pending))
		for i, k := range pending {
			batch[i] = entries[k]
			attempts[k]++
		}
		sentAt := p.opts.Now()
		retries := 0
		if try > 0 {
			retries = len(pending)
		}
		h.call(retries)
		res, err := put(ctx, p.api, p.opts.EndpointID, batch)
		if err != nil {
			return err
		}
		var retry []int
		nRefused := 0
		for i, k := range pending {
			o := res[i]
			r := EntryResult{Index: k, Attempts: attempts[k], SentAt: sentAt}
			if o.verdict == accepted {
				r.EventID = o.eventID
				h.settle(r)
				continue
			}
			nRefused++
			r.ErrorCode, r.ErrorMessage = o.code, o.msg
			if o.verdict == permanent || exhausted(k) {
				h.settle(r)
				continue
			}
			retry = append(retry, k)
		}
		if nRefused > 0 {
			h.refuse(nRefused)
		}
		pending = retry
	}
	return nil
}
