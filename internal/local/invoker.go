package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	// OutcomeFailed: every invocation failed (or the event got too old); the
	// invoker sent Lambda's on-failure record to the processing DLQ.
	OutcomeFailed = "failed"
	// OutcomeUnfinished: shutdown interrupted the event; it stays in the
	// inbox, neither applied nor dead-lettered by this run.
	OutcomeUnfinished = "unfinished"
)

// SQS is the part of *sqs.Client the invoker uses.
type SQS interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// InvokerConfig configures an Invoker.
type InvokerConfig struct {
	// InboxURL is the queue the rule delivers events to.
	InboxURL string
	// DLQURL is the processing DLQ: the on-failure destination.
	DLQURL string
	// FunctionARN names the function in on-failure records.
	FunctionARN string
	// Concurrency bounds the invocations in flight. Default 4.
	Concurrency int
	// RetryAttempts is how many times a failed invocation is retried, 0 to 2
	// as Lambda's MaximumRetryAttempts (the zero value retries nothing).
	RetryAttempts int
	// MaxEventAge is how old an event may get before it is sent to the DLQ
	// untried, measured from when it entered the inbox. Default 6 h, Lambda's.
	MaxEventAge time.Duration
	// RetryBackoff is the delay before the first retry; it doubles per retry
	// (Lambda waits 1 min, then 2 min). Default 500 ms.
	RetryBackoff time.Duration
	// Timeout bounds one invocation, like the function timeout. Default 30 s.
	Timeout time.Duration
	// PollWait is the inbox long-poll wait. Default 1 s: short, so Ctrl-C is
	// prompt.
	PollWait time.Duration
	// Observe, if not nil, is called once per event when it is settled, one
	// call at a time.
	Observe func(Result)
	// OnInvoke, if not nil, is told when an event's first invocation starts
	// and when the event entered the inbox: EventBridge's
	// IngestionToInvocationStartLatency, which drives region health.
	OnInvoke func(ingested, started time.Time)
	// Visibility, if positive, is the inbox visibility timeout instead of
	// one derived from the limits: how long an interrupted event stays
	// hidden before it is taken again.
	Visibility time.Duration
	// OnError, if not nil, is told of errors the invoker survives (a failed
	// delete or dead-letter send; the event comes back later).
	OnError func(error)
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c InvokerConfig) withDefaults() InvokerConfig {
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.MaxEventAge <= 0 {
		c.MaxEventAge = 6 * time.Hour
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 500 * time.Millisecond
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.PollWait <= 0 {
		c.PollWait = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Result is how one event was settled.
type Result struct {
	MessageID string
	// EventID is the detail's eventId, when the event has one.
	EventID string
	// Outcome is the processor's outcome, OutcomeFailed or OutcomeUnfinished.
	Outcome string
	// Invokes counts the invocations made.
	Invokes int
	// Err is the last invocation's error for failed and unfinished events.
	Err error
	// Condition is the on-failure condition of a failed event.
	Condition string
	// Reason and Message say why a rejected or conflicting event was
	// dead-lettered, as its processing DLQ record does (see NoteRejection).
	Reason, Message string
	// Enqueued is when the event entered the inbox (SQS's SentTimestamp,
	// millisecond precision); Started is when its first invocation began.
	Enqueued, Started time.Time
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
	// Received counts inbox messages taken; InFlight those not yet settled.
	Received, InFlight int
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

// Invoker gives a ProcessFunc Lambda's asynchronous-invocation semantics over
// an SQS inbox: each event is invoked, retried with exponential backoff up to
// RetryAttempts times while younger than MaxEventAge, then recorded in the
// processing DLQ as Lambda's on-failure destination would; an inbox message
// is deleted only once its event is settled.
type Invoker struct {
	cfg  InvokerConfig
	sqs  SQS
	proc ProcessFunc

	received, inFlight atomic.Int64
	mu                 sync.Mutex
	outcomes           map[string]int
	requests           atomic.Int64
}

// NewInvoker returns an invoker of proc over the queues of cfg.
func NewInvoker(api SQS, proc ProcessFunc, cfg InvokerConfig) *Invoker {
	return &Invoker{cfg: cfg.withDefaults(), sqs: api, proc: proc, outcomes: map[string]int{}}
}

// Stats returns the invoker's counters.
func (v *Invoker) Stats() Stats {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := Stats{Received: int(v.received.Load()), InFlight: int(v.inFlight.Load()), Outcomes: map[string]int{}}
	for k, n := range v.outcomes {
		s.Outcomes[k] = n
	}
	return s
}

// maxReceiveErrors is how many inbox receives in a row may fail before Run
// gives up: the local AWS has gone away.
const maxReceiveErrors = 5

// Run polls the inbox and processes events until ctx ends, then stops
// polling and gives the events in flight up to grace to finish; those still
// running are cancelled and reported as OutcomeUnfinished, their messages
// left in the inbox. It returns nil after a clean stop, or the error that
// made polling impossible.
func (v *Invoker) Run(ctx context.Context, grace time.Duration) error {
	// Invocations get their own context: Ctrl-C stops polling at once, but
	// events in flight may finish within the grace period.
	work, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	slots := make(chan struct{}, v.cfg.Concurrency)
	var wg sync.WaitGroup
	err := v.poll(ctx, work, slots, &wg)

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		cancelWork()
		<-done
	}
	return err
}

func (v *Invoker) poll(ctx, work context.Context, slots chan struct{}, wg *sync.WaitGroup) error {
	failures := 0
	for {
		// Take one slot (waiting if all are busy), then as many free ones as
		// a receive can fill.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		n := 1
		for n < 10 {
			select {
			case slots <- struct{}{}:
				n++
				continue
			default:
			}
			break
		}
		msgs, err := v.receive(ctx, n)
		for range n - len(msgs) {
			<-slots
		}
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
			v.received.Add(1)
			v.inFlight.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				defer v.inFlight.Add(-1)
				v.settle(v.handle(work, m, func(d time.Duration) bool { return backoff(work, slots, d) }))
			}()
		}
	}
}

func (v *Invoker) receive(ctx context.Context, n int) ([]sqstypes.Message, error) {
	out, err := v.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &v.cfg.InboxURL,
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             int32(max(1, v.cfg.PollWait/time.Second)),
		VisibilityTimeout:           v.visibility(),
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameSentTimestamp},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// visibility is how long a received event stays hidden from other pollers:
// long enough for every attempt and backoff, so it is not taken twice.
func (v *Invoker) visibility() int32 {
	if v.cfg.Visibility > 0 {
		return int32(max(v.cfg.Visibility/time.Second, 1))
	}
	total := time.Duration(v.cfg.RetryAttempts+1)*v.cfg.Timeout + 30*time.Second
	for i := range v.cfg.RetryAttempts {
		total += v.cfg.RetryBackoff << i
	}
	return int32(min(total, 12*time.Hour) / time.Second)
}

// handle invokes one event to its end.
// backoff waits d before a retry without holding the caller's invocation
// slot, and takes a slot again before it returns (the caller still releases
// one when it ends). Lambda queues an asynchronous retry rather than keeping
// its concurrency, so events waiting for a retry must not keep new events
// from starting: that would raise ingestion-to-invocation latency, which
// drives the endpoint's health, on a processor failure that must not fail
// over. It reports false when work ended during the wait.
func backoff(work context.Context, slots chan struct{}, d time.Duration) bool {
	<-slots
	t := time.NewTimer(d)
	defer t.Stop()
	ok := true
	select {
	case <-t.C:
	case <-work.Done():
		ok = false
	}
	// Blocking is fine after work ended too: every other invocation then
	// ends and gives its slot back, and polling has stopped.
	slots <- struct{}{}
	return ok
}

// handle invokes one event to its end; wait waits before a retry, reporting
// false if the invoker is shutting down.
func (v *Invoker) handle(work context.Context, m sqstypes.Message, wait func(time.Duration) bool) Result {
	raw := json.RawMessage(aws.ToString(m.Body))
	res := Result{MessageID: aws.ToString(m.MessageId), EventID: eventIDOf(raw)}
	enqueued := v.cfg.Now()
	if ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		enqueued = time.UnixMilli(ms)
	}
	res.Enqueued = enqueued
	for {
		if v.cfg.Now().Sub(enqueued) > v.cfg.MaxEventAge {
			res.Condition = dlq.ConditionEventAgeExceeded
			break
		}
		res.Invokes++
		start := v.cfg.Now()
		if res.Started.IsZero() {
			res.Started = start
			if v.cfg.OnInvoke != nil {
				v.cfg.OnInvoke(enqueued, start)
			}
		}
		var n notes
		outcome, err := v.invoke(context.WithValue(work, notesKey{}, &n), raw)
		res.Busy += v.cfg.Now().Sub(start)
		n.mu.Lock()
		res.AWSWait += n.awsWait
		res.Reason, res.Message = n.reason, n.message
		n.mu.Unlock()
		if err == nil {
			res.Outcome = outcome
			return v.finish(work, m, res)
		}
		res.Err = err
		if work.Err() != nil {
			res.Outcome = OutcomeUnfinished
			return res
		}
		if res.Invokes > v.cfg.RetryAttempts {
			res.Condition = dlq.ConditionRetriesExhausted
			break
		}
		if !wait(v.cfg.RetryBackoff << (res.Invokes - 1)) {
			res.Outcome = OutcomeUnfinished
			return res
		}
	}
	if err := v.deadLetter(work, res, raw); err != nil {
		// The message stays in the inbox and comes back when its
		// visibility times out: nothing is lost.
		v.report(err)
		res.Outcome, res.Err = OutcomeUnfinished, err
		return res
	}
	res.Outcome = OutcomeFailed
	return v.finish(work, m, res)
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

// finish deletes the settled event's message from the inbox.
func (v *Invoker) finish(work context.Context, m sqstypes.Message, res Result) Result {
	res.Done = v.cfg.Now()
	if _, err := v.sqs.DeleteMessage(work, &sqs.DeleteMessageInput{QueueUrl: &v.cfg.InboxURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
		// Settled all the same; the redelivery will be a duplicate.
		v.report(fmt.Errorf("local invoker: delete settled event %s from the inbox: %w", res.EventID, err))
	}
	return res
}

func (v *Invoker) settle(res Result) {
	if res.Done.IsZero() {
		res.Done = v.cfg.Now()
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.outcomes[res.Outcome]++
	if v.cfg.Observe != nil {
		v.cfg.Observe(res)
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
