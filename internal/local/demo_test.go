package local

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/store"
)

// startPipeline starts a pipeline of a fresh env in the package's moto and
// runs its invoker until the test ends.
func startPipeline(t *testing.T, ic InvokerConfig) *Pipeline {
	t.Helper()
	p, err := Start(context.Background(), Config{
		AWSEndpoint: motoEndpoint, Region: testRegion, Env: testNames(t).Env,
		Invoker: ic,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pipeline Run = %v", err)
		}
		p.Close()
	})
	return p
}

// TestDemoEndToEnd runs the demo with duplicates, reordering, invalid and
// conflicting events, and checks the report's figures against the table.
func TestDemoEndToEnd(t *testing.T) {
	p := startPipeline(t, InvokerConfig{Concurrency: 4, RetryAttempts: 2, RetryBackoff: 50 * time.Millisecond})
	var progress bytes.Buffer
	rep, err := RunDemo(context.Background(), p, DemoConfig{
		Orders: 30, Seed: 42, Duplicates: 0.2, Reorder: true, Invalid: 0.1, Conflicts: 0.05,
		Progress: &progress, DrainTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Log("\n" + text.String())
	if !rep.OK() {
		t.Fatalf("demo report not OK:\n%s", text.String())
	}
	if rep.Sent != rep.Generated || rep.Settled != rep.Sent {
		t.Errorf("sent %d settled %d of %d generated, want all", rep.Sent, rep.Settled, rep.Generated)
	}
	if rep.Kinds["duplicate"] == 0 || rep.Kinds["invalid"] == 0 || rep.Kinds["conflicting"] == 0 {
		t.Errorf("kinds = %v, want duplicates, invalid and conflicting events in the stream", rep.Kinds)
	}
	if rep.Outcomes["rejected"] != rep.Kinds["invalid"] {
		t.Errorf("rejected %d, want %d invalid", rep.Outcomes["rejected"], rep.Kinds["invalid"])
	}
	if want := rep.Outcomes["rejected"] + rep.Outcomes["conflict"] + rep.Outranked; rep.DeadLettered != want {
		t.Errorf("dead-lettered %d, want rejected+conflict+outranked %d", rep.DeadLettered, want)
	}
	if rep.LatencySamples != rep.Outcomes["applied"] || rep.LatencyP50 <= 0 || rep.LatencyP99 < rep.LatencyP50 {
		t.Errorf("latency samples %d p50 %v p99 %v, want one per applied event (%d), 0 < p50 <= p99",
			rep.LatencySamples, rep.LatencyP50, rep.LatencyP99, rep.Outcomes["applied"])
	}
	// Not a terminal: plain lines, no carriage-return frames, and it says
	// what it does after publishing.
	if out := progress.String(); !contains(out, "publishing 149 events...\n", "publishing 149/149 events (100%)",
		"waiting for the pipeline to settle the 149 events sent", "verifying I1 and I2") || strings.Contains(out, "\r") {
		t.Errorf("progress output is not plain lines of each step:\n%q", out)
	}
	// The breakdown is measured: the processor waited on the local AWS, and
	// the parts add up to the mean latency (up to integer division).
	b := rep.Breakdown
	if b == nil || b.Events != rep.Outcomes["applied"] || b.AWSWait <= 0 || b.ProcessorSelf <= 0 || b.InboxWait < 0 {
		t.Fatalf("breakdown = %+v, want one per applied event with AWS and processor time measured", b)
	}
	if sum := b.Delivery + b.InboxWait + b.AWSWait + b.ProcessorSelf + b.Other; (sum - b.Latency).Abs() > 10*time.Nanosecond {
		t.Errorf("breakdown parts sum to %v, want the mean latency %v", sum, b.Latency)
	}
	if !contains(text.String(), "where the time went", "processor own time") {
		t.Errorf("report text has no breakdown:\n%s", text.String())
	}

	// The report's figures, recounted from the table: one state per order,
	// and one execution item per applied or stale event but those whose
	// execution a lower eventId outranked later (it took the item).
	st := store.New(dynamodb.NewFromConfig(p.AWS), p.Resources.Table, testRegion, nil)
	states, execs := 0, 0
	for _, l := range gen.Lifecycles(42, 30, gen.Options{}) {
		if _, err := st.GetOrder(context.Background(), l.OrderID); err == nil {
			states++
		}
		ex, err := st.Executions(context.Background(), l.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		execs += len(ex)
	}
	if want := rep.Outcomes["applied"] + rep.Outcomes["stale"] - rep.Outranked; states != 30 || execs != want {
		t.Errorf("table: %d states, %d executions; want 30 and applied+stale-outranked = %d", states, execs, want)
	}
	t.Logf("outranked executions: %d", rep.Outranked)
}

// TestDemoInterrupted cancels a demo while it publishes: the report says so,
// accounts for every generated event as sent or not sent, and is not OK.
func TestDemoInterrupted(t *testing.T) {
	p := startPipeline(t, InvokerConfig{Concurrency: 2})
	ctx, cancel := context.WithCancel(context.Background())
	unsubscribe := p.Subscribe(func(Result) { cancel() }) // stop at the first settled event
	defer unsubscribe()
	rep, err := RunDemo(ctx, p, DemoConfig{Orders: 40, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.OK() || rep.NotSent == 0 || rep.Sent+rep.NotSent+rep.PublishFailed != rep.Generated {
		t.Errorf("interrupted report: interrupted %v ok %v sent %d not sent %d failed %d of %d",
			rep.Interrupted, rep.OK(), rep.Sent, rep.NotSent, rep.PublishFailed, rep.Generated)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if !contains(text.String(), "interrupted before verification", "not sent") {
		t.Errorf("report text:\n%s", text.String())
	}
}

// TestLineProgress: off a terminal, progress is plain lines at most every
// interval, with no rate until a meaningful time has passed.
func TestLineProgress(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	p := newLineProgress(&out, 100, "publishing", clock, 5*time.Second)
	now = now.Add(10 * time.Millisecond)
	_ = p.Add(50) // before the interval: no line
	now = now.Add(5 * time.Second)
	_ = p.Add(10)
	now = now.Add(time.Second)
	_ = p.Finish()
	_ = p.Exit() // already ended: nothing more
	want := "publishing 100 events...\n" +
		"publishing 60/100 events (60%) in 5s, 12 events/s\n" +
		"publishing 60/100 events (60%) in 6s, 10 events/s\n"
	if got := out.String(); got != want {
		t.Errorf("lines:\n%q\nwant:\n%q", got, want)
	}

	out.Reset()
	q := newLineProgress(&out, 10, "sending", clock, 5*time.Second)
	_ = q.Add(10)
	_ = q.Finish()
	if got := out.String(); got != "sending 10 events...\nsending 10/10 events (100%) in 0s\n" {
		t.Errorf("a step shorter than a second shows a rate: %q", got)
	}
}

func TestNewProgressOffTerminalWritesLines(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, 3, "publishing")
	_ = p.Add(3)
	_ = p.Finish()
	if got := out.String(); strings.Contains(got, "\r") || !strings.HasSuffix(got, "publishing 3/3 events (100%) in 0s\n") {
		t.Errorf("NewProgress on a buffer wrote %q, want plain lines", got)
	}
}
