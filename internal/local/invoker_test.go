package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

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
func startInvoker(t *testing.T, r Resources, q *sqs.Client, proc ProcessFunc, cfg InvokerConfig, grace time.Duration) *invokerRun {
	t.Helper()
	run := &invokerRun{done: make(chan error, 1)}
	cfg.InboxURL, cfg.DLQURL, cfg.FunctionARN = r.InboxURL, r.ProcessingDLQURL, r.FunctionARN
	cfg.Observe = func(res Result) { run.mu.Lock(); run.res = append(run.res, res); run.mu.Unlock() }
	cfg.OnError = func(err error) { t.Logf("invoker: %v", err) }
	run.inv = NewInvoker(q, proc, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	run.cancel = cancel
	go func() { run.done <- run.inv.Run(ctx, grace) }()
	t.Cleanup(func() { run.stop(t) })
	return run
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
	run := startInvoker(t, r, q, func(_ context.Context, raw json.RawMessage) (string, error) {
		calls.Add(1)
		return "applied", nil
	}, InvokerConfig{Concurrency: 4}, time.Second)
	res := run.waitSettled(t, 25)

	ids := map[string]bool{}
	for _, x := range res {
		if x.Outcome != "applied" || x.Invokes != 1 {
			t.Errorf("result %+v, want applied after 1 invoke", x)
		}
		ids[x.EventID] = true
	}
	if len(ids) != 25 || calls.Load() != 25 {
		t.Errorf("distinct eventIds %d, invocations %d, want 25 and 25", len(ids), calls.Load())
	}
	if d := queueDepth(t, q, r.InboxURL); d != (dlq.Depth{}) {
		t.Errorf("inbox depth after settling = %+v, want empty", d)
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

func TestInvokerDeadLettersOldEventsUntried(t *testing.T) {
	r, cfg := provision(t)
	q := sqs.NewFromConfig(cfg)
	sendEvents(t, q, r, 1)
	var calls atomic.Int64
	// The clock is 2 h ahead: the event is older than its 1 h max age.
	run := startInvoker(t, r, q, func(context.Context, json.RawMessage) (string, error) {
		calls.Add(1)
		return "applied", nil
	}, InvokerConfig{RetryAttempts: 2, MaxEventAge: time.Hour, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}, time.Second)
	res := run.waitSettled(t, 1)
	if got := res[0]; got.Outcome != OutcomeFailed || got.Invokes != 0 || got.Condition != dlq.ConditionEventAgeExceeded {
		t.Errorf("result %+v, want failed untried with EventAgeExceeded", got)
	}
	if calls.Load() != 0 {
		t.Errorf("processor called %d times, want 0", calls.Load())
	}
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
