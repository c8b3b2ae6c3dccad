package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/store"
)

// TestLocalDemo runs `tapctl local --demo` end to end with 30 orders and
// checks the report's figures against the table and the DLQ.
func TestLocalDemo(t *testing.T) {
	f := newFixture(t)
	r := f.run("", "local", "--demo", "--aws-endpoint", motoEndpoint, "--env", f.names.Env,
		"--orders", "30", "--seed", "11", "--duplicates", "0.2", "--invalid", "0.1", "--conflicts", "0.05", "-o", "json")
	r.want(t, ExitOK)
	var rep local.Report
	r.decode(t, &rep)
	if !rep.OK() || rep.Orders != 30 || rep.Sent != rep.Generated || rep.Settled != rep.Sent {
		t.Fatalf("report = %+v, want OK with 30 orders, everything sent and settled", rep)
	}
	if !contains(r.stderr, "publishing", "100%") {
		t.Errorf("stderr has no progress bar:\n%s", r.stderr)
	}

	// Recount from the table: one state per order, and one execution item
	// per (order, seq) sent — originals, as no conflict wins in this seed
	// or, if one does, in place of its original.
	cfg := f.cfg(local.DefaultRegion)
	st := store.New(dynamodb.NewFromConfig(cfg), f.names.Table(), local.DefaultRegion, nil)
	ls := gen.Lifecycles(11, 30, gen.Options{})
	states, execs := 0, 0
	for _, l := range ls {
		o, err := st.GetOrder(context.Background(), l.OrderID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if o.LastSeq != int64(len(l.Events)) {
			t.Errorf("order %s at seq %d, want %d", l.OrderID, o.LastSeq, len(l.Events))
		}
		states++
		ex, err := st.Executions(context.Background(), l.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		execs += len(ex)
	}
	if states != 30 || execs != rep.Kinds["original"] {
		t.Errorf("table has %d states and %d executions, want 30 and %d (the originals sent)", states, execs, rep.Kinds["original"])
	}
	// An execution recorded first and then outranked by a lower eventId
	// (DESIGN §3, Conflicts) was applied, and is now a dead letter.
	if want := rep.Outcomes["applied"] + rep.Outcomes["stale"] - rep.Outranked; execs != want {
		t.Errorf("executions %d, want applied+stale-outranked %d", execs, want)
	}
	q := sqs.NewFromConfig(cfg)
	url, err := q.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String(f.names.ProcessingDLQ())})
	if err != nil {
		t.Fatal(err)
	}
	depth, err := dlq.QueueDepth(context.Background(), q, aws.ToString(url.QueueUrl))
	if err != nil {
		t.Fatal(err)
	}
	if want := rep.Outcomes["rejected"] + rep.Outcomes["conflict"] + rep.Outranked; depth.Visible != rep.DeadLettered || rep.DeadLettered != want {
		t.Errorf("processing DLQ holds %d, report says %d dead-lettered, rejected+conflict+outranked %d",
			depth.Visible, rep.DeadLettered, want)
	}
}

// TestLocalServesSDKAndStopsCleanly runs `tapctl local` (starting its own
// moto), publishes into it with the AWS SDK for Go, uses the other commands'
// --local mode on it, and stops it with a cancelled context, as Ctrl-C does.
func TestLocalServesSDKAndStopsCleanly(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() { done <- f.runContext(ctx, "", "local", "--concurrency", "2") }()

	statePath := f.vars["TAPCTL_STATE"]
	var st local.State
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := local.ReadState(statePath)
		if err == nil {
			st = s
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no state file after 60s: %v; run: %+v", err, <-done)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Publish with the AWS SDK, as any producer would: one valid event, one
	// invalid.
	cfg, err := awslocal.Config(ctx, st.Endpoint, st.Region)
	if err != nil {
		t.Fatal(err)
	}
	l := gen.Lifecycles(3, 1, gen.Options{Start: time.Now().Add(-time.Minute)})[0]
	good := l.Events[0]
	bad := l.Events[0]
	bad.EventID, bad.Side = "99999999-9999-4999-8999-999999999999", "HOLD"
	out, err := eventbridge.NewFromConfig(cfg).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{EventBusName: &st.Bus, Source: aws.String("tap.trading"), DetailType: aws.String("ExecutionReport"), Detail: aws.String(string(event.EncodeDetail(&good)))},
		{EventBusName: &st.Bus, Source: aws.String("tap.trading"), DetailType: aws.String("ExecutionReport"), Detail: aws.String(string(event.EncodeDetail(&bad)))},
	}})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents into the local pipeline: %v, %d failed", err, out.FailedEntryCount)
	}

	// The order shows up through `order get --local`.
	var v orderView
	for deadline := time.Now().Add(30 * time.Second); ; {
		r := f.run("", "order", "get", good.OrderID, "--local", "-o", "json")
		if r.code == ExitOK {
			r.decode(t, &v)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s not applied within 30s: %+v", good.OrderID, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v.LastEventID != good.EventID {
		t.Errorf("local order state event %s, want %s", v.LastEventID, good.EventID)
	}

	// The invalid event is in the processing DLQ, seen by `dlq list --local`.
	var listing dlqListing
	for deadline := time.Now().Add(30 * time.Second); ; {
		f.run("", "dlq", "list", "--queue", "processing", "--local", "-o", "json").want(t, ExitOK).decode(t, &listing)
		if len(listing.Records) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(listing.Records) != 1 || listing.Records[0].EventID != bad.EventID || listing.Records[0].Reason != string(event.ReasonInvalidSide) {
		t.Fatalf("local processing DLQ = %+v, want the invalid event with INVALID_SIDE", listing.Records)
	}

	// send and load work against it too.
	f.run(string(event.EncodeDetail(&l.Events[min(1, len(l.Events)-1)])), "send", "--local").want(t, ExitOK)
	var lr loadReport
	f.run("", "load", "--local", "--rate", "20", "--duration", "1s", "--settle", "30s", "-o", "json").want(t, ExitOK).decode(t, &lr)
	if lr.Accepted != 20 || lr.Sampled == 0 || lr.Reached != lr.Sampled || lr.LatencyP50 == "-" {
		t.Errorf("load report = %+v, want 20 accepted and every sampled order reached", lr)
	}

	// A redrive of the invalid event is accepted; the processor rejects it again.
	var rd redriveReport
	f.run("", "dlq", "redrive", "--queue", "processing", "--local", "-o", "json").want(t, ExitOK).decode(t, &rd)
	if rd.Counts["redriven"] != 1 {
		t.Errorf("local redrive = %+v, want 1 redriven", rd.Counts)
	}

	cancel() // Ctrl-C
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("tapctl local did not stop within 30s of cancellation")
	}
	r.want(t, ExitOK)
	if !contains(r.stderr, st.Endpoint, st.Bus, "aws events put-events", "--endpoint-url "+st.Endpoint, "stopping", "moto stopped") {
		t.Errorf("stderr lacks the banner or the stop:\n%s", r.stderr)
	}
	if !contains(r.stdout, "applied", good.EventID, "rejected   event "+bad.EventID+": INVALID_SIDE: side \"HOLD\" is invalid") {
		t.Errorf("stdout lacks the per-event outcomes:\n%s", r.stdout)
	}
	if _, err := os.Stat(statePath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file %s still exists after stop (%v)", statePath, err)
	}
	if resp, err := http.Get(st.Endpoint + "/moto-api/"); err == nil {
		resp.Body.Close()
		t.Errorf("moto at %s still answers after tapctl local stopped", st.Endpoint)
	}
}

func TestLocalUsageErrors(t *testing.T) {
	f := newFixture(t)
	for _, args := range [][]string{
		{"local", "--retry-attempts", "3"},
		{"local", "--concurrency", "0"},
		{"local", "--demo", "--duplicates", "1.5"},
		{"local", "--demo", "--orders", "0"},
		{"local", "--output", "yaml"},
		{"local", "extra"},
	} {
		if r := f.run("", args...); r.code != ExitUsage {
			t.Errorf("tapctl %v: exit %d, want %d; stderr %q", args, r.code, ExitUsage, r.stderr)
		}
	}
}

// TestLocalRefusedStartKeepsRunningLog starts one pipeline, lets it log,
// starts a second on the same state file, and checks the refusal left the
// first one's processor log intact: no truncation, no NUL bytes after the
// next write.
func TestLocalRefusedStartKeepsRunningLog(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() {
		done <- f.runContext(ctx, "", "local", "--aws-endpoint", motoEndpoint, "--env", f.names.Env)
	}()
	statePath := f.vars["TAPCTL_STATE"]
	waitFor(t, 60*time.Second, "the state file", func() bool { _, err := local.ReadState(statePath); return err == nil })
	logPath := strings.TrimSuffix(statePath, ".json") + "-processor.log"

	ls := gen.Lifecycles(5, 1, gen.Options{Start: time.Now().Add(-time.Minute)})[0]
	sendAndWait := func(ev event.ExecutionReport) {
		t.Helper()
		start, _ := os.ReadFile(logPath)
		f.run(string(event.EncodeDetail(&ev)), "send", "--local").want(t, ExitOK)
		// An applied event logs at DEBUG (as deployed); its invocation still
		// appends one EMF document, a whole line.
		waitFor(t, 30*time.Second, "the invocation of event "+ev.EventID+" in the processor log", func() bool {
			b, _ := os.ReadFile(logPath)
			return len(b) > len(start) && bytes.HasSuffix(b, []byte("\n"))
		})
	}
	sendAndWait(ls.Events[0])
	before, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}

	// The second tapctl is another process: give it a live PID not ours.
	f.env.PID = os.Getppid
	r := f.run("", "local", "--aws-endpoint", motoEndpoint, "--env", f.names.Env)
	r.want(t, ExitFailure)
	if !contains(r.stderr, "another local pipeline", "is running") {
		t.Errorf("second start: stderr %q, want the refusal naming the running pipeline", r.stderr)
	}
	after, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(after, before) {
		t.Fatalf("the refused start changed the running pipeline's log: %d bytes before, %d after", len(before), len(after))
	}

	sendAndWait(ls.Events[1])
	final, _ := os.ReadFile(logPath)
	if !bytes.HasPrefix(final, before) || bytes.IndexByte(final, 0) >= 0 {
		t.Errorf("processor log lost its start or has NUL bytes after the next write:\n%q", final)
	}
	cancel()
	(<-done).want(t, ExitOK)
}

// waitFor polls cond until it holds, or fails the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWriteOutcomeSaysWhy: a rejection in the local event log carries the
// dead letter's reason code and message, also for an event without an ID.
func TestWriteOutcomeSaysWhy(t *testing.T) {
	var out bytes.Buffer
	a := &app{env: Env{Stdout: &out}.withDefaults()}
	done := time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC)
	a.writeOutcome(local.Result{Outcome: "rejected", Reason: "MISSING_FIELD", Message: "eventId is missing", Done: done})
	a.writeOutcome(local.Result{Outcome: "applied", EventID: "e1", Done: done})
	a.writeOutcome(local.Result{Outcome: "heartbeat", Done: done})
	want := "14:30:00.000  rejected   event without an eventId: MISSING_FIELD: eventId is missing\n" +
		"14:30:00.000  applied    event e1\n" +
		"14:30:00.000  heartbeat  recorded\n"
	if got := out.String(); got != want {
		t.Errorf("outcome lines:\n%s\nwant:\n%s", got, want)
	}
}
