package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tap-trading/tap/internal/dlq"
)

// ProcessFunc processes one event the way the Lambda handler does: it returns
// the event's outcome, or an error Lambda would retry. A nil error with a
// rejected or conflict outcome means the handler has already dead-lettered
// the event itself.
type ProcessFunc func(ctx context.Context, raw json.RawMessage) (outcome string, err error)

// Outcomes the invoker adds to the processor's own.
const (
	// OutcomeFailed: every invocation failed (or the event got too old in
	// Lambda's queue); the invoker sent Lambda's on-failure record to the
	// processing DLQ.
	OutcomeFailed = "failed"
	// OutcomeDeliveryFailed: the Lambda service refused every delivery
	// attempt until the target's retry policy ran out; the invoker sent
	// EventBridge's delivery-failure record to the delivery DLQ. The
	// processor never saw the event.
	OutcomeDeliveryFailed = "delivery-failed"
	// OutcomeUnfinished: shutdown interrupted the event; it stays in the
	// inbox, neither applied nor dead-lettered by this run.
	OutcomeUnfinished = "unfinished"
)

// EventBridge's EXHAUSTED_RETRY_CONDITION values on a delivery-failure
// record: which limit of the target's retry policy ended the delivery.
//
// ASSUMED: the values are the RetryPolicy field names. The EventBridge User
// Guide lists the attribute without its values
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html);
// two independent EventBridge emulators write these two.
const (
	ConditionMaximumRetryAttempts = "MaximumRetryAttempts"
	ConditionMaximumEventAge      = "MaximumEventAgeInSeconds"
)

// DefaultRefusalCode is the ERROR_CODE of a delivery-failure record whose
// last refusal does not name one (an error with an ErrorCode() string
// method, such as a smithy.APIError, names its own). THROTTLING is one of
// the codes the EventBridge User Guide lists for DLQ messages. ASSUMED: it
// is the code of a Lambda service that throttles the invocation.
const DefaultRefusalCode = "THROTTLING"

// DefaultMaxQueued bounds the events an invoker holds in Lambda's
// asynchronous queue (see InvokerConfig.MaxQueued).
const DefaultMaxQueued = 10000

// SQS is the part of *sqs.Client the invoker uses.
type SQS interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// InvokerConfig configures an Invoker. Zero durations take the defaults'
// AWS values (InvokerFromSpec(SpecFor(DefaultEnv), DefaultScale)); counts
// are taken as given.
type InvokerConfig struct {
	// InboxURL is the queue the rule delivers events to: EventBridge's
	// pending deliveries to the function.
	InboxURL string
	// DLQURL is the processing DLQ: Lambda's on-failure destination.
	DLQURL string
	// DeliveryDLQURL is the target's dead-letter queue, where EventBridge
	// sends an event it could not deliver. Empty: such an event is dropped,
	// as EventBridge drops it when the target has none.
	DeliveryDLQURL string
	// FunctionARN names the function in on-failure records and is the
	// TARGET_ARN of delivery-failure records.
	FunctionARN string
	// RuleARN is the RULE_ARN of delivery-failure records.
	RuleARN string
	// Concurrency bounds the invocations in flight, like the function's
	// concurrency. Default 4.
	Concurrency int
	// MaxQueued bounds the events the invoker holds: accepted into Lambda's
	// asynchronous queue and not yet settled (waiting, running or waiting
	// for a retry), or between two delivery attempts kept in memory. Lambda
	// accepts an asynchronous invocation whatever the function's backlog;
	// locally the queue lives in memory, so past this bound the invoker
	// stops receiving from the inbox until events settle, and the events
	// beyond it wait there, their first delivery attempt (and OnInvoke)
	// late. Default DefaultMaxQueued (10000), far more than a local run
	// queues.
	MaxQueued int
	// RetryAttempts is how many times Lambda retries a failed invocation, 0
	// to 2 as MaximumRetryAttempts (the zero value retries nothing).
	RetryAttempts int
	// RetryBackoff is Lambda's delay before the first retry; it doubles per
	// retry (AWS: LambdaRetryBackoff, 1 min, then 2 min).
	RetryBackoff time.Duration
	// MaxEventAge is how long an event may wait in Lambda's queue,
	// measured from when Lambda accepted it, before it is sent to the
	// processing DLQ untried (AWS default 6 h).
	MaxEventAge time.Duration
	// Timeout bounds one invocation, like the function timeout (AWS
	// default here 30 s).
	Timeout time.Duration
	// TargetRetryAttempts is the target retry policy's MaximumRetryAttempts,
	// 0 to 185: how many times EventBridge retries a delivery the Lambda
	// service refused (the zero value retries nothing).
	TargetRetryAttempts int
	// TargetMaxEventAge is the target retry policy's MaximumEventAge: past
	// it, measured from ingestion (the inbox's SentTimestamp), EventBridge
	// makes no more attempts (AWS default 24 h).
	TargetMaxEventAge time.Duration
	// TargetRetryBase and TargetRetryCap shape EventBridge's backoff
	// between delivery attempts: the n-th retry waits a random time in
	// [0, min(cap, base × 2^(n-1))). AWS publishes neither: see
	// TargetRetryBase and TargetRetryCap (the constants) for the values
	// assumed.
	TargetRetryBase, TargetRetryCap time.Duration
	// Refuse, if not nil, is asked at every delivery attempt whether the
	// Lambda service refuses the invocation (throttled, unavailable): a
	// non-nil error refuses it, and EventBridge retries per the target's
	// retry policy. Nil: Lambda accepts every invocation. It is called from
	// several goroutines.
	Refuse func() error
	// PollWait is the inbox long-poll wait. Default 1 s: short, so Ctrl-C is
	// prompt.
	PollWait time.Duration
	// Observe, if not nil, is called once per event when it is settled, one
	// call at a time.
	Observe func(Result)
	// OnInvoke, if not nil, is told of an event's first delivery attempt,
	// when EventBridge invokes the function, whether the Lambda service
	// accepts it or not, and when the event entered the inbox:
	// EventBridge's IngestionToInvocationStartLatency, which drives region
	// health. Lambda accepts asynchronous invocations into its queue at
	// once, so the processor's backlog does not delay it.
	OnInvoke func(ingested, started time.Time)
	// OnDelivered, if not nil, is told when the Lambda service accepted an
	// event and when it entered the inbox: EventBridge's
	// IngestionToInvocationSuccessLatency. It may be called from several
	// goroutines at once.
	OnDelivered func(ingested, delivered time.Time)
	// Visibility, if positive, is the lease on a received inbox message: how
	// long it stays hidden before the invoker extends it (which it does
	// while it holds the event) or, after a crash, another poller takes it.
	// Default: the function timeout + 30 s. Whole seconds, at least 1 s.
	Visibility time.Duration
	// OnError, if not nil, is told of errors the invoker survives (a failed
	// delete or dead-letter send; the event comes back later).
	OnError func(error)
	// Now is the clock of event ages and results. Default time.Now.
	Now func() time.Time
	// Rand returns a uniform number in [0, 1) for EventBridge's jitter.
	// Default math/rand/v2's.
	Rand func() float64
}

func (c InvokerConfig) withDefaults() InvokerConfig {
	c = c.withDurationsFrom(defaultLimits())
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.MaxQueued <= 0 {
		c.MaxQueued = DefaultMaxQueued
	}
	c.RetryAttempts = max(c.RetryAttempts, 0)
	c.TargetRetryAttempts = max(c.TargetRetryAttempts, 0)
	if c.PollWait <= 0 {
		c.PollWait = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

// Result is how one event was settled.
type Result struct {
	MessageID string
	// EventID is the detail's eventId, when the event has one.
	EventID string
	// Outcome is the processor's outcome, OutcomeFailed,
	// OutcomeDeliveryFailed or OutcomeUnfinished.
	Outcome string
	// Attempts counts EventBridge's delivery attempts (the last one
	// accepted, unless the delivery failed) made by this invoker, or since
	// the message was first received when it was taken over from an
	// earlier run.
	Attempts int
	// Invokes counts the invocations made.
	Invokes int
	// Err is the last invocation's error for failed and unfinished events,
	// the last refusal for events whose delivery failed.
	Err error
	// Condition is the on-failure condition of a failed event (Lambda's
	// RetriesExhausted or EventAgeExceeded) or the exhausted retry
	// condition of an event whose delivery failed
	// (ConditionMaximumRetryAttempts or ConditionMaximumEventAge).
	Condition string
	// Reason and Message say why a rejected or conflicting event was
	// dead-lettered, as its processing DLQ record does (see NoteRejection).
	Reason, Message string
	// Enqueued is when the event entered the inbox (SQS's SentTimestamp,
	// millisecond precision); Accepted is when the Lambda service accepted
	// it; Started is when its first invocation began.
	Enqueued, Accepted, Started time.Time
	// Busy is the time spent inside invocations; AWSWait is the part of it
	// the processor spent waiting on the local AWS (see NoteAWSWait).
	Busy, AWSWait time.Duration
	// Done is when the event was settled.
	Done time.Time
}

// notesKey keys an invocation's *notes in its context.
type notesKey struct{}

// notes is what a ProcessFunc tells the invoker beside its outcome, through
// the invocation's context (ProcessFunc's signature is Lambda's).
type notes struct {
	mu              sync.Mutex
	reason, message string
	awsWait         time.Duration
}

// NoteRejection records, for the invocation running under ctx, the reason
// code and message with which the processor dead-lettered the event, so the
// invoker reports them. RealProcessor calls it when it sends a dead letter.
func NoteRejection(ctx context.Context, reason, message string) {
	if n, ok := ctx.Value(notesKey{}).(*notes); ok {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.reason, n.message = reason, message
	}
}

// NoteAWSWait adds d to the time the invocation running under ctx spent
// waiting on the local AWS. RealProcessor calls it for every HTTP round trip
// of its SDK clients, so a demo can tell the emulator's time from TAP's.
func NoteAWSWait(ctx context.Context, d time.Duration) {
	if n, ok := ctx.Value(notesKey{}).(*notes); ok {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.awsWait += d
	}
}

// Stats is a snapshot of the invoker's counters.
type Stats struct {
	// Received counts events taken from the inbox (an event received again
	// for a delivery retry is not counted again); InFlight is the number
	// the invoker holds, not yet settled.
	Received, InFlight int
	// Queued counts the events Lambda has accepted and not settled
	// (waiting in its queue, running, or waiting for a retry); Running
	// those in an invocation.
	Queued, Running int
	// Attempts counts EventBridge's delivery attempts; Refused those the
	// Lambda service refused.
	Attempts, Refused int
	// Retrying is the number of refused events waiting in the inbox for
	// their next delivery attempt.
	Retrying int
	// Outcomes counts settled events by outcome.
	Outcomes map[string]int
}

// Settled is the number of events settled (any outcome but unfinished).
func (s Stats) Settled() int {
	n := 0
	for o, c := range s.Outcomes {
		if o != OutcomeUnfinished {
			n += c
		}
	}
	return n
}

// Invoker plays EventBridge's delivery of an SQS inbox's events to an
// asynchronously invoked function, and Lambda's asynchronous invocation of
// a ProcessFunc (DESIGN §8):
//
//   - Receiving a message is EventBridge's attempt to invoke the function.
//     The Lambda service accepts it (unless Refuse says otherwise) into its
//     asynchronous queue, in memory, whatever the function's backlog; the
//     message stays in the inbox, hidden, as the event's durable copy until
//     the event is settled.
//   - A refused attempt is retried per the target's retry policy, with
//     EventBridge's exponential backoff and jitter: the message is hidden
//     until the retry falls due (ChangeMessageVisibility; a retry due in
//     less than SQS's one-second granularity waits in memory), so the event
//     waits in the inbox and holds no slot. When the attempts or the age
//     run out, EventBridge's delivery-failure record goes to the delivery
//     DLQ.
//   - Concurrency invocation slots run the queue: each event is invoked,
//     retried with doubling backoff up to RetryAttempts times while younger
//     than MaxEventAge (counted from acceptance), then recorded in the
//     processing DLQ as Lambda's on-failure destination would. An event
//     waiting for a retry holds no slot.
//
// An inbox message is deleted only once its event is settled.
type Invoker struct {
	cfg   InvokerConfig
	lease time.Duration
	sqs   SQS
	proc  ProcessFunc

	mu       sync.Mutex
	outcomes map[string]int
	// held are the deliveries of the messages the invoker holds, by
	// message ID; retrying the attempts made on refused messages waiting
	// in the inbox for their next attempt.
	held     map[string]*delivery
	retrying map[string]retryState
	// release are the receipt handles of unfinished messages to make
	// visible again when Run ends.
	release                     []string
	received, attempts, refused int
	queued, running             int
	room                        chan struct{}
	requests                    atomic.Int64
}

// delivery is an event the invoker holds: EventBridge's delivery of one
// inbox message and, once the Lambda service accepted it, Lambda's handling.
type delivery struct {
	id, receipt string
	raw         json.RawMessage
	ingested    time.Time
	accepted    time.Time
	// attempts are the delivery attempts made; lastRefusal the error of
	// the last refused one.
	attempts    int
	lastRefusal error
	// leaseUntil is when the message's visibility ends (wall clock).
	leaseUntil time.Time
	res        Result
}

// errNotAttempted is the failure of an event already past the target's
// maximum event age when the invoker first received it. It names no error
// code: no attempt failed.
type errNotAttempted struct{}

func (errNotAttempted) Error() string {
	return "not attempted: the event was older than the target's maximum event age when the local invoker received it"
}

func (errNotAttempted) ErrorCode() string { return "" }

// retryState is what the invoker remembers of a refused event while it
// waits in the inbox.
type retryState struct {
	attempts    int
	lastRefusal error
}

// NewInvoker returns an invoker of proc over the queues of cfg.
func NewInvoker(api SQS, proc ProcessFunc, cfg InvokerConfig) *Invoker {
	cfg = cfg.withDefaults()
	lease := cfg.Visibility
	if lease <= 0 {
		lease = cfg.Timeout + 30*time.Second
	}
	// SQS visibility is whole seconds, at most 12 h.
	lease = min(max(lease.Round(time.Second), time.Second), 12*time.Hour)
	return &Invoker{
		cfg: cfg, lease: lease, sqs: api, proc: proc,
		outcomes: map[string]int{}, held: map[string]*delivery{}, retrying: map[string]retryState{},
		room: make(chan struct{}, 1),
	}
}

// Stats returns the invoker's counters.
func (v *Invoker) Stats() Stats {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := Stats{
		Received: v.received, InFlight: len(v.held), Queued: v.queued, Running: v.running,
		Attempts: v.attempts, Refused: v.refused, Retrying: len(v.retrying), Outcomes: map[string]int{},
	}
	for k, n := range v.outcomes {
		s.Outcomes[k] = n
	}
	return s
}

// maxReceiveErrors is how many inbox receives in a row may fail before Run
// gives up: the local AWS has gone away.
const maxReceiveErrors = 5

// releaseTimeout bounds the calls that give unfinished messages back to the
// inbox when Run ends.
const releaseTimeout = 2 * time.Second

// run is the state of one Run.
type run struct {
	// work is the invocations' context: it ends grace after Run's.
	work context.Context
	// ready is Lambda's queue: accepted events waiting for a slot. It never
	// holds more than MaxQueued, the bound on held.
	ready chan *delivery
	// stopping is closed when Run's context ends.
	stopping chan struct{}
	// wg counts the slots and the goroutines waiting for a retry.
	wg sync.WaitGroup
}

func (r *run) stopped() bool {
	select {
	case <-r.stopping:
		return true
	default:
		return false
	}
}

// Run receives the inbox's events and processes them until ctx ends, then
// stops receiving, settles the events not yet running as unfinished and
// gives those running up to grace to finish; those still running then are
// cancelled and reported as OutcomeUnfinished. Unfinished events stay in
// the inbox, made visible again at once after a clean stop (a refused event
// waiting for its retry stays hidden until it falls due). It returns nil
// after a clean stop, or the error that made receiving impossible.
func (v *Invoker) Run(ctx context.Context, grace time.Duration) error {
	// Invocations get their own context: Ctrl-C stops receiving at once,
	// but events in flight may finish within the grace period.
	work, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	r := &run{work: work, ready: make(chan *delivery, v.cfg.MaxQueued), stopping: make(chan struct{})}
	for range v.cfg.Concurrency {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			v.slot(r)
		}()
	}
	leases, stopLeases := context.WithCancel(context.Background())
	leasesDone := make(chan struct{})
	go func() {
		defer close(leasesDone)
		v.keepLeases(leases)
	}()

	err := v.poll(ctx, r)
	close(r.stopping)
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		cancelWork()
		<-done
	}
	for {
		select {
		case d := <-r.ready:
			v.unfinished(d)
			continue
		default:
		}
		break
	}
	stopLeases()
	<-leasesDone
	v.giveBack(err == nil)
	return err
}

// poll receives inbox messages while the invoker holds fewer than
// MaxQueued events; each is a delivery attempt.
func (v *Invoker) poll(ctx context.Context, r *run) error {
	failures := 0
	for {
		v.mu.Lock()
		n := min(v.cfg.MaxQueued-len(v.held), 10)
		v.mu.Unlock()
		if n <= 0 {
			select {
			case <-v.room:
				continue
			case <-ctx.Done():
				return nil
			}
		}
		msgs, err := v.receive(ctx, n)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if failures++; failures >= maxReceiveErrors {
				return fmt.Errorf("local invoker: inbox unreachable: %w", err)
			}
			v.report(err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		failures = 0
		for _, m := range msgs {
			if d := v.take(m); d != nil {
				v.attempt(r, d)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (v *Invoker) receive(ctx context.Context, n int) ([]sqstypes.Message, error) {
	out, err := v.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            &v.cfg.InboxURL,
		MaxNumberOfMessages: int32(n),
		WaitTimeSeconds:     int32(max(1, v.cfg.PollWait/time.Second)),
		VisibilityTimeout:   int32(v.lease / time.Second),
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{
			sqstypes.MessageSystemAttributeNameSentTimestamp,
			sqstypes.MessageSystemAttributeNameApproximateReceiveCount,
		},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// take registers a received message and returns its delivery, or nil if
// the invoker already holds it (its lease lapsed and it came back: only
// its newest receipt handle is kept).
func (v *Invoker) take(m sqstypes.Message) *delivery {
	id := aws.ToString(m.MessageId)
	v.mu.Lock()
	defer v.mu.Unlock()
	if d, ok := v.held[id]; ok {
		d.receipt, d.leaseUntil = aws.ToString(m.ReceiptHandle), time.Now().Add(v.lease)
		return nil
	}
	raw := json.RawMessage(aws.ToString(m.Body))
	d := &delivery{
		id: id, receipt: aws.ToString(m.ReceiptHandle), raw: raw,
		ingested: v.cfg.Now(), leaseUntil: time.Now().Add(v.lease),
		res: Result{MessageID: id, EventID: eventIDOf(raw)},
	}
	if ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		d.ingested = time.UnixMilli(ms)
	}
	d.res.Enqueued = d.ingested
	if st, ok := v.retrying[id]; ok {
		d.attempts, d.lastRefusal = st.attempts, st.lastRefusal
		delete(v.retrying, id)
	} else {
		v.received++
		// A message received before, by an earlier run: each receive was
		// an attempt (approximately: the earlier run may have been
		// stopped before it settled an accepted event).
		if rc, err := strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)]); err == nil && rc > 1 {
			d.attempts = rc - 1
		}
	}
	v.held[id] = d
	return d
}

// attempt makes one EventBridge delivery attempt of d.
func (v *Invoker) attempt(r *run, d *delivery) {
	now := v.cfg.Now()
	if now.Sub(d.ingested) > v.cfg.TargetMaxEventAge {
		if d.attempts == 0 {
			// Only locally: EventBridge attempts at ingestion, but the
			// inbox may hold an event while no invoker runs, or while it
			// holds MaxQueued events.
			d.lastRefusal = errNotAttempted{}
		}
		v.deliveryFailed(r, d, ConditionMaximumEventAge)
		return
	}
	d.attempts++
	d.res.Attempts = d.attempts
	v.mu.Lock()
	v.attempts++
	v.mu.Unlock()
	if d.attempts == 1 && v.cfg.OnInvoke != nil {
		v.cfg.OnInvoke(d.ingested, now)
	}
	if v.cfg.Refuse != nil {
		if err := v.cfg.Refuse(); err != nil {
			v.mu.Lock()
			v.refused++
			v.mu.Unlock()
			d.lastRefusal = err
			if d.attempts > v.cfg.TargetRetryAttempts {
				v.deliveryFailed(r, d, ConditionMaximumRetryAttempts)
				return
			}
			v.retryDelivery(r, d, v.targetBackoff(d.attempts))
			return
		}
	}
	d.accepted = now
	d.res.Accepted = now
	v.mu.Lock()
	v.queued++
	v.mu.Unlock()
	if v.cfg.OnDelivered != nil {
		v.cfg.OnDelivered(d.ingested, now)
	}
	v.enqueue(r, d)
}

// targetBackoff is EventBridge's wait before the n-th retry of a refused
// delivery: full jitter over min(cap, base × 2^(n-1)).
func (v *Invoker) targetBackoff(n int) time.Duration {
	ceil := v.cfg.TargetRetryCap
	if n-1 < 63 && v.cfg.TargetRetryBase <= ceil>>(n-1) {
		ceil = v.cfg.TargetRetryBase << (n - 1)
	}
	return time.Duration(v.cfg.Rand() * float64(ceil))
}

// retryDelivery schedules d's next delivery attempt after delay. The
// message is hidden until then and the invoker lets go of it; a delay below
// SQS's one-second granularity is waited in memory instead.
func (v *Invoker) retryDelivery(r *run, d *delivery, delay time.Duration) {
	if r.stopped() {
		v.unfinished(d)
		return
	}
	if delay >= time.Second {
		secs := int32(min(math.Round(delay.Seconds()), 12*3600))
		if _, err := v.sqs.ChangeMessageVisibility(r.work, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: &v.cfg.InboxURL, ReceiptHandle: aws.String(v.receiptOf(d)), VisibilityTimeout: secs,
		}); err != nil {
			// It comes back when its lease ends instead.
			v.report(fmt.Errorf("local invoker: schedule the delivery retry of event %s: %w", d.res.EventID, err))
		}
		v.mu.Lock()
		delete(v.held, d.id)
		v.retrying[d.id] = retryState{attempts: d.attempts, lastRefusal: d.lastRefusal}
		v.mu.Unlock()
		v.signalRoom()
		return
	}
	v.after(r, d, delay, v.attempt)
}

// after runs next(r, d) once delay has passed, in its own goroutine, unless
// the run stops first: then d is left unfinished, as everything in flight.
func (v *Invoker) after(r *run, d *delivery, delay time.Duration, next func(*run, *delivery)) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			next(r, d)
		case <-r.stopping:
			v.unfinished(d)
		}
	}()
}

// deliveryFailed ends d's delivery: EventBridge's delivery-failure record
// to the delivery DLQ, then the inbox message is deleted.
func (v *Invoker) deliveryFailed(r *run, d *delivery, condition string) {
	d.res.Condition, d.res.Err, d.res.Attempts = condition, d.lastRefusal, d.attempts
	if err := v.sendDeliveryFailure(r.work, d, condition); err != nil {
		// The message stays in the inbox and comes back when its lease
		// ends: nothing is lost.
		v.report(err)
		d.res.Err = err
		v.unfinished(d)
		return
	}
	d.res.Outcome = OutcomeDeliveryFailed
	v.finish(r.work, d)
}

// DeliveryFailureMessage is the SQS message EventBridge sends to a target's
// dead-letter queue when it gives up delivering event: the event as the
// body, and the attributes RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE,
// EXHAUSTED_RETRY_CONDITION (ConditionMaximumRetryAttempts or
// ConditionMaximumEventAge; omitted when empty) and RETRY_ATTEMPTS (the
// retries made, one less than the attempts), all strings. ERROR_CODE is
// lastErr's ErrorCode() if it has that method (omitted if that is empty),
// else DefaultRefusalCode; ERROR_MESSAGE is lastErr's text; both are
// omitted when lastErr is nil (EventBridge User
// Guide, "Using dead-letter queues to process undelivered events",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/rule-dlq.html).
// internal/dlq parses it as a FormatDelivery record.
func DeliveryFailureMessage(queueURL, ruleARN, targetARN string, event json.RawMessage, condition string, attempts int, lastErr error) *sqs.SendMessageInput {
	var code, msg string
	if lastErr != nil {
		code, msg = DefaultRefusalCode, lastErr.Error()
		var coded interface{ ErrorCode() string }
		if errors.As(lastErr, &coded) {
			code = coded.ErrorCode()
		}
	}
	attrs := map[string]sqstypes.MessageAttributeValue{}
	set := func(k, v string) {
		if v != "" {
			attrs[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	set(dlq.AttrEBRuleARN, ruleARN)
	set(dlq.AttrEBTargetARN, targetARN)
	set(dlq.AttrEBErrorCode, code)
	set(dlq.AttrEBErrorMessage, msg)
	set(dlq.AttrEBExhausted, condition)
	set(dlq.AttrEBRetryAttempts, strconv.Itoa(max(attempts-1, 0)))
	return &sqs.SendMessageInput{QueueUrl: &queueURL, MessageBody: aws.String(string(event)), MessageAttributes: attrs}
}

func (v *Invoker) sendDeliveryFailure(ctx context.Context, d *delivery, condition string) error {
	if v.cfg.DeliveryDLQURL == "" {
		return nil // no dead-letter queue: EventBridge drops the event
	}
	in := DeliveryFailureMessage(v.cfg.DeliveryDLQURL, v.cfg.RuleARN, v.cfg.FunctionARN, d.raw, condition, d.attempts, d.lastRefusal)
	if _, err := v.sqs.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("local invoker: send event %s to the delivery DLQ: %w", d.res.EventID, err)
	}
	return nil
}

// enqueue puts an accepted event in Lambda's queue.
func (v *Invoker) enqueue(r *run, d *delivery) {
	select {
	case r.ready <- d:
	case <-r.stopping:
		v.unfinished(d)
	}
}

// slot is one invocation slot: it runs events from Lambda's queue until
// Run stops.
func (v *Invoker) slot(r *run) {
	for {
		select {
		case <-r.stopping:
			return
		case d := <-r.ready:
			if r.stopped() {
				v.unfinished(d)
				continue
			}
			v.invokeOnce(r, d)
		}
	}
}

// invokeOnce makes one invocation of d and settles it, or schedules its
// retry.
func (v *Invoker) invokeOnce(r *run, d *delivery) {
	start := v.cfg.Now()
	if start.Sub(d.accepted) > v.cfg.MaxEventAge {
		d.res.Condition = dlq.ConditionEventAgeExceeded
		v.lambdaFailed(r, d)
		return
	}
	d.res.Invokes++
	if d.res.Started.IsZero() {
		d.res.Started = start
	}
	v.mu.Lock()
	v.running++
	v.mu.Unlock()
	var n notes
	outcome, err := v.invoke(context.WithValue(r.work, notesKey{}, &n), d.raw)
	v.mu.Lock()
	v.running--
	v.mu.Unlock()
	d.res.Busy += v.cfg.Now().Sub(start)
	n.mu.Lock()
	d.res.AWSWait += n.awsWait
	d.res.Reason, d.res.Message = n.reason, n.message
	n.mu.Unlock()
	if err == nil {
		d.res.Outcome = outcome
		v.finish(r.work, d)
		return
	}
	d.res.Err = err
	switch {
	case r.work.Err() != nil:
		v.unfinished(d)
	case d.res.Invokes > v.cfg.RetryAttempts:
		d.res.Condition = dlq.ConditionRetriesExhausted
		v.lambdaFailed(r, d)
	case r.stopped():
		v.unfinished(d)
	default:
		// Lambda queues the retry: the event holds no slot while it waits.
		v.after(r, d, v.cfg.RetryBackoff<<(d.res.Invokes-1), v.enqueue)
	}
}

// invoke runs one invocation with the function timeout; a panic is a
// function error, as in Lambda.
func (v *Invoker) invoke(work context.Context, raw json.RawMessage) (outcome string, err error) {
	ctx, cancel := context.WithTimeout(work, v.cfg.Timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return v.proc(ctx, raw)
}

// lambdaFailed sends Lambda's on-failure record of d to the processing DLQ
// and settles it.
func (v *Invoker) lambdaFailed(r *run, d *delivery) {
	if err := v.deadLetter(r.work, d.res, d.raw); err != nil {
		// The message stays in the inbox and comes back when its lease
		// ends: nothing is lost.
		v.report(err)
		d.res.Err = err
		v.unfinished(d)
		return
	}
	d.res.Outcome = OutcomeFailed
	v.finish(r.work, d)
}

// deadLetter sends Lambda's on-failure record of the event to the DLQ.
func (v *Invoker) deadLetter(work context.Context, res Result, raw json.RawMessage) error {
	payload := raw
	if !json.Valid(payload) {
		// Lambda's record embeds the payload as JSON; an event that is not
		// JSON (never delivered by EventBridge) goes in as a string.
		payload, _ = json.Marshal(string(raw))
	}
	rec := dlq.NewLambdaFailure(v.requestID(), v.cfg.FunctionARN, res.Condition, res.Invokes, payload, res.Err, v.cfg.Now())
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("local invoker: encode on-failure record: %w", err)
	}
	if _, err := v.sqs.SendMessage(work, &sqs.SendMessageInput{QueueUrl: &v.cfg.DLQURL, MessageBody: aws.String(string(body))}); err != nil {
		return fmt.Errorf("local invoker: send event %s to the processing DLQ: %w", res.EventID, err)
	}
	return nil
}

// finish deletes the settled event's message from the inbox and settles it.
func (v *Invoker) finish(work context.Context, d *delivery) {
	if _, err := v.sqs.DeleteMessage(work, &sqs.DeleteMessageInput{QueueUrl: &v.cfg.InboxURL, ReceiptHandle: aws.String(v.receiptOf(d))}); err != nil {
		// Settled all the same; the redelivery will be a duplicate.
		v.report(fmt.Errorf("local invoker: delete settled event %s from the inbox: %w", d.res.EventID, err))
	}
	v.let(d, false)
	v.settle(d.res)
}

// unfinished settles d as OutcomeUnfinished: its message stays in the inbox.
func (v *Invoker) unfinished(d *delivery) {
	d.res.Outcome = OutcomeUnfinished
	v.let(d, true)
	v.settle(d.res)
}

// receiptOf is d's newest receipt handle (take and keepLeases change it).
func (v *Invoker) receiptOf(d *delivery) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return d.receipt
}

// let stops holding d; keep says its message stays in the inbox, to be
// made visible again when Run ends.
func (v *Invoker) let(d *delivery, keep bool) {
	v.mu.Lock()
	if v.held[d.id] == d {
		delete(v.held, d.id)
	}
	if !d.accepted.IsZero() {
		v.queued--
	} else if keep && d.attempts > 0 {
		// Refused, not accepted: the attempts made still count.
		v.retrying[d.id] = retryState{attempts: d.attempts, lastRefusal: d.lastRefusal}
	}
	if keep {
		v.release = append(v.release, d.receipt)
	}
	v.mu.Unlock()
	v.signalRoom()
}

func (v *Invoker) signalRoom() {
	select {
	case v.room <- struct{}{}:
	default:
	}
}

func (v *Invoker) settle(res Result) {
	res.Done = v.cfg.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.outcomes[res.Outcome]++
	if v.cfg.Observe != nil {
		v.cfg.Observe(res)
	}
}

// keepLeases extends the lease of every message the invoker holds before
// it ends, until ctx ends: a held event may wait in Lambda's queue, run, or
// wait for a retry far longer than one lease.
func (v *Invoker) keepLeases(ctx context.Context) {
	t := time.NewTicker(max(v.lease/4, 250*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		v.mu.Lock()
		var due []*delivery
		receipts := map[*delivery]string{}
		for _, d := range v.held {
			if d.leaseUntil.Sub(now) < v.lease/2 {
				due = append(due, d)
				receipts[d] = d.receipt
			}
		}
		v.mu.Unlock()
		for i := 0; i < len(due); i += 10 {
			batch := due[i:min(i+10, len(due))]
			entries := make([]sqstypes.ChangeMessageVisibilityBatchRequestEntry, len(batch))
			for j, d := range batch {
				entries[j] = sqstypes.ChangeMessageVisibilityBatchRequestEntry{
					Id: aws.String(strconv.Itoa(j)), ReceiptHandle: aws.String(receipts[d]), VisibilityTimeout: int32(v.lease / time.Second),
				}
			}
			out, err := v.sqs.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &v.cfg.InboxURL, Entries: entries})
			if err != nil {
				v.report(fmt.Errorf("local invoker: extend the inbox leases: %w", err))
				continue
			}
			until := now.Add(v.lease)
			v.mu.Lock()
			for _, ok := range out.Successful {
				j, _ := strconv.Atoi(aws.ToString(ok.Id))
				if d := batch[j]; d.receipt == receipts[d] {
					d.leaseUntil = until
				}
			}
			v.mu.Unlock()
		}
	}
}

// giveBack makes the unfinished messages visible again, if show, so the
// next run takes them at once; otherwise they come back when their lease
// ends.
func (v *Invoker) giveBack(show bool) {
	v.mu.Lock()
	receipts := v.release
	v.release = nil
	v.mu.Unlock()
	if !show || len(receipts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	for i := 0; i < len(receipts); i += 10 {
		batch := receipts[i:min(i+10, len(receipts))]
		entries := make([]sqstypes.ChangeMessageVisibilityBatchRequestEntry, len(batch))
		for j, h := range batch {
			entries[j] = sqstypes.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), ReceiptHandle: aws.String(h)}
		}
		if _, err := v.sqs.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &v.cfg.InboxURL, Entries: entries}); err != nil {
			v.report(fmt.Errorf("local invoker: give unfinished events back to the inbox: %w", err))
			return
		}
	}
}

func (v *Invoker) report(err error) {
	if v.cfg.OnError != nil && !errors.Is(err, context.Canceled) {
		v.cfg.OnError(err)
	}
}

func (v *Invoker) requestID() string {
	return fmt.Sprintf("local-%d-%d", v.cfg.Now().UnixNano(), v.requests.Add(1))
}

// eventIDOf reads detail.eventId from an event, or "".
func eventIDOf(raw json.RawMessage) string {
	var e struct {
		Detail struct {
			EventID string `json:"eventId"`
		} `json:"detail"`
	}
	_ = json.Unmarshal(raw, &e)
	return e.Detail.EventID
}
