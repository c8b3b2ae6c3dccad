package processor_test

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/metrics"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/schema"
)

// envelopeAt is r as EventBridge delivers it, the envelope's time at (zero:
// none) to the second, as EventBridge writes it.
func envelopeAt(r event.ExecutionReport, at time.Time) []byte {
	return event.EncodeEnvelope(event.Envelope{
		ID: uuid.NewString(), Source: schema.Source, DetailType: schema.DetailTypeExecutionReport,
		Account: awslocal.AccountID, Region: testRegion, Time: at.Truncate(time.Second), Detail: event.EncodeDetail(&r),
	})
}

// replayed is raw as an archive replay delivers it: with a replay-name.
func replayed(raw []byte) []byte {
	return bytes.Replace(raw, []byte(`{"version":"0",`), []byte(`{"version":"0","replay-name":"tap-test-replay",`), 1)
}

// PipelineLatency counts from the envelope's time, TradeAge from the trade's
// transactTime and only for a late trade, both in whole milliseconds.
func TestLatencyMetrics(t *testing.T) {
	f := newFixture(t)
	received := testNow.Truncate(time.Second).Add(-2 * time.Second)
	// testNow is .123456789 past the second: 2 s and 123.456789 ms after received.
	const pipelineMs = 2123
	fresh := func(e event.ExecutionReport) event.ExecutionReport {
		e.TransactTime = received.Add(-250 * time.Millisecond)
		return e
	}
	late := func(e event.ExecutionReport) event.ExecutionReport {
		e.TransactTime = testNow.Add(-72 * time.Hour)
		return e
	}
	invalid := func(e event.ExecutionReport) event.ExecutionReport {
		e = fresh(e)
		e.OrderQty = event.MustDecimal("-1")
		return e
	}
	tests := []struct {
		name    string
		report  func(e event.ExecutionReport) event.ExecutionReport
		at      time.Time // the envelope's time
		replay  bool      // delivered by an archive replay
		outcome processor.Outcome
		want    map[string]float64 // metric → its one value; nothing else
	}{
		{"fresh trade", fresh, received, false,
			processor.Applied, map[string]float64{metrics.EventsApplied: 1, metrics.PipelineLatency: pipelineMs}},
		{"late trade", late, received, false,
			processor.Applied, map[string]float64{metrics.EventsApplied: 1, metrics.PipelineLatency: pipelineMs, metrics.TradeAge: 72 * 3600e3}},
		{"replayed late trade", late, received.Add(-71 * time.Hour), true,
			processor.Applied, map[string]float64{metrics.EventsApplied: 1, metrics.TradeAge: 72 * 3600e3}},
		{"no envelope time", fresh, time.Time{}, false,
			processor.Applied, map[string]float64{metrics.EventsApplied: 1}},
		{"envelope time ahead of the clock", fresh, testNow.Add(5 * time.Second), false,
			processor.Applied, map[string]float64{metrics.EventsApplied: 1, metrics.PipelineLatency: 0}},
		{"rejected", invalid, received, false,
			processor.Rejected, map[string]float64{metrics.EventsRejected: 1, metrics.PipelineLatency: pipelineMs}},
	}
	out := &syncBuffer{}
	h := f.handler(t, f.cfg, processor.Deps{Now: fixedClock, Stdout: out})
	// The first invocation records ColdStart; warm up so each case has only its own.
	if _, err := h.Process(t.Context(), heartbeatEvent(event.Heartbeat{Region: testRegion, SentAt: testNow})); err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := lifecycle(t, uint64(300+i), 1).Events[0]
			before := out.Len()
			raw := envelopeAt(tt.report(e), tt.at)
			if tt.replay {
				raw = replayed(raw)
			}
			if got, err := h.Process(t.Context(), raw); err != nil || got != tt.outcome {
				t.Fatalf("Process = %q, %v; want %q", got, err, tt.outcome)
			}
			_, docs := splitStdout(t, out.LinesFrom(before))
			if len(docs) != 1 {
				t.Fatalf("%d EMF documents, want 1", len(docs))
			}
			got := checkEMF(t, docs[0], testNow)
			if len(got) != len(tt.want) {
				t.Errorf("metrics %v, want exactly %v", got, tt.want)
			}
			for name, want := range tt.want {
				if v := got[name]; len(v.values) != 1 || v.values[0] != want {
					t.Errorf("%s = %v, want [%v]", name, v.values, want)
				}
			}
		})
	}
}

// Invocations running at once on one Handler (the local invoker runs
// several) each write one document with exactly their own values: their
// outcome's counter and their PipelineLatency, and ColdStart in one of them.
// Every document's Write waits until all n invocations are writing theirs,
// so all values are recorded before any document goes out.
func TestConcurrentInvocationsWriteTheirOwnMetrics(t *testing.T) {
	const n = 16
	f := newFixture(t)
	out := &syncBuffer{}
	bw := &barrierWriter{next: out, n: n, all: make(chan struct{})}
	h := f.handler(t, f.cfg, processor.Deps{Now: fixedClock, Stdout: bw})
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		e := lifecycle(t, uint64(400+i), 1).Events[0]
		e.TransactTime = testNow.Add(-time.Second)
		want := processor.Applied
		if i%3 == 0 {
			e.OrderQty = event.MustDecimal("-1")
			want = processor.Rejected
		}
		// Invocation i was received i seconds before the second of testNow.
		raw := envelopeAt(e, testNow.Add(-time.Duration(i)*time.Second))
		wg.Go(func() {
			<-start
			if got, err := h.Process(t.Context(), raw); err != nil || got != want {
				t.Errorf("invocation %d: Process = %q, %v; want %q", i, got, err, want)
			}
		})
	}
	close(start)
	wg.Wait()
	if bw.timedOut.Load() {
		t.Errorf("not all %d invocations reached their metrics Write at once: one holds what the others need", n)
	}

	_, docs := splitStdout(t, out.LinesFrom(0))
	if len(docs) != n {
		t.Fatalf("%d EMF documents, want %d: one per invocation", len(docs), n)
	}
	seen := map[int]bool{}
	cold := 0
	for _, doc := range docs {
		got := checkEMF(t, doc, testNow)
		lat := got[metrics.PipelineLatency].values
		if len(lat) != 1 {
			t.Errorf("PipelineLatency = %v, want one invocation's value", lat)
			continue
		}
		i := int(lat[0]-123) / 1000 // 123 ms: testNow's fraction of a second
		if seen[i] || float64(i*1000+123) != lat[0] {
			t.Errorf("PipelineLatency %v is no single invocation's", lat[0])
		}
		seen[i] = true
		counter := metrics.EventsApplied
		if i%3 == 0 {
			counter = metrics.EventsRejected
		}
		want := map[string]bool{counter: true, metrics.PipelineLatency: true}
		if c := got[metrics.ColdStart]; len(c.values) > 0 {
			cold += len(c.values)
			want[metrics.ColdStart] = true
		}
		if len(got) != len(want) || len(got[counter].values) != 1 {
			t.Errorf("invocation %d: metrics %v, want one value each of %v", i, got, want)
		}
	}
	if cold != 1 {
		t.Errorf("ColdStart recorded %d times, want once", cold)
	}
	if len(seen) != n {
		t.Errorf("documents of %d distinct invocations, want %d: %v", len(seen), n, seen)
	}
}

// barrierWriter holds each EMF document's Write until n documents are being
// written (or 10 s have passed); log lines go through at once.
type barrierWriter struct {
	next     *syncBuffer
	n        int
	mu       sync.Mutex
	arrived  int
	all      chan struct{} // closed when n documents arrived
	timedOut atomic.Bool
}

func (b *barrierWriter) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte(`{"_aws":`)) {
		b.mu.Lock()
		if b.arrived++; b.arrived == b.n {
			close(b.all)
		}
		b.mu.Unlock()
		select {
		case <-b.all:
		case <-time.After(10 * time.Second):
			b.timedOut.Store(true)
		}
	}
	return b.next.Write(p)
}
