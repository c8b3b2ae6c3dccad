// Package publish sends events to EventBridge with PutEvents the way a careful
// producer does: batches of at most 10 entries and 256 KiB, a regional bus or
// a global endpoint (EndpointId, which the SDK signs with SigV4a), and retries
// with backoff of the entries a call reports as failed. tapctl send, load,
// dlq redrive and the local demo all publish through it.
package publish

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
)

// API is the part of *eventbridge.Client the publisher uses.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Service limits of one PutEvents call.
const (
	// MaxBatchEntries is the most entries one PutEvents call takes.
	MaxBatchEntries = 10
	// MaxBatchBytes bounds the summed entry size of a call. EventBridge
	// allows 1 MB per call today; 256 KiB is its long-standing per-entry and
	// former per-call limit, safe in every region and in emulators.
	MaxBatchBytes = 256 << 10
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
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Publisher publishes entries through one EventBridge client.
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
// ended; the summary then counts what was not sent as Unsent.
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
		} else {
			sum.Failed = append(sum.Failed, r)
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
	call := func() {
		mu.Lock()
		sum.Calls++
		mu.Unlock()
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
				if err := p.sendBatch(ctx, entries, b, deadline, settle, call); err != nil {
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
	slicesSortByIndex(sum.Failed)
	if firstErr == nil && sum.Unsent > 0 {
		firstErr = context.Cause(ctx)
	}
	return sum, firstErr
}

// sendBatch sends the entries at indexes idx, retrying failed ones until
// they have used their attempts or, with a deadline, until it has passed.
func (p *Publisher) sendBatch(ctx context.Context, entries []types.PutEventsRequestEntry, idx []int, deadline time.Time, settle func(EntryResult), call func()) error {
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
			wait := p.backoff(try)
			if !deadline.IsZero() {
				// The last attempt is made at the deadline, not past it.
				wait = max(0, min(wait, deadline.Sub(p.opts.Now())))
			}
			if err := p.opts.Sleep(ctx, wait); err != nil {
				return err
			}
		}
		in := &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, len(pending))}
		if p.opts.EndpointID != "" {
			in.EndpointId = aws.String(p.opts.EndpointID)
		}
		for i, k := range pending {
			in.Entries[i] = entries[k]
			attempts[k]++
		}
		sentAt := p.opts.Now()
		call()
		out, err := p.api.PutEvents(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !retryable(err) {
				return fmt.Errorf("PutEvents: %w", err)
			}
			// The SDK has already retried the call; the entries get our
			// own attempts on top, as if each had failed.
			code, msg := errorCode(err)
			pending = settleFailed(pending, attempts, exhausted, code, msg, sentAt, settle)
			continue
		}
		if len(out.Entries) != len(pending) {
			return fmt.Errorf("PutEvents: %d results for %d entries", len(out.Entries), len(pending))
		}
		var retry []int
		for i, k := range pending {
			res := out.Entries[i]
			code := aws.ToString(res.ErrorCode)
			r := EntryResult{Index: k, EventID: aws.ToString(res.EventId), Attempts: attempts[k], SentAt: sentAt}
			if code == "" {
				settle(r)
				continue
			}
			r.EventID, r.ErrorCode, r.ErrorMessage = "", code, aws.ToString(res.ErrorMessage)
			if permanentEntryError(code) || exhausted(k) {
				settle(r)
				continue
			}
			retry = append(retry, k)
		}
		pending = retry
	}
	return nil
}

// settleFailed settles the entries that are exhausted and returns the rest,
// after a call failed as a whole with code.
func settleFailed(pending []int, attempts map[int]int, exhausted func(int) bool, code, msg string, sentAt time.Time, settle func(EntryResult)) []int {
	var rest []int
	for _, k := range pending {
		if exhausted(k) {
			settle(EntryResult{Index: k, ErrorCode: code, ErrorMessage: msg, Attempts: attempts[k], SentAt: sentAt})
			continue
		}
		rest = append(rest, k)
	}
	return rest
}

// backoff is the delay before retry number try (1 for the first), with full
// jitter over its upper half so concurrent publishers spread out.
func (p *Publisher) backoff(try int) time.Duration {
	d := p.opts.Backoff
	for i := 1; i < try && d < p.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.opts.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// permanentEntryError reports whether an entry error code can never succeed
// on retry: the entry itself, or the caller's permissions, are wrong.
func permanentEntryError(code string) bool {
	switch code {
	case "MalformedDetail", "InvalidArgument", "ValidationException",
		"AccessDeniedException", "NotAuthorizedForSourceException",
		"NotAuthorizedForDetailTypeException", "ResourceNotFoundException":
		return true
	}
	return false
}

// retryable reports whether a failed call is worth sending again: the SDK's
// own classification (throttling, 5xx, connection errors).
func retryable(err error) bool {
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

func errorCode(err error) (code, msg string) {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode(), api.ErrorMessage()
	}
	return "RequestError", err.Error()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
