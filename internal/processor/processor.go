// Package processor is TAP's event processor (DESIGN §2–§5): it decodes and
// validates one EventBridge event, applies it with the store's two idempotent
// writes, dead-letters permanent failures with their reason, returns transient
// failures as errors so Lambda retries, and reports every outcome in logs, EMF
// metrics and traces.
package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/logging"
	"github.com/tap-trading/tap/internal/metrics"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
	"github.com/tap-trading/tap/internal/tracing"
)

// Outcome is what processing one delivery did; every delivery that returns no
// error has exactly one.
type Outcome string

// Outcomes. Rejected and Conflict are permanent failures: the event is in the
// processing DLQ with its reason when Process returns.
const (
	Applied   Outcome = "applied"
	Duplicate Outcome = "duplicate"
	Stale     Outcome = "stale"
	Rejected  Outcome = "rejected"
	Conflict  Outcome = "conflict"
	Heartbeat Outcome = "heartbeat"
)

// ReasonConflict is the dead-letter reason of an event that lost its
// (orderId, seq) to another eventId: a lower one, which wins the seq (DESIGN
// §3, conflicts). The loser is dead-lettered whether it came second (a
// Conflict outcome) or first (its recorded execution is outranked, and the
// processor rebuilds the event from it).
const ReasonConflict = "SEQ_CONFLICT"

// SQS is the part of the SQS client the processor uses.
type SQS interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Deps are the processor's collaborators, built once at init.
type Deps struct {
	// DynamoDB is the orders table's client. Built from the SDK, it should
	// retry replicated write conflicts (store.RetryReplicatedWriteConflicts),
	// which a table with strong consistency answers while the other region
	// writes the same item.
	DynamoDB store.Client
	// SQS sends to the processing DLQ.
	SQS SQS
	// Stdout receives JSON logs and EMF metrics (Lambda ships both to
	// CloudWatch Logs). Writes must be whole lines per call.
	Stdout io.Writer
	// Tracer, if not nil, records the invocation and its AWS calls.
	Tracer *tracing.Tracer
	// TracedDynamoDB and TracedSQS, if set, are the same clients with the
	// tracer's instrumentation (Tracer.Instrument); they serve only the
	// invocations Lambda samples, so the others skip the instrumentation's
	// per-call work. When nil, DynamoDB and SQS serve every invocation.
	TracedDynamoDB store.Client
	TracedSQS      SQS
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// LateTradeAge is the age (from transactTime) at which a trade is late when
// its outcome is known: a replayed, redriven or late-published one. Only late
// trades are recorded in the TradeAge metric. The others — nearly all — are
// a few seconds old at most, and recording them would make every document
// about 60 B larger (over the 300 B of DESIGN §5); their age is in the table
// (the execution's transactTime and receivedAt).
const LateTradeAge = time.Minute

// Handler processes events. It is safe for concurrent use (the local invoker
// runs several at once); in Lambda one invocation runs at a time.
type Handler struct {
	cfg Config
	// plain serves unsampled invocations, traced sampled ones.
	plain, traced clients
	log           *slog.Logger
	// metrics is shared and immutable; each invocation begins its own
	// Recorder on it and flushes it once, so concurrent invocations never
	// mix their values.
	metrics *metrics.Sink
	tracer  *tracing.Tracer
	now     func() time.Time
	// warm flips on the first invocation: the only state kept across
	// invocations, for the ColdStart metric and the cold_start log key.
	warm atomic.Bool
}

// New builds a Handler. It makes no network calls, so init stays fast.
func New(cfg Config, deps Deps) (*Handler, error) {
	if deps.DynamoDB == nil || deps.SQS == nil || deps.Stdout == nil {
		return nil, errors.New("processor: Deps.DynamoDB, Deps.SQS and Deps.Stdout are required")
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	sink, err := metrics.NewSink(deps.Stdout, cfg.MetricsNamespace, cfg.ServiceName, metrics.WithClock(now))
	if err != nil {
		return nil, fmt.Errorf("processor: %s: %w", EnvMetricsNamespace, err)
	}
	plain := clients{store: store.New(deps.DynamoDB, cfg.TableName, cfg.Region, now).WithConsistency(cfg.TableConsistency), sqs: deps.SQS}
	traced := plain
	if deps.TracedDynamoDB != nil {
		traced.store = store.New(deps.TracedDynamoDB, cfg.TableName, cfg.Region, now).WithConsistency(cfg.TableConsistency)
	}
	if deps.TracedSQS != nil {
		traced.sqs = deps.TracedSQS
	}
	return &Handler{
		cfg:     cfg,
		plain:   plain,
		traced:  traced,
		metrics: sink,
		// Lazy: each invocation derives loggers with its own attributes,
		// which are encoded only if it writes a line (see lazyHandler).
		log:    slog.New(&lazyHandler{next: logging.New(deps.Stdout, cfg.ServiceName, cfg.LogLevel).Handler()}),
		tracer: deps.Tracer,
		now:    now,
	}, nil
}

// Handle is the Lambda entry point: a nil error means the event is accounted
// for (applied, duplicate, stale, or dead-lettered with its reason); an error
// means a transient failure that Lambda must retry.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) error {
	_, err := h.Process(ctx, raw)
	return err
}

// Process handles one event and reports its outcome.
func (h *Handler) Process(ctx context.Context, raw json.RawMessage) (Outcome, error) {
	cold := !h.warm.Swap(true)

	header := tracing.TraceHeader(ctx)
	ctx, endSpan := h.tracer.StartInvocation(ctx, header)
	inv := logging.Invocation{FunctionName: h.cfg.FunctionName, TraceID: tracing.RootTraceID(header), ColdStart: cold}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		inv.RequestID = lc.AwsRequestID
	}
	log := logging.ForInvocation(h.log, inv)
	rec := h.metrics.Begin()
	if cold {
		rec.Add(metrics.ColdStart, metrics.Count, 1)
	}
	c := h.plain
	if tracing.Sampled(ctx) {
		c = h.traced
	}
	outcome, err := h.process(ctx, c, log, rec, raw)
	if ferr := rec.Flush(); ferr != nil {
		log.Warn("metrics not written", slog.String("error", ferr.Error()))
	}
	if err != nil {
		tracing.RecordFailure(ctx, err)
	}
	endSpan()
	// Spans are sent as they end; Flush only drains what is buffered.
	_ = h.tracer.Flush(ctx)
	return outcome, err
}

// clients are the store and SQS client one invocation uses.
type clients struct {
	store *store.Store
	sqs   SQS
}

// process decodes and handles raw. Once its outcome is known (no error),
// it records PipelineLatency: the time since EventBridge received the event.
// There is none when the envelope has no time, nor for an archive replay,
// which keeps the original time: its age is not the pipeline's.
func (h *Handler) process(ctx context.Context, c clients, log *slog.Logger, rec *metrics.Recorder, raw []byte) (Outcome, error) {
	d, err := event.Decode(raw, h.now())
	outcome, err := h.handle(ctx, c, log, rec, raw, &d, err)
	if err == nil && !d.Envelope.Time.IsZero() && d.Envelope.ReplayName == "" {
		rec.Add(metrics.PipelineLatency, metrics.Milliseconds, ms(h.now().Sub(d.Envelope.Time)))
	}
	return outcome, err
}

// handle does what the decoded event d (or its decoding error) calls for.
func (h *Handler) handle(ctx context.Context, c clients, log *slog.Logger, rec *metrics.Recorder, raw []byte, d *event.Decoded, err error) (Outcome, error) {
	log = log.With(slog.String(logging.KeyCorrelationID, d.EventID), slog.String(logging.KeyOrderID, d.OrderID))
	logging.DebugPayload(ctx, log, "event received", raw)
	if err != nil {
		var verr *event.ValidationError
		if !errors.As(err, &verr) {
			// Decode promises a *ValidationError; anything else is a bug, and
			// retrying will not fix it either: dead-letter it.
			verr = &event.ValidationError{Reason: event.ReasonMalformedJSON, Message: err.Error()}
		}
		return h.reject(ctx, c.sqs, log, rec, raw, *d, Rejected, string(verr.Reason), verr.Message)
	}
	if d.Heartbeat != nil {
		applied, err := c.store.RecordHeartbeat(ctx, *d.Heartbeat)
		if err != nil {
			log.Error("heartbeat not recorded, will be retried", slog.String("error", err.Error()))
			return "", fmt.Errorf("record heartbeat for %s: %w", d.Heartbeat.Region, err)
		}
		log.Debug("heartbeat recorded", slog.String("heartbeat_region", d.Heartbeat.Region), slog.Bool("newer", applied))
		tracing.Annotate(ctx, "", "", string(Heartbeat))
		return Heartbeat, nil
	}

	r := d.Report
	apply := c.store.Apply
	if d.Envelope.Region != "" && d.Envelope.Region != h.cfg.Region {
		// A copy of an event published in the other region (EventBridge
		// replication), which has usually applied it already: read first.
		apply = c.store.ApplyReplicated
	}
	// An execution this event outranks (same seq, higher eventId) is
	// dead-lettered before the store overwrites it: see store.OnOutranked.
	res, err := apply(ctx, r, store.OnOutranked(func(ctx context.Context, loser *store.Execution) error {
		return h.deadLetterOutranked(ctx, c.sqs, log, rec, d.Envelope, r, loser)
	}))
	if err != nil {
		log.Error("event not applied, will be retried", slog.String("error", err.Error()))
		tracing.Annotate(ctx, r.OrderID, r.EventID, "error")
		return "", fmt.Errorf("apply event %s (order %s seq %d): %w", r.EventID, r.OrderID, r.Seq, err)
	}
	if res.Outcome == store.Conflict {
		msg := fmt.Sprintf("order %s seq %d is recorded with eventId %s, which wins the seq (the lowest eventId wins); this event (%s) reuses the seq",
			r.OrderID, r.Seq, res.ExistingEventID, r.EventID)
		return h.reject(ctx, c.sqs, log, rec, raw, *d, Conflict, ReasonConflict, msg)
	}

	outcome := Outcome(res.Outcome)
	switch outcome {
	case Applied:
		rec.Add(metrics.EventsApplied, metrics.Count, 1)
	case Duplicate:
		rec.Add(metrics.EventsDuplicate, metrics.Count, 1)
	case Stale:
		rec.Add(metrics.EventsStale, metrics.Count, 1)
	}
	if age := h.now().Sub(r.TransactTime); age >= LateTradeAge {
		rec.Add(metrics.TradeAge, metrics.Milliseconds, ms(age))
	}
	tracing.Annotate(ctx, r.OrderID, r.EventID, string(outcome))
	// Applied events, and replicated copies the table already shows applied,
	// are the bulk of the traffic and are counted in EMF; their fate is in
	// the table (the execution item carries the eventId). So they are logged
	// at DEBUG, and INFO carries the outcomes worth reading: redeliveries and
	// stale events.
	level := slog.LevelInfo
	if (outcome == Applied || res.ReadOnly) && res.Outranked == nil {
		level = slog.LevelDebug
	}
	if log.Enabled(ctx, level) {
		attrs := []slog.Attr{slog.String(logging.KeyOutcome, string(outcome)),
			slog.Int64("seq", r.Seq), slog.Bool("state_applied", res.StateApplied), slog.Bool("read_only", res.ReadOnly)}
		if res.Outranked != nil {
			// The outranked execution's dead letter was logged at WARN.
			attrs = append(attrs, slog.String("outranked_event_id", res.Outranked.EventID), slog.Bool("deferred", res.Deferred))
		}
		log.LogAttrs(ctx, level, "event processed", attrs...)
	}
	return outcome, nil
}

// deadLetterOutranked dead-letters loser, the execution recorded under r's
// (orderId, seq) with a higher eventId: r outranks it, and the store is about
// to overwrite it (or, when the other region recorded it, leaves it for that
// region to overwrite). The body is the loser's event rebuilt from its
// execution item, which holds every field of the event (DESIGN §3), in the
// envelope the rule delivers (id = the eventId, region = where it was
// recorded, time = when), so `tapctl dlq redrive` republishes it like any
// dead letter; it then loses again, as a conflict. The attributes are those
// of every dead letter, for the loser. It is counted in EventsRejected, the
// count of events dead-lettered.
func (h *Handler) deadLetterOutranked(ctx context.Context, q SQS, log *slog.Logger, rec *metrics.Recorder, env event.Envelope, r *event.ExecutionReport, loser *store.Execution) error {
	body := event.EncodeEnvelope(event.Envelope{
		ID: loser.EventID, Source: schema.Source, DetailType: schema.DetailTypeExecutionReport,
		Account: env.Account, Region: loser.ProcessedRegion, Time: loser.ReceivedAt,
		Detail: event.EncodeDetail(&loser.ExecutionReport),
	})
	msg := fmt.Sprintf("order %s seq %d: eventId %s wins the seq (the lowest eventId wins); this event (%s), recorded first in %s, reuses the seq",
		loser.OrderID, loser.Seq, r.EventID, loser.EventID, loser.ProcessedRegion)
	if err := h.deadLetter(ctx, q, body, loser.EventID, loser.OrderID, ReasonConflict, msg); err != nil {
		log.Error("dead letter not sent, will be retried", slog.String(logging.KeyReason, ReasonConflict),
			slog.String("outranked_event_id", loser.EventID), slog.String("error", err.Error()))
		return err
	}
	rec.Add(metrics.EventsRejected, metrics.Count, 1)
	log.Warn("outranked execution dead-lettered", slog.String(logging.KeyReason, ReasonConflict),
		slog.String("outranked_event_id", loser.EventID), slog.Int64("seq", loser.Seq), slog.String("detail", msg))
	return nil
}

// reject dead-letters a permanently failed event with its reason. The
// invocation succeeds only if the dead letter is safely in the queue: a failed
// send is returned as an error, so Lambda retries and nothing is lost.
func (h *Handler) reject(ctx context.Context, q SQS, log *slog.Logger, rec *metrics.Recorder, raw []byte, d event.Decoded, outcome Outcome, reason, message string) (Outcome, error) {
	if err := h.deadLetter(ctx, q, raw, d.EventID, d.OrderID, reason, message); err != nil {
		log.Error("dead letter not sent, will be retried", slog.String(logging.KeyReason, reason), slog.String("error", err.Error()))
		return "", err
	}
	rec.Add(metrics.EventsRejected, metrics.Count, 1)
	tracing.Annotate(ctx, d.OrderID, d.EventID, string(outcome))
	log.Warn("event dead-lettered", slog.String(logging.KeyOutcome, string(outcome)),
		slog.String(logging.KeyReason, reason), slog.String("detail", message))
	return outcome, nil
}

// deadLetter sends raw, an event, to the processing DLQ with the attributes
// of DESIGN §4: reason, message, region, failedAt, and eventId and orderId
// when there are any.
func (h *Handler) deadLetter(ctx context.Context, q SQS, raw []byte, eventID, orderID, reason, message string) error {
	attrs := map[string]sqstypes.MessageAttributeValue{
		dlq.AttrReason:   stringAttr(reason),
		dlq.AttrMessage:  stringAttr(message),
		dlq.AttrRegion:   stringAttr(h.cfg.Region),
		dlq.AttrFailedAt: stringAttr(h.now().UTC().Format(time.RFC3339Nano)),
	}
	// IDs as sent, when there were any: SQS rejects empty attribute values.
	// They are unvalidated here, so characters SQS refuses are replaced: a
	// refused send would turn a permanent failure into endless retries.
	if eventID != "" {
		attrs[dlq.AttrEventID] = stringAttr(sqsSafe(truncate(eventID)))
	}
	if orderID != "" {
		attrs[dlq.AttrOrderID] = stringAttr(sqsSafe(truncate(orderID)))
	}
	body := string(raw)
	if !validBody(body) {
		// SQS bodies must be valid UTF-8 XML text; keep the bytes recoverable.
		body = strconv.Quote(body)
	}
	// SQS refuses a message over its size limit (body and attributes), and a
	// refused send would retry a permanent failure until its reason is lost
	// in Lambda's on-failure record. An event this large is already invalid
	// (TOO_LARGE or quoted bytes), so keep its head and the reason.
	if len(body) > maxDLQBody-attrsSize(attrs) {
		attrs[AttrTruncated] = stringAttr(strconv.Itoa(len(raw)))
		// Cutting may split a character; ToValidUTF8 drops the piece.
		body = strings.ToValidUTF8(body[:maxDLQBody-attrsSize(attrs)], "")
	}
	_, err := q.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(h.cfg.ProcessingDLQURL),
		MessageBody:       aws.String(body),
		MessageAttributes: attrs,
	})
	if err != nil {
		return fmt.Errorf("send %s event to processing DLQ: %w", reason, err)
	}
	return nil
}

// AttrTruncated is set on a dead letter whose body had to be cut to fit SQS's
// message size; its value is the original event's size in bytes.
const AttrTruncated = "truncatedFrom"

// maxDLQBody is SQS's message size limit (body plus attributes) less a
// margin for the request's own encoding.
const maxDLQBody = 256<<10 - 1<<10

// attrsSize is what SQS counts of the attributes toward the message size:
// each name, data type and value.
func attrsSize(attrs map[string]sqstypes.MessageAttributeValue) int {
	n := 0
	for k, v := range attrs {
		n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
	}
	return n
}

func stringAttr(v string) sqstypes.MessageAttributeValue {
	return sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// truncate keeps attribute values readable; the body holds the full event.
func truncate(s string) string {
	const max = 256
	if len(s) > max {
		return s[:max]
	}
	return s
}

// sqsChar reports whether SQS accepts r in a message body or string
// attribute (#x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF).
func sqsChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// validBody reports whether s can be sent as-is as an SQS message body. A
// decoding error (invalid UTF-8) counts as invalid, so such bytes are quoted
// rather than silently replaced.
func validBody(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !sqsChar(r) {
			return false
		}
	}
	return true
}

// sqsSafe replaces the characters SQS refuses with U+FFFD.
func sqsSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if sqsChar(r) {
			return r
		}
		return utf8.RuneError
	}, s)
}

// ms is d in whole milliseconds, and 0 if d is negative (a clock ahead of
// this one): CloudWatch computes no percentile of a metric with a negative
// value. Whole milliseconds are precise enough for latencies of seconds and
// ages of days, and keep the document short.
func ms(d time.Duration) float64 {
	return float64(max(d, 0).Round(time.Millisecond) / time.Millisecond)
}
