package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/tap-trading/tap/internal/dlq"
)

// invokerRun is an invoker running in the background over a test's inbox.
type invokerRun struct {
	inv    *Invoker
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	res    []Result
	once   sync.Once
}

// startInvoker runs an invoker of proc over r's inbox with cfg's limits.
func startInvoker(t *testing.T, r Resources, q SQS, proc ProcessFunc, cfg InvokerConfig, grace time.Duration) *invokerRun {
	t.Helper()
	run := &invokerRun{done: make(chan error, 1)}
	run.inv = NewInvoker(q, proc, invokerConfig(t, r, cfg, run))
	ctx, cancel := context.WithCancel(context.Background())
	run.cancel = cancel
	go func() { run.done <- run.inv.Run(ctx, grace) }()
	t.Cleanup(func() { run.stop(t) })
	return run
}

// invokerConfig points cfg at r's queues and records settled events in run.
func invokerConfig(t *testing.T, r Resources, cfg InvokerConfig, run *invokerRun) InvokerConfig {
	cfg.InboxURL, cfg.DLQURL, cfg.FunctionARN = r.InboxURL, r.ProcessingDLQURL, r.FunctionARN
	cfg.DeliveryDLQURL, cfg.RuleARN = r.DeliveryDLQURL, r.RuleARN
	cfg.Observe = func(res Result) { run.mu.Lock(); run.res = append(run.res, res); run.mu.Unlock() }
	cfg.OnError = func(err error) { t.Logf("invoker: %v", err) }
	return cfg
}

// waitSettled waits until n events are settled.
func (run *invokerRun) waitSettled(t *testing.T, n int) []Result {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for run.inv.Stats().Settled() < n {
		if time.Now().After(deadline) {
			t.Fatalf("settled %d events in 30s, want %d; stats %+v", run.inv.Stats().Settled(), n, run.inv.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	return append([]Result(nil), run.res...)
}

// stop cancels the invoker and waits for Run; later calls do nothing.
func (run *invokerRun) stop(t *testing.T) {
	t.Helper()
	run.once.Do(func() {
		run.cancel()
		select {
		case err := <-run.done:
			if err != nil {
				t.Errorf("invoker Run = %v, want nil", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("invoker did not stop within 20s of cancellation")
		}
	})
}

// sendEvents puts n events straight into r's inbox.
func sendEvents(t *testing.T, q *sqs.Client, r Resources, n int) {
	t.Helper()
	for i := range n {
		body := fmt.Sprintf(`{"id":"m%d","source":"tap.trading","detail-type":"ExecutionReport","detail":{"eventId":"e%d"}}`, i, i)
		if _, err := q.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &r.InboxURL, MessageBody: &body}); err != nil {
			t.Fatal(err)
		}
	}
}

func queueDepth(t *testing.T, q *sqs.Client, url string) dlq.Depth {
	t.Helper()
	d, err := dlq.QueueDepth(context.Background(), q, url)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestInvokerSettlesAndDeletesEachEvent(t *testing.T) {
	r, cfg := provision(t)
	q := sqs.NewFromConfig(cfg)
	sendEvents(t, q, r, 25)
	var calls atomic.Int64
	cq := &countingSQS{SQS: q}
	run := startInvoker(t, r, cq, func(_ context.Context, raw json.RawMessage) (string, error) {
		calls.Add(1)
		return "applied", nil
	}, InvokerConfig{Concurrency: 4}, time.Second)
	res := run.waitSettled(t, 25)

	ids := map[string]bool{}
	for _, x := range res {
		if x.Outcome != "applied" || x.Invokes != 1 || x.Attempts != 1 {
			t.Errorf("result %+v, want applied after 1 attempt and 1 invoke", x)
		}
		ids[x.EventID] = true
	}
	if len(ids) != 25 || calls.Load() != 25 {
		t.Errorf("distinct eventIds %d, invocations %d, want 25 and 25", len(ids), calls.Load())
	}
	if d := queueDepth(t, q, r.InboxURL); d != (dlq.Depth{}) {
		t.Errorf("inbox depth after settling = %+v, want empty", d)
	}
	run.stop(t)
	c := cq.snapshot()
	t.Logf("inbox calls for 25 events: %d ReceiveMessage (%d returned messages, %d non-empty), %d DeleteMessage, %d ChangeMessageVisibility[Batch]",
		c.ops["ReceiveMessage"], c.received, c.nonEmpty, c.ops["DeleteMessage"], c.ops["ChangeMessageVisibility"]+c.ops["ChangeMessageVisibilityBatch"])
	if c.received != 25 || c.ops["DeleteMessage"] != 25 || c.ops["ChangeMessageVisibility"]+c.ops["ChangeMessageVisibilityBatch"] != 0 || c.nonEmpty > 25 {
		t.Errorf("calls %+v: want each event received once and deleted once, in at most 25 receives, and no visibility change", c)
	}
}

func TestInvokerRetriesTransientErrors(t *testing.T) {
	r, cfg := provision(t)
	q := sqs.NewFromConfig(cfg)
	sendEvents(t, q, r, 1)
	var calls atomic.Int64
	run := startInvoker(t, r, q, func(context.Context, json.RawMessage) (string, error) {
		if calls.Add(1) < 3 {
			return "", errors.New("throttled")
		}
		return "applied", nil
	}, InvokerConfig{RetryAttempts: 2, RetryBackoff: 10 * time.Millisecond}, time.Second)
	res := run.waitSettled(t, 1)
	if res[0].Outcome != "applied" || res[0].Invokes != 3 {
		t.Errorf("result %+v, want applied on the 3rd invoke", res[0])
	}
	if d := queueDepth(t, q, r.ProcessingDLQURL); d.Visible != 0 {
		t.Errorf("processing DLQ has %d messages, want 0", d.Visible)
	}
}

func TestInvokerDeadLettersAfterRetriesLikeLambda(t *testing.T) {
	for _, attempts := range []int{0, 2} {
		t.Run(fmt.Sprintf("retries=%d", attempts), func(t *testing.T) {
			r, cfg := provision(t)
			q := sqs.NewFromConfig(cfg)
			sendEvents(t, q, r, 1)
			var calls atomic.Int64
			run := startInvoker(t, r, q, func(context.Context, json.RawMessage) (string, error) {
				calls.Add(1)
				return "", errors.New("dynamodb unavailable")
			}, InvokerConfig{RetryAttempts: attempts, RetryBackoff: 10 * time.Millisecond}, time.Second)
			res := run.waitSettled(t, 1)
			if got := res[0]; got.Outcome != OutcomeFailed || got.Invokes != attempts+1 || got.Condition != dlq.ConditionRetriesExhausted {
				t.Errorf("result %+v, want failed after %d invokes, RetriesExhausted", got, attempts+1)
			}
			recs, err := dlq.Peek(context.Background(), q, r.ProcessingDLQURL, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 {
				t.Fatalf("processing DLQ has %d records, want 1", len(recs))
			}
			rec := recs[0]
			if rec.Format != dlq.FormatLambda || rec.Reason != dlq.ConditionRetriesExhausted || rec.EventID != "e0" || rec.Message != "dynamodb unavailable" {
				t.Errorf("DLQ record = %+v, want a Lambda RetriesExhausted record of e0 with the error", rec)
			}
			var lf dlq.LambdaFailure
			if err := json.Unmarshal(body(t, q, r.ProcessingDLQURL), &lf); err != nil {
				t.Fatal(err)
			}
			if lf.RequestContext.ApproximateInvokeCount != attempts+1 || lf.RequestContext.FunctionARN != r.FunctionARN+":$LATEST" {
				t.Errorf("requestContext = %+v, want %d invokes of %s:$LATEST", lf.RequestContext, attempts+1, r.FunctionARN)
			}
			if d := queueDepth(t, q, r.InboxURL); d != (dlq.Depth{}) {
				t.Errorf("inbox depth = %+v, want empty", d)
			}
		})
	}
}

// body returns the body of the one message in url, leaving it there.
func body(t *testing.T, q *sqs.Client, url string) []byte {
	t.Helper()
	out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, VisibilityTimeout: 0})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive from %s: %v, %d messages", url, err, len(out.Messages))
	}
	return []byte(aws.ToString(out.Messages[0].Body))
}

func TestInvokerBoundsConcurrency(t *testing.T) {
	r, cfg := provision(t)
	q := sqs.NewFromConfig(cfg)
	sendEvents(t, q, r, 24)
	var cur, peak atomic.Int64
	run := startInvoker(t, r, q, func(context.Context, json.RawMessage) (string, error) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(40 * time.Millisecond)
		cur.Add(-1)
		return "applied", nil
	}, InvokerConfig{Concurrency: 3}, time.Second)
	run.waitSettled(t, 24)
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak concurrent invocations = %d, want 2..3 (bounded by 3)", p)
	}
}

func TestInvokerShutdownReportsUnfinishedAndKeepsThem(t *testing.T) {
	r, cfg := provision(t)
	q := sqs.NewFromConfig(cfg)
	sendEvents(t, q, r, 1)
	started := make(chan struct{})
	run := startInvoker(t, r, q, func(ctx context.Context, _ json.RawMessage) (string, error) {
		close(started)
		<-ctx.Done() // never finishes on its own
		return "", ctx.Err()
	}, InvokerConfig{}, 100*time.Millisecond)
	<-started
	run.stop(t)
	st := run.inv.Stats()
	if st.Outcomes[OutcomeUnfinished] != 1 || st.InFlight != 0 {
		t.Errorf("stats after shutdown = %+v, want 1 unfinished, 0 in flight", st)
	}
	if d := queueDepth(t, q, r.InboxURL); d.Visible+d.InFlight != 1 {
		t.Errorf("inbox depth = %+v, want the unfinished event still there", d)
	}
	if d := queueDepth(t, q, r.ProcessingDLQURL); d.Visible != 0 {
		t.Errorf("processing DLQ depth = %+v, want empty (unfinished is not failed)", d)
	}
}

func TestInvokerTreatsPanicAsFunctionError(t *testing.T) {
	r, cfg := provision(t)
	q := sqs.NewFromConfig(cfg)
	sendEvents(t, q, r, 1)
	run := startInvoker(t, r, q, func(context.Context, json.RawMessage) (string, error) {
		panic("nil map")
	}, InvokerConfig{RetryAttempts: 1, RetryBackoff: time.Millisecond}, time.Second)
	res := run.waitSettled(t, 1)
	if got := res[0]; got.Outcome != OutcomeFailed || got.Invokes != 2 || got.Err == nil || got.Err.Error() != "panic: nil map" {
		t.Errorf("result %+v, want failed after 2 invokes with the panic as error", got)
	}
}

// countingSQS counts the invoker's calls to the local AWS by operation, and
// the messages ReceiveMessage returns.
type countingSQS struct {
	SQS
	mu       sync.Mutex
	ops      map[string]int
	received int
	nonEmpty int
}

type sqsCalls struct {
	ops                map[string]int
	received, nonEmpty int
}

func (c *countingSQS) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops == nil {
		c.ops = map[string]int{}
	}
	c.ops[op]++
}

func (c *countingSQS) snapshot() sqsCalls {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := sqsCalls{ops: map[string]int{}, received: c.received, nonEmpty: c.nonEmpty}
	for k, v := range c.ops {
		s.ops[k] = v
	}
	return s
}

func (c *countingSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	c.count("ReceiveMessage")
	out, err := c.SQS.ReceiveMessage(ctx, in, opts...)
	if err == nil {
		c.mu.Lock()
		c.received += len(out.Messages)
		if len(out.Messages) > 0 {
			c.nonEmpty++
		}
		c.mu.Unlock()
	}
	return out, err
}

func (c *countingSQS) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	c.count("DeleteMessage")
	return c.SQS.DeleteMessage(ctx, in, opts...)
}

func (c *countingSQS) SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	c.count("SendMessage")
	return c.SQS.SendMessage(ctx, in, opts...)
}

func (c *countingSQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	c.count("ChangeMessageVisibility")
	return c.SQS.ChangeMessageVisibility(ctx, in, opts...)
}

func (c *countingSQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	c.count("ChangeMessageVisibilityBatch")
	return c.SQS.ChangeMessageVisibilityBatch(ctx, in, opts...)
}

// TestInvokerReportsInvocationAtDeliveryNotBehindBacklog: with one slot and
// a slow processor, events wait seconds for their invocation, yet each
// OnInvoke comes at the event's delivery attempt, right after it entered
// the inbox, as EventBridge's IngestionToInvocationStartLatency ends when
// Lambda accepts the asynchronous invocation. The messages stay hidden
// while they wait (their 1 s lease is extended), so none is received twice.
func TestInvokerReportsInvocationAtDeliveryNotBehindBacklog(t *testing.T) {
	r, cfg := provision(t)
	q := sqs.NewFromConfig(cfg)
	const n = 8
	sendEvents(t, q, r, n)
	var mu sync.Mutex
	var latencies []time.Duration
	cq := &countingSQS{SQS: q}
	run := startInvoker(t, r, cq, func(context.Context, json.RawMessage) (string, error) {
		time.Sleep(300 * time.Millisecond)
		return "applied", nil
	}, InvokerConfig{
		Concurrency: 1, Visibility: time.Second,
		OnInvoke: func(ingested, started time.Time) {
			mu.Lock()
			defer mu.Unlock()
			latencies = append(latencies, started.Sub(ingested))
		},
	}, time.Second)
	res := run.waitSettled(t, n)

	var waited time.Duration
	for _, x := range res {
		waited = max(waited, x.Started.Sub(x.Enqueued))
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("OnInvoke latencies %v; longest wait for an invocation %v", latencies, waited)
	if waited < 1500*time.Millisecond {
		t.Errorf("longest wait for an invocation %v, want ≥ 1.5 s (8 events × 300 ms through one slot)", waited)
	}
	if len(latencies) != n {
		t.Fatalf("OnInvoke called %d times, want %d (once per event)", len(latencies), n)
	}
	for _, l := range latencies {
		if l > time.Second {
			t.Errorf("OnInvoke latency %v, want < 1 s: it must not include the wait behind the processor", l)
		}
	}
	if c := cq.snapshot(); c.received != n || c.ops["ChangeMessageVisibilityBatch"] == 0 {
		t.Errorf("calls %+v: want each message received once, its lease extended while it waited", c)
	}
}

// refuseFirst returns a Refuse hook that refuses the first n attempts and
// records the time of every attempt.
func refuseFirst(n int, times *[]time.Time, mu *sync.Mutex) func() error {
	return func() error {
		mu.Lock()
		defer mu.Unlock()
		*times = append(*times, time.Now())
		if len(*times) <= n {
			return errors.New("Rate Exceeded")
		}
		return nil
	}
}

// TestInvokerRetriesRefusedDeliveriesWithBackoff: while the Lambda service
// refuses, EventBridge retries with exponential backoff (here without
// jitter's randomness: 0.4 s, 0.8 s in memory, 1.6 s through the inbox's
// visibility), and the event is delivered and applied once it accepts.
func TestInvokerRetriesRefusedDeliveriesWithBackoff(t *testing.T) {
	r, cfg := provision(t)
	q := sqs.NewFromConfig(cfg)
	sendEvents(t, q, r, 1)
	var mu sync.Mutex
	var attempts []time.Time
	var invoked, delivered atomic.Int64
	var deliveredAfter atomic.Int64
	cq := &countingSQS{SQS: q}
	run := startInvoker(t, r, cq, func(context.Context, json.RawMessage) (string, error) {
		invoked.Add(1)
		return "applied", nil
	}, InvokerConfig{
		Refuse:              refuseFirst(3, &attempts, &mu),
		TargetRetryAttempts: 185, TargetMaxEventAge: time.Hour,
		TargetRetryBase: 400 * time.Millisecond, TargetRetryCap: time.Minute,
		Rand:        func() float64 { return 0.999 },
		OnDelivered: func(ingested, at time.Time) { delivered.Add(1); deliveredAfter.Store(int64(at.Sub(ingested))) },
	}, time.Second)
	res := run.waitSettled(t, 1)

	if got := res[0]; got.Outcome != "applied" || got.Attempts != 4 || got.Invokes != 1 || got.Accepted.IsZero() {
		t.Errorf("result %+v, want applied at the 4th attempt, invoked once", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 4 {
		t.Fatalf("%d delivery attempts, want 4", len(attempts))
	}
	for i, want := range []time.Duration{400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond} {
		if gap := attempts[i+1].Sub(attempts[i]); gap < want*95/100 || gap > want+1500*time.Millisecond {
			t.Errorf("retry %d came %v after the attempt before, want about %v", i+1, gap, want)
		}
	}
	st := run.inv.Stats()
	if st.Attempts != 4 || st.Refused != 3 || st.Received != 1 || invoked.Load() != 1 || delivered.Load() != 1 {
		t.Errorf("stats %+v, invoked %d, delivered %d: want 4 attempts, 3 refused, 1 received, 1 invocation, 1 delivery", st, invoked.Load(), delivered.Load())
	}
	if d := time.Duration(deliveredAfter.Load()); d < 2800*time.Millisecond {
		t.Errorf("delivered %v after ingestion, want ≥ 2.8 s (the three backoffs)", d)
	}
	if c := cq.snapshot(); c.ops["ChangeMessageVisibility"] != 1 || c.received != 2 {
		t.Errorf("calls %+v: want the 1.6 s retry scheduled through the inbox (1 visibility change, the message received twice)", c)
	}
	if d := queueDepth(t, q, r.DeliveryDLQURL); d.Visible != 0 {
		t.Errorf("delivery DLQ has %d messages, want 0", d.Visible)
	}
}

// TestInvokerDeliveryFailureGoesToTheDeliveryDLQ: when the target's retry
// policy runs out, by attempts or by age, the event goes to the delivery
// DLQ as EventBridge's record, which internal/dlq reads; the processor
// never sees it and the inbox is emptied.
func TestInvokerDeliveryFailureGoesToTheDeliveryDLQ(t *testing.T) {
	cases := []struct {
		name      string
		cfg       InvokerConfig
		condition string
		attempts  func(int) bool
	}{
		{"attempts", InvokerConfig{TargetRetryAttempts: 2, TargetMaxEventAge: time.Hour, TargetRetryBase: 10 * time.Millisecond},
			ConditionMaximumRetryAttempts, func(n int) bool { return n == 3 }},
		{"age", InvokerConfig{TargetRetryAttempts: 185, TargetMaxEventAge: 400 * time.Millisecond, TargetRetryBase: 50 * time.Millisecond, TargetRetryCap: 100 * time.Millisecond},
			ConditionMaximumEventAge, func(n int) bool { return n >= 2 && n < 185 }},
		{"old before the first attempt", InvokerConfig{TargetRetryAttempts: 185, TargetMaxEventAge: time.Hour, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }},
			ConditionMaximumEventAge, func(n int) bool { return n == 0 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, cfg := provision(t)
			q := sqs.NewFromConfig(cfg)
			sendEvents(t, q, r, 1)
			var invoked, onInvoke atomic.Int64
			ic := c.cfg
			ic.Refuse = func() error { return errors.New("Rate Exceeded") }
			ic.OnInvoke = func(time.Time, time.Time) { onInvoke.Add(1) }
			run := startInvoker(t, r, q, func(context.Context, json.RawMessage) (string, error) {
				invoked.Add(1)
				return "applied", nil
			}, ic, time.Second)
			res := run.waitSettled(t, 1)
			got := res[0]
			if got.Outcome != OutcomeDeliveryFailed || got.Condition != c.condition || !c.attempts(got.Attempts) || got.Invokes != 0 {
				t.Errorf("result %+v, want delivery-failed (%s) after the attempts allowed, never invoked", got, c.condition)
			}
			if invoked.Load() != 0 {
				t.Errorf("processor called %d times, want 0", invoked.Load())
			}
			if want := min(got.Attempts, 1); int(onInvoke.Load()) != want {
				t.Errorf("OnInvoke called %d times, want %d (once if an attempt was made)", onInvoke.Load(), want)
			}

			recs, err := dlq.Peek(context.Background(), q, r.DeliveryDLQURL, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 {
				t.Fatalf("delivery DLQ has %d records, want 1", len(recs))
			}
			rec := recs[0]
			a := rec.Attributes
			wantCode, wantMessage := DefaultRefusalCode, "Rate Exceeded"
			if got.Attempts == 0 {
				wantCode, wantMessage = "", errNotAttempted{}.Error()
			}
			if rec.Format != dlq.FormatDelivery || rec.Reason != wantCode || rec.Message != wantMessage || rec.EventID != "e0" || rec.Region != testRegion {
				t.Errorf("record %+v, want an EventBridge delivery record of e0, %q: %q, from the rule's region", rec, wantCode, wantMessage)
			}
			if a[dlq.AttrEBExhausted] != c.condition || a[dlq.AttrEBRetryAttempts] != strconv.Itoa(max(got.Attempts-1, 0)) ||
				a[dlq.AttrEBRuleARN] != r.RuleARN || a[dlq.AttrEBTargetARN] != r.FunctionARN || r.RuleARN == "" {
				t.Errorf("attributes %v, want %s, %d retries, rule %s, target %s", a, c.condition, got.Attempts-1, r.RuleARN, r.FunctionARN)
			}
			var ev struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(rec.Event, &ev) != nil || ev.ID != "m0" {
				t.Errorf("record event %s, want the event as delivered (id m0)", rec.Event)
			}
			if d := queueDepth(t, q, r.InboxURL); d != (dlq.Depth{}) {
				t.Errorf("inbox depth = %+v, want empty", d)
			}
			if d := queueDepth(t, q, r.ProcessingDLQURL); d.Visible != 0 {
				t.Errorf("processing DLQ has %d messages, want 0", d.Visible)
			}
		})
	}
}

// TestDeliveryFailureMessageParsesAsEventBridgeRecord checks the record
// against internal/dlq's parser without a queue, with an error that names
// its own code.
func TestDeliveryFailureMessageParsesAsEventBridgeRecord(t *testing.T) {
	event := `{"id":"x","detail-type":"ExecutionReport","source":"tap.trading","detail":{"eventId":"e9","orderId":"o1"}}`
	in := DeliveryFailureMessage("url", "arn:aws:events:eu-west-1:123456789012:rule/tap-x-trading/tap-x-processor", "arn:aws:lambda:eu-west-1:123456789012:function:tap-x-processor",
		json.RawMessage(event), ConditionMaximumEventAge, 7, &smithy.GenericAPIError{Code: "TIMEOUT", Message: "Lambda timed out"})
	rec := dlq.Parse(sqstypes.Message{MessageId: aws.String("m"), Body: in.MessageBody, MessageAttributes: in.MessageAttributes})
	if rec.Format != dlq.FormatDelivery || rec.Reason != "TIMEOUT" || rec.Region != "eu-west-1" || rec.EventID != "e9" || rec.OrderID != "o1" ||
		string(rec.Event) != event || rec.Attributes[dlq.AttrEBExhausted] != ConditionMaximumEventAge || rec.Attributes[dlq.AttrEBRetryAttempts] != "6" {
		t.Errorf("parsed %+v", rec)
	}
}

// TestInvokerMaxEventAgeCountsFromAcceptance: Lambda's maximum event age
// runs from when Lambda accepted the event, not from when it entered the
// inbox: an event older than it on arrival is still invoked, and an event
// whose retry would come after it is dead-lettered with EventAgeExceeded.
func TestInvokerMaxEventAgeCountsFromAcceptance(t *testing.T) {
	t.Run("old on arrival, invoked", func(t *testing.T) {
		r, cfg := provision(t)
		q := sqs.NewFromConfig(cfg)
		sendEvents(t, q, r, 1)
		time.Sleep(600 * time.Millisecond)
		run := startInvoker(t, r, q, func(context.Context, json.RawMessage) (string, error) { return "applied", nil },
			InvokerConfig{MaxEventAge: 300 * time.Millisecond, TargetMaxEventAge: time.Hour}, time.Second)
		if got := run.waitSettled(t, 1)[0]; got.Outcome != "applied" || got.Accepted.Sub(got.Enqueued) < 500*time.Millisecond {
			t.Errorf("result %+v, want applied although it entered the inbox before MaxEventAge", got)
		}
	})
	t.Run("too old for its retry", func(t *testing.T) {
		r, cfg := provision(t)
		q := sqs.NewFromConfig(cfg)
		sendEvents(t, q, r, 1)
		run := startInvoker(t, r, q, func(context.Context, json.RawMessage) (string, error) { return "", errors.New("dynamodb unavailable") },
			InvokerConfig{RetryAttempts: 2, RetryBackoff: 400 * time.Millisecond, MaxEventAge: 200 * time.Millisecond}, time.Second)
		if got := run.waitSettled(t, 1)[0]; got.Outcome != OutcomeFailed || got.Invokes != 1 || got.Condition != dlq.ConditionEventAgeExceeded {
			t.Errorf("result %+v, want failed after 1 invoke with EventAgeExceeded", got)
		}
		recs, err := dlq.Peek(context.Background(), q, r.ProcessingDLQURL, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Format != dlq.FormatLambda || recs[0].Reason != dlq.ConditionEventAgeExceeded {
			t.Errorf("processing DLQ records %+v, want one Lambda EventAgeExceeded record", recs)
		}
	})
}

// TestInvokerMaxQueuedBoundsWhatItHolds: past MaxQueued the invoker stops
// receiving; every event is still settled.
func TestInvokerMaxQueuedBoundsWhatItHolds(t *testing.T) {
	r, cfg := provision(t)
	q := sqs.NewFromConfig(cfg)
	sendEvents(t, q, r, 10)
	var peak atomic.Int64
	var run *invokerRun
	var ready sync.WaitGroup
	ready.Add(1)
	run = startInvoker(t, r, q, func(context.Context, json.RawMessage) (string, error) {
		ready.Wait()
		if n := int64(run.inv.Stats().InFlight); n > peak.Load() {
			peak.Store(n)
		}
		time.Sleep(50 * time.Millisecond)
		return "applied", nil
	}, InvokerConfig{Concurrency: 1, MaxQueued: 3}, time.Second)
	ready.Done()
	run.waitSettled(t, 10)
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak events held = %d, want 2..3 (bounded by MaxQueued 3)", p)
	}
}

// TestInvokerShutdownLosesNothing: events waiting in Lambda's queue and the
// one running when the invoker stops are unfinished, stay in the inbox and
// are visible again at once; the next invoker settles every one of them,
// without reporting them as new invocations.
func TestInvokerShutdownLosesNothing(t *testing.T) {
	r, cfg := provision(t)
	q := sqs.NewFromConfig(cfg)
	sendEvents(t, q, r, 4)
	started := make(chan struct{}, 4)
	first := startInvoker(t, r, q, func(ctx context.Context, _ json.RawMessage) (string, error) {
		started <- struct{}{}
		<-ctx.Done() // never finishes on its own
		return "", ctx.Err()
	}, InvokerConfig{Concurrency: 1}, 100*time.Millisecond)
	<-started
	deadline := time.Now().Add(10 * time.Second)
	for first.inv.Stats().Queued < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	first.stop(t)
	st := first.inv.Stats()
	if st.Outcomes[OutcomeUnfinished] != 4 || st.InFlight != 0 || st.Queued != 0 || st.Running != 0 {
		t.Errorf("stats after shutdown = %+v, want 4 unfinished, nothing held", st)
	}
	if d := queueDepth(t, q, r.InboxURL); d.Visible != 4 {
		t.Errorf("inbox depth = %+v, want the 4 unfinished events visible again", d)
	}
	for _, url := range []string{r.ProcessingDLQURL, r.DeliveryDLQURL} {
		if d := queueDepth(t, q, url); d.Visible != 0 {
			t.Errorf("DLQ %s depth = %+v, want empty (unfinished is not failed)", url, d)
		}
	}

	var onInvoke atomic.Int64
	second := startInvoker(t, r, q, func(context.Context, json.RawMessage) (string, error) { return "applied", nil },
		InvokerConfig{OnInvoke: func(time.Time, time.Time) { onInvoke.Add(1) }}, time.Second)
	for _, x := range second.waitSettled(t, 4) {
		if x.Outcome != "applied" {
			t.Errorf("after restart: %+v, want applied", x)
		}
	}
	if onInvoke.Load() != 0 {
		t.Errorf("OnInvoke called %d times after the restart, want 0 (their first attempts were the first run's)", onInvoke.Load())
	}
}

// TestTargetBackoffIsFullJitterCapped: the n-th retry waits up to
// min(cap, base·2^(n-1)), uniformly.
func TestTargetBackoffIsFullJitterCapped(t *testing.T) {
	x := 0.5
	v := NewInvoker(nil, nil, InvokerConfig{TargetRetryBase: time.Second, TargetRetryCap: time.Minute, Rand: func() float64 { return x }})
	for n, want := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 6: 16 * time.Second, 7: 30 * time.Second, 185: 30 * time.Second} {
		if got := v.targetBackoff(n); got != want {
			t.Errorf("retry %d at rand 0.5: %v, want %v", n, got, want)
		}
	}
	x = 0
	if got := v.targetBackoff(3); got != 0 {
		t.Errorf("retry 3 at rand 0: %v, want 0", got)
	}
}

// TestInvokerFromSpec: every limit comes from the spec, scaled, the
// function timeout no lower than its floor.
func TestInvokerFromSpec(t *testing.T) {
	s := SpecFor("x")
	ic := InvokerFromSpec(s, 1.0/30)
	want := InvokerConfig{
		Timeout: FunctionTimeoutFloor, RetryAttempts: 2, RetryBackoff: 2 * time.Second, MaxEventAge: 12 * time.Minute,
		TargetRetryAttempts: 185, TargetMaxEventAge: 48 * time.Minute,
		TargetRetryBase: time.Second / 30, TargetRetryCap: 30 * time.Second,
	}
	if ic.Timeout != want.Timeout || ic.RetryAttempts != want.RetryAttempts || ic.RetryBackoff != want.RetryBackoff || ic.MaxEventAge != want.MaxEventAge ||
		ic.TargetRetryAttempts != want.TargetRetryAttempts || ic.TargetMaxEventAge != want.TargetMaxEventAge ||
		ic.TargetRetryBase != want.TargetRetryBase || ic.TargetRetryCap != want.TargetRetryCap {
		t.Errorf("InvokerFromSpec(defaults, 1/30) = %+v, want %+v", ic, want)
	}
	if got := InvokerFromSpec(s, 1); got.Timeout != s.Function.Timeout || got.RetryBackoff != LambdaRetryBackoff || got.TargetMaxEventAge != s.Target.MaximumEventAge {
		t.Errorf("InvokerFromSpec(defaults, 1) = %+v, want AWS's own durations", got)
	}
}
