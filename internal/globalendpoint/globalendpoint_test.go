package globalendpoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/event"
)

// bus stands for one region's bus: it records what it accepted and fails
// what it is told to.
type bus struct {
	name     string
	mu       sync.Mutex
	accepted []ebtypes.PutEventsRequestEntry
	// failEntry fails entries whose Detail contains it with MalformedDetail.
	failEntry string
	down      atomic.Bool
	delivered []event.Envelope
}

func (b *bus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	if b.down.Load() {
		return nil, errors.New("connection refused")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out := &eventbridge.PutEventsOutput{}
	for _, e := range in.Entries {
		if b.failEntry != "" && strings.Contains(aws.ToString(e.Detail), b.failEntry) {
			out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{ErrorCode: aws.String("MalformedDetail"), ErrorMessage: aws.String("Detail is malformed.")})
			out.FailedEntryCount++
			continue
		}
		b.accepted = append(b.accepted, e)
		out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{EventId: aws.String(fmt.Sprintf("%s-%d", b.name, len(b.accepted)))})
	}
	return out, nil
}

func (b *bus) deliver(_ context.Context, env event.Envelope) error {
	if b.down.Load() {
		return errors.New("connection refused")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.delivered = append(b.delivered, env)
	return nil
}

func (b *bus) counts() (accepted, delivered int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.accepted), len(b.delivered)
}

func (b *bus) region() Region {
	return Region{Name: b.name, Account: "123456789012", Events: b, Reachable: func() bool { return !b.down.Load() }, Deliver: b.deliver}
}

type fixture struct {
	ep       *Endpoint
	a, b     *bus
	healthy  atomic.Bool
	client   *eventbridge.Client
	mu       sync.Mutex
	routes   []string
	replicas []Replicated
}

func newFixture(t *testing.T, opts ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{a: &bus{name: "us-east-1"}, b: &bus{name: "us-west-2"}}
	f.healthy.Store(true)
	cfg := Config{
		Primary: f.a.region(), Secondary: f.b.region(),
		PrimaryHealthy: f.healthy.Load,
		RetryDelay:     10 * time.Millisecond,
		OnRoute: func(r string, _ time.Time) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.routes = append(f.routes, r)
		},
		OnReplicated: func(r Replicated) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.replicas = append(f.replicas, r)
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	ep, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	f.ep = ep
	sdk, err := awslocal.Config(context.Background(), ep.URL, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	f.client = eventbridge.NewFromConfig(sdk, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
	return f
}

func entries(details ...string) []ebtypes.PutEventsRequestEntry {
	var out []ebtypes.PutEventsRequestEntry
	for _, d := range details {
		out = append(out, ebtypes.PutEventsRequestEntry{
			EventBusName: aws.String("arn:aws:events:us-east-1:123456789012:event-bus/tap-local-trading"),
			Source:       aws.String("tap.trading"), DetailType: aws.String("ExecutionReport"),
			Detail: aws.String(d),
		})
	}
	return out
}

func (f *fixture) put(t *testing.T, details ...string) *eventbridge.PutEventsOutput {
	t.Helper()
	out, err := f.client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: entries(details...)})
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	return out
}

// eventually waits for cond, failing after a generous limit.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBatchRoutedToPrimaryAndReplicatedWithItsEnvelope(t *testing.T) {
	f := newFixture(t)
	out := f.put(t, `{"n":1}`, `{"n":2}`, `{"n":3}`)
	if out.FailedEntryCount != 0 || len(out.Entries) != 3 || aws.ToString(out.Entries[2].EventId) != "us-east-1-3" {
		t.Fatalf("PutEvents = %d failed, entries %+v; want 3 accepted by the primary", out.FailedEntryCount, out.Entries)
	}
	if got := aws.ToString(f.a.accepted[0].EventBusName); got != "tap-local-trading" {
		t.Errorf("bus forwarded = %q, want the name from the ARN", got)
	}
	eventually(t, "3 replications", func() bool { _, d := f.b.counts(); return d == 3 })
	env := f.b.delivered[1]
	if env.ID != "us-east-1-2" || env.Region != "us-east-1" || string(env.Detail) != `{"n":2}` || env.Source != "tap.trading" || env.DetailType != "ExecutionReport" {
		t.Errorf("replicated envelope %+v: want the primary's id and region and the entry's fields", env)
	}
	if acc, _ := f.b.counts(); acc != 0 {
		t.Errorf("the secondary's bus took %d events directly; want 0", acc)
	}
	if _, d := f.a.counts(); d != 0 {
		t.Errorf("%d events replicated back to the primary; want 0", d)
	}
}

func TestPerEntryFailuresAsEventBridgeReportsThem(t *testing.T) {
	f := newFixture(t)
	f.a.failEntry = "bad"
	out := f.put(t, `{"ok":1}`, `{"bad":1}`, `{"ok":2}`)
	if out.FailedEntryCount != 1 {
		t.Fatalf("FailedEntryCount = %d, want 1", out.FailedEntryCount)
	}
	e := out.Entries[1]
	if aws.ToString(e.ErrorCode) != "MalformedDetail" || aws.ToString(e.ErrorMessage) == "" || e.EventId != nil {
		t.Errorf("entry 1 = %+v, want MalformedDetail with a message and no EventId", e)
	}
	if out.Entries[0].EventId == nil || out.Entries[2].EventId == nil {
		t.Errorf("entries 0 and 2 = %+v, want accepted", out.Entries)
	}
	eventually(t, "the 2 accepted replicated", func() bool { _, d := f.b.counts(); return d == 2 })
}

func TestUnreachableRegionFailsEveryEntryRetryably(t *testing.T) {
	f := newFixture(t)
	f.a.down.Store(true)
	out := f.put(t, `{"n":1}`, `{"n":2}`)
	if out.FailedEntryCount != 2 {
		t.Fatalf("FailedEntryCount = %d, want 2", out.FailedEntryCount)
	}
	for i, e := range out.Entries {
		if aws.ToString(e.ErrorCode) != "InternalFailure" || !strings.Contains(aws.ToString(e.ErrorMessage), "us-east-1") {
			t.Errorf("entry %d = %+v, want InternalFailure naming the region", i, e)
		}
	}
	if c := f.ep.Counts(); c.Calls != 1 || c.Entries != 2 || c.FailedEntries != 2 {
		t.Errorf("Counts() = %+v", c)
	}
}

func TestUnhealthyPrimaryRoutesToSecondaryAndBack(t *testing.T) {
	f := newFixture(t)
	f.healthy.Store(false)
	out := f.put(t, `{"n":1}`)
	if id := aws.ToString(out.Entries[0].EventId); id != "us-west-2-1" {
		t.Fatalf("event id %q, want accepted by the secondary", id)
	}
	eventually(t, "replication to the primary", func() bool { _, d := f.a.counts(); return d == 1 })
	if f.a.delivered[0].Region != "us-west-2" {
		t.Errorf("replicated copy's region %q, want us-west-2 (where it was accepted)", f.a.delivered[0].Region)
	}
	f.healthy.Store(true)
	f.put(t, `{"n":2}`)
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Join(f.routes, ",") != "us-west-2,us-east-1" {
		t.Errorf("route changes %v, want [us-west-2 us-east-1]", f.routes)
	}
}

func TestReplicationWaitsWhileTheSourceIsCut(t *testing.T) {
	f := newFixture(t)
	f.put(t, `{"n":1}`)
	eventually(t, "first replication", func() bool { _, d := f.b.counts(); return d == 1 })
	// The primary accepted an event, then was cut before replicating it.
	f.a.down.Store(true)
	f.ep.queues["us-east-1"].push(pending{env: event.Envelope{ID: "at-risk"}, acceptedAt: time.Now()})
	time.Sleep(100 * time.Millisecond)
	if _, d := f.b.counts(); d != 1 || f.ep.Pending()["us-east-1"] != 1 {
		t.Fatalf("delivered %d, pending %v while the source is cut; want 1 delivered and 1 waiting", d, f.ep.Pending())
	}
	f.a.down.Store(false)
	eventually(t, "the held replication", func() bool { _, d := f.b.counts(); return d == 2 })
}

func TestBatchLimitAndOtherOperations(t *testing.T) {
	f := newFixture(t)
	_, err := f.client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: entries(strings.Split(strings.Repeat("{},", 11), ",")[:11]...)})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" {
		t.Errorf("11 entries: err = %v, want ValidationException", err)
	}
	resp, err := http.Post(f.ep.URL, "application/x-amz-json-1.1", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Errorf("no target: HTTP %d %s, want 400 UnknownOperationException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

func TestReplicationGivenUpAfterTheManagedRulesMaxAge(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.ReplicationMaxAge = 150 * time.Millisecond })
	f.b.down.Store(true) // the destination refuses every delivery
	f.put(t, `{"n":1}`)
	eventually(t, "the replication to expire", func() bool { return f.ep.Counts().Expired == 1 })
	if p := f.ep.Pending()["us-east-1"]; p != 0 {
		t.Errorf("pending %d after expiry, want 0", p)
	}
	f.b.down.Store(false)
	f.put(t, `{"n":2}`)
	eventually(t, "the next replication", func() bool { _, d := f.b.counts(); return d == 1 })
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.replicas[len(f.replicas)-1]
	if r.FirstAttempt.IsZero() || r.FirstAttempt.Before(r.AcceptedAt) || r.At.Before(r.FirstAttempt) {
		t.Errorf("replicated %+v: want accepted ≤ first attempt ≤ delivered", r)
	}
	if string(f.b.delivered[0].Detail) != `{"n":2}` {
		t.Errorf("delivered %s, want only the second event (the first expired)", f.b.delivered[0].Detail)
	}
}

// TestRefusedReplicationsAreEachAttempted: while the destination refuses,
// every due event counts as attempted, not only the one at the head of the
// queue, as EventBridge invokes each on its own; so none reports a first
// attempt as late as the recovery (the source region's latency metric).
func TestRefusedReplicationsAreEachAttempted(t *testing.T) {
	f := newFixture(t)
	f.b.down.Store(true)
	for i := range 3 {
		f.put(t, fmt.Sprintf(`{"n":%d}`, i))
	}
	time.Sleep(100 * time.Millisecond) // several retry delays
	healed := time.Now()
	f.b.down.Store(false)
	eventually(t, "the three replications", func() bool { _, d := f.b.counts(); return d == 3 })
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.replicas {
		if r.Attempts < 2 || !r.FirstAttempt.Before(healed) {
			t.Errorf("replicated %+v: want a failed first attempt during the refusal (before %s)", r, healed.Format(time.StampMilli))
		}
	}
}
