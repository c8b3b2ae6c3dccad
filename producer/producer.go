package producer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// Config configures a Producer. The zero value publishes to the entries'
// buses, keeps nothing on disk, and retries refused entries until they are
// accepted.
type Config struct {
	// EndpointID sends every call through this global endpoint (the SDK
	// signs it with SigV4a); empty sends to the regional bus named in each
	// entry.
	EndpointID string

	// SpoolDir, if set, makes the producer durable: Send returns once its
	// entries are written and fsync'd in this directory (created if
	// missing, 0700), and a producer opened on it later sends what an
	// earlier one left unsent. One producer at a time may hold it.
	SpoolDir string
	// SpoolMaxBytes bounds the spool's size on disk; a Send that would pass
	// it fails with ErrSpoolFull. Default 64 MiB.
	SpoolMaxBytes int64
	// SpoolSegmentBytes is the size at which the spool starts a new
	// segment file; a segment is deleted once every entry in it is settled.
	// Default SpoolMaxBytes/8, at most 4 MiB.
	SpoolSegmentBytes int64

	// MaxUnsent and MaxUnsentBytes bound the entries held in memory and not
	// yet settled (their size as EventBridge counts it): Send blocks while
	// taking its entries would pass either (a Send larger than the bounds
	// waits until nothing is unsent). Defaults 1000 entries and 8 MiB.
	// What Open resumes from a spool is held in memory whole, past these
	// bounds if the spool holds more (at most SpoolMaxBytes on disk), and
	// Send blocks until it has drained below them.
	MaxUnsent      int
	MaxUnsentBytes int

	// Concurrency is how many PutEvents calls may be in flight. Default 1,
	// which keeps entries in order; more may reorder them.
	Concurrency int
	// MaxAttempts and RetryFor, when positive, give up an entry refused for
	// a reason a retry can fix after that many attempts, or that long after
	// its first attempt; given up, it is Failed and leaves the spool. Zero
	// (the default) retries it until accepted: a producer rides through a
	// failover of the global endpoint (minutes in AWS) without losing it.
	MaxAttempts int
	RetryFor    time.Duration
	// Backoff is the delay before a batch's first retry; it doubles per
	// retry, with jitter, up to MaxBackoff. Defaults 200 ms and 5 s.
	Backoff, MaxBackoff time.Duration

	// Metrics, if set, receives the producer's figures as they change.
	Metrics Metrics
	// OnResult, if set, is told of every settled entry (one call at a time,
	// from the producer's goroutines; a slow OnResult slows the producer).
	OnResult func(Result)

	// Sleep waits between retries and Now is the clock; tests replace them.
	// Defaults: a timer that stops when the producer closes, and time.Now.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

func (c Config) withDefaults() Config {
	if c.SpoolMaxBytes <= 0 {
		c.SpoolMaxBytes = 64 << 20
	}
	if c.SpoolSegmentBytes <= 0 {
		c.SpoolSegmentBytes = min(c.SpoolMaxBytes/8, 4<<20)
	}
	if c.MaxUnsent <= 0 {
		c.MaxUnsent = 1000
	}
	if c.MaxUnsentBytes <= 0 {
		c.MaxUnsentBytes = 8 << 20
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.Backoff <= 0 {
		c.Backoff = 200 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.Metrics == nil {
		c.Metrics = NopMetrics{}
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Result is the fate of one entry a Producer settled.
type Result struct {
	// Seq is the entry's sequence number: Send's return value plus its
	// place in that Send. It is kept in the spool, so a resumed entry has
	// the number it was first given.
	Seq uint64
	// Entry is the entry as sent.
	Entry types.PutEventsRequestEntry
	// EventID is the ID EventBridge gave the event; empty when it failed.
	EventID string
	// ErrorCode and ErrorMessage say why it was given up; empty when it was
	// accepted.
	ErrorCode, ErrorMessage string
	// Attempts counts the calls this producer made with it.
	Attempts int
	// SentAt is when the call that settled it started.
	SentAt time.Time
	// Resumed marks an entry an earlier producer spooled and left unsent.
	Resumed bool
}

// Accepted reports whether EventBridge accepted the entry.
func (r Result) Accepted() bool { return r.ErrorCode == "" }

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("producer: closed")

// UnsentError is returned by Flush and Close when entries were still unsent.
type UnsentError struct {
	// Unsent counts them; SpoolDir, if not empty, is where they stay.
	Unsent   int
	SpoolDir string
	// Err is why they were not sent: the context ending, or a call that
	// failed in a way no retry can fix.
	Err error
}

func (e *UnsentError) Error() string {
	if e.SpoolDir != "" {
		return fmt.Sprintf("%d entries not yet accepted stay in the spool %s, for the next producer that opens it: %v", e.Unsent, e.SpoolDir, e.Err)
	}
	return fmt.Sprintf("%d entries not accepted (no spool keeps them): %v", e.Unsent, e.Err)
}

// Unwrap returns why the entries were not sent.
func (e *UnsentError) Unwrap() error { return e.Err }

// item is one entry the producer holds until it is settled.
type item struct {
	seq, seg uint64
	entry    types.PutEventsRequestEntry
	size     int
	at       time.Time // when it was spooled or taken
	attempts int
	first    time.Time // its first attempt by this producer
	resumed  bool
}

// Producer publishes entries given to Send in the background: in batches
// within PutEvents' limits, retrying refused entries with backoff and
// jitter, with a bounded memory (Send blocks when it is full) and,
// optionally, a durable spool. Its methods are safe for concurrent use.
//
// Delivery: every entry Send took is sent until EventBridge accepts it (or,
// with MaxAttempts or RetryFor, it is given up and reported Failed). An
// entry accepted — given an event ID — is never sent again: the spool
// records the acceptance (fsync'd) before the entry leaves it. Two
// boundaries make this at-least-once rather than exactly-once: a crash
// after EventBridge accepted a call and before its acknowledgement reached
// the disk, and a call that failed without an answer (a timeout) after
// EventBridge had accepted it; the entries are then sent again. The
// processor applies each eventId once (DESIGN §3, I1), so a second
// delivery is harmless.
type Producer struct {
	api   API
	cfg   Config
	spool *spool
	rec   Recovery

	sendLock chan struct{} // one Send at a time: sequence numbers and spool order agree
	resultMu sync.Mutex    // one OnResult at a time

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced on every change
	queue       []*item       // waiting to be sent, in sequence order
	inflight    map[*item]struct{}
	unsent      int // queued + in flight
	unsentBytes int
	nextSeq     uint64 // without a spool
	stats       Stats
	err         error // a call that no retry can fix, or a broken spool: the producer stops
	closing     bool

	run  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// Open starts a producer publishing through api. With cfg.SpoolDir it
// opens (or creates) the spool and resumes what it holds unsent; it fails,
// leaving nothing behind, when the directory cannot be written, is held by
// another producer, or holds a corrupt record (*CorruptError) — a torn
// final record, what a crash mid-write leaves, is cut off and reported in
// Recovery instead.
func Open(api API, cfg Config) (*Producer, error) {
	cfg = cfg.withDefaults()
	p := &Producer{api: api, cfg: cfg, sendLock: make(chan struct{}, 1), changed: make(chan struct{}),
		inflight: map[*item]struct{}{}, nextSeq: 1}
	if cfg.SpoolDir != "" {
		s, pending, rec, err := openSpool(cfg.SpoolDir, cfg.SpoolMaxBytes, cfg.SpoolSegmentBytes)
		if err != nil {
			return nil, err
		}
		p.spool, p.rec = s, rec
		for _, sp := range pending {
			it := &item{seq: sp.seq, seg: sp.seg, entry: sp.entry, size: EntrySize(sp.entry), at: sp.at, resumed: true}
			p.queue = append(p.queue, it)
			p.unsent++
			p.unsentBytes += it.size
		}
		p.stats.Resumed = len(pending)
	}
	p.run, p.stop = context.WithCancel(context.Background())
	for range cfg.Concurrency {
		p.wg.Add(1)
		go p.work()
	}
	return p, nil
}

// Recovery says what opening the spool found: the entries resumed, and any
// torn final record cut off (with its file and offset). Empty without a
// spool.
func (p *Producer) Recovery() Recovery { return p.rec }

// Send takes entries for publishing and returns the sequence number of the
// first (the others follow it). It blocks while the producer holds
// MaxUnsent entries or MaxUnsentBytes (until ctx ends: then nothing was
// taken). With a spool, it returns once the entries are written and
// fsync'd — one write and one fsync per Send, so send as many at once as
// you have — or fails having written none of them (ErrSpoolFull,
// an I/O error). After a call failed in a way no retry can fix, Send
// returns that error.
func (p *Producer) Send(ctx context.Context, entries ...types.PutEventsRequestEntry) (uint64, error) {
	if len(entries) == 0 {
		return 0, nil
	}
	select {
	case p.sendLock <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-p.sendLock }()
	size := 0
	for _, e := range entries {
		size += EntrySize(e)
	}
	n := len(entries)

	p.mu.Lock()
	for {
		switch {
		case p.err != nil:
			err := p.err
			p.mu.Unlock()
			return 0, err
		case p.closing:
			p.mu.Unlock()
			return 0, ErrClosed
		}
		if p.unsent == 0 || (p.unsent+n <= p.cfg.MaxUnsent && p.unsentBytes+size <= p.cfg.MaxUnsentBytes) {
			break
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		p.mu.Lock()
	}
	// Reserved: the memory is counted before the spool write, so a Send
	// never blocks after its entries are on disk.
	p.unsent += n
	p.unsentBytes += size
	p.mu.Unlock()

	at := p.cfg.Now()
	var first, seg uint64
	if p.spool != nil {
		var err error
		if first, seg, err = p.spool.append(entries, at); err != nil {
			p.mu.Lock()
			p.unsent -= n
			p.unsentBytes -= size
			if errors.Is(err, errSpoolBroken) && p.err == nil {
				p.err = err
				p.stop()
			}
			p.broadcast()
			p.mu.Unlock()
			return 0, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.spool == nil {
		first = p.nextSeq
		p.nextSeq += uint64(n)
	}
	for i, e := range entries {
		e.Resources = slices.Clone(e.Resources)
		p.queue = append(p.queue, &item{seq: first + uint64(i), seg: seg, entry: e, size: EntrySize(e), at: at})
	}
	if p.spool != nil {
		p.stats.Spooled += n
		p.cfg.Metrics.Spooled(n)
	}
	p.broadcast()
	return first, nil
}

// broadcast wakes everything waiting for a change. p.mu is held.
func (p *Producer) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Flush waits until every entry taken before it was called is settled, and
// returns nil; or returns an *UnsentError when ctx ends first or the
// producer stopped on an error no retry can fix.
func (p *Producer) Flush(ctx context.Context) error {
	p.mu.Lock()
	target := p.takenUpTo()
	for {
		oldest, ok := p.oldestSeq()
		if !ok || oldest >= target {
			p.mu.Unlock()
			return nil
		}
		if p.err != nil {
			defer p.mu.Unlock()
			return &UnsentError{Unsent: p.unsent, SpoolDir: p.cfg.SpoolDir, Err: p.err}
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.mu.Lock()
			defer p.mu.Unlock()
			return &UnsentError{Unsent: p.unsent, SpoolDir: p.cfg.SpoolDir, Err: ctx.Err()}
		}
		p.mu.Lock()
	}
}

// takenUpTo is the sequence number after the last entry taken. p.mu is
// held.
func (p *Producer) takenUpTo() uint64 {
	if n := len(p.queue); n > 0 {
		return p.queue[n-1].seq + 1
	}
	var top uint64
	for it := range p.inflight {
		top = max(top, it.seq+1)
	}
	return top
}

// oldestSeq is the lowest sequence number not settled. p.mu is held.
func (p *Producer) oldestSeq() (uint64, bool) {
	var lo uint64
	ok := false
	if len(p.queue) > 0 {
		lo, ok = p.queue[0].seq, true
	}
	for it := range p.inflight {
		if !ok || it.seq < lo {
			lo, ok = it.seq, true
		}
	}
	return lo, ok
}

// Close stops taking entries, waits until what was taken is settled or ctx
// ends, stops the producer and closes the spool. It returns an
// *UnsentError when entries were left unsent: with a spool they stay in it
// for the next producer. Close with a context already done stops at once.
func (p *Producer) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closing = true
	p.broadcast() // a Send waiting for room gives up with ErrClosed
	p.mu.Unlock()
	// A Send already writing to the spool finishes, and its entries are
	// flushed with the rest.
	p.sendLock <- struct{}{}
	<-p.sendLock

	err := p.Flush(ctx)
	p.stop()
	p.wg.Wait()
	if p.spool != nil {
		if cerr := p.spool.close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var ue *UnsentError
	if errors.As(err, &ue) {
		ue.Unsent = p.unsent
	}
	return err
}

// Stats returns a snapshot of the producer's figures.
func (p *Producer) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Unsent = p.unsent
	s.OldestUnsent = p.oldestAge()
	if p.spool != nil {
		s.SpoolBytes = p.spool.size()
	}
	return s
}

// oldestAge is the age of the oldest unsettled entry. p.mu is held.
func (p *Producer) oldestAge() time.Duration {
	var oldest time.Time
	if len(p.queue) > 0 {
		oldest = p.queue[0].at
	}
	for it := range p.inflight {
		if oldest.IsZero() || it.at.Before(oldest) {
			oldest = it.at
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return max(0, p.cfg.Now().Sub(oldest))
}

// work sends batches until the producer stops.
func (p *Producer) work() {
	defer p.wg.Done()
	for {
		batch := p.take()
		if batch == nil {
			return
		}
		p.sendBatch(batch)
	}
}

// take waits for queued entries and takes the next batch: at most
// MaxBatchEntries and MaxBatchBytes, in sequence order. nil means stop.
func (p *Producer) take() []*item {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) == 0 || p.err != nil {
		if p.run.Err() != nil || p.err != nil {
			return nil
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-p.run.Done():
		}
		p.mu.Lock()
	}
	if p.run.Err() != nil {
		return nil
	}
	var batch []*item
	bytes := 0
	for len(p.queue) > 0 && len(batch) < MaxBatchEntries {
		it := p.queue[0]
		if len(batch) > 0 && bytes+it.size > MaxBatchBytes {
			break
		}
		batch = append(batch, it)
		bytes += it.size
		p.queue = p.queue[1:]
		p.inflight[it] = struct{}{}
	}
	return batch
}

// exhausted reports whether a refused entry is given up.
func (p *Producer) exhausted(it *item) bool {
	if p.cfg.MaxAttempts > 0 && it.attempts >= p.cfg.MaxAttempts {
		return true
	}
	return p.cfg.RetryFor > 0 && !p.cfg.Now().Before(it.first.Add(p.cfg.RetryFor))
}

// sendBatch sends a batch until every entry in it is settled, retrying
// the refused ones with backoff; when the producer stops first, the rest
// go back to the queue (and stay in the spool).
func (p *Producer) sendBatch(batch []*item) {
	pending := batch
	for try := 0; len(pending) > 0; try++ {
		if p.run.Err() != nil {
			p.requeue(pending)
			return
		}
		if try > 0 {
			wait := backoff(p.cfg.Backoff, p.cfg.MaxBackoff, try)
			if p.cfg.RetryFor > 0 {
				// The last attempt is made at its deadline, not past it.
				var soonest time.Time
				for _, it := range pending {
					if d := it.first.Add(p.cfg.RetryFor); soonest.IsZero() || d.Before(soonest) {
						soonest = d
					}
				}
				wait = max(0, min(wait, soonest.Sub(p.cfg.Now())))
			}
			if err := p.cfg.Sleep(p.run, wait); err != nil {
				p.requeue(pending)
				return
			}
		}
		sentAt := p.cfg.Now()
		entries := make([]types.PutEventsRequestEntry, len(pending))
		for i, it := range pending {
			entries[i] = it.entry
			it.attempts++
			if it.first.IsZero() {
				it.first = sentAt
			}
		}
		p.mu.Lock()
		p.stats.Calls++
		if try > 0 {
			p.stats.Retried += len(pending)
			p.cfg.Metrics.Retried(len(pending))
		}
		p.mu.Unlock()

		res, err := put(p.run, p.api, p.cfg.EndpointID, entries)
		if err != nil {
			if p.run.Err() == nil {
				p.fail(err)
			}
			p.requeue(pending)
			return
		}
		var done []*item
		var results []Result
		var retry []*item
		refusedN := 0
		for i, it := range pending {
			o := res[i]
			r := Result{Seq: it.seq, Entry: it.entry, Attempts: it.attempts, SentAt: sentAt, Resumed: it.resumed}
			switch {
			case o.verdict == accepted:
				r.EventID = o.eventID
			case o.verdict == permanent || p.exhausted(it):
				refusedN++
				r.ErrorCode, r.ErrorMessage = o.code, o.msg
			default:
				refusedN++
				retry = append(retry, it)
				continue
			}
			done = append(done, it)
			results = append(results, r)
		}
		p.settle(done, results, refusedN)
		pending = retry
	}
}

// settle records the settled entries in the spool (fsync'd), drops them
// from memory, counts them and tells OnResult; refused counts the call's
// refusals.
func (p *Producer) settle(done []*item, results []Result, refused int) {
	var ackErr error
	if p.spool != nil && len(done) > 0 {
		acks := map[uint64][]ackRec{}
		for i, it := range done {
			r := ackRec{seq: it.seq, status: ackAccepted, text: results[i].EventID}
			if !results[i].Accepted() {
				r.status, r.text = ackGivenUp, results[i].ErrorCode
			}
			acks[it.seg] = append(acks[it.seg], r)
		}
		ackErr = p.spool.ack(acks)
	}
	p.mu.Lock()
	accepted, failed := 0, 0
	for i, it := range done {
		delete(p.inflight, it)
		p.unsent--
		p.unsentBytes -= it.size
		if results[i].Accepted() {
			accepted++
		} else {
			failed++
		}
	}
	p.stats.Accepted += accepted
	p.stats.Failed += failed
	p.stats.Refused += refused
	if refused > 0 {
		p.cfg.Metrics.Refused(refused)
	}
	if accepted > 0 {
		p.cfg.Metrics.Accepted(accepted)
	}
	if failed > 0 {
		p.cfg.Metrics.Failed(failed)
	}
	p.cfg.Metrics.OldestUnsent(p.oldestAge())
	if ackErr != nil && p.err == nil {
		// The entries are settled all the same (EventBridge has them); what
		// could not be recorded is sent again by the next producer.
		p.err = ackErr
		p.stop()
	}
	p.broadcast()
	p.mu.Unlock()

	if p.cfg.OnResult != nil && len(results) > 0 {
		p.resultMu.Lock()
		defer p.resultMu.Unlock()
		for _, r := range results {
			p.cfg.OnResult(r)
		}
	}
}

// requeue puts entries that were in a call back in the queue, in sequence
// order, when the producer stops.
func (p *Producer) requeue(items []*item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, it := range items {
		delete(p.inflight, it)
	}
	p.queue = append(slices.Clone(items), p.queue...)
	slices.SortFunc(p.queue, func(a, b *item) int { return cmpUint(a.seq, b.seq) })
	p.broadcast()
}

// fail stops the producer on an error no retry can fix.
func (p *Producer) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
	p.stop()
	p.broadcast()
}
