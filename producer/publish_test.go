package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
)

// fakeAPI answers PutEvents from a script: fail(call, entry detail) returns
// the error code an entry gets on a call ("" accepts it).
type fakeAPI struct {
	mu      sync.Mutex
	calls   []*eventbridge.PutEventsInput
	callErr func(call int) error
	fail    func(call int, detail string) string
}

func (f *fakeAPI) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := len(f.calls)
	f.calls = append(f.calls, in)
	if f.callErr != nil {
		if err := f.callErr(call); err != nil {
			return nil, err
		}
	}
	out := &eventbridge.PutEventsOutput{}
	for _, e := range in.Entries {
		code := ""
		if f.fail != nil {
			code = f.fail(call, aws.ToString(e.Detail))
		}
		if code == "" {
			out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String("id-" + aws.ToString(e.Detail))})
			continue
		}
		out.FailedEntryCount++
		out.Entries = append(out.Entries, types.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String(code + " message")})
	}
	return out, nil
}

func entries(n int) []types.PutEventsRequestEntry {
	es := make([]types.PutEventsRequestEntry, n)
	for i := range es {
		es[i] = types.PutEventsRequestEntry{
			Source: aws.String("tap.trading"), DetailType: aws.String("ExecutionReport"),
			Detail: aws.String(fmt.Sprintf("%d", i)), EventBusName: aws.String("bus"),
		}
	}
	return es
}

func noSleep(context.Context, time.Duration) error { return nil }

func TestPublishBatchesOfTen(t *testing.T) {
	api := &fakeAPI{}
	sum, err := New(api, Options{Sleep: noSleep}).Publish(context.Background(), entries(25), nil)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, c := range api.calls {
		sizes = append(sizes, len(c.Entries))
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Errorf("call sizes = %v, want [10 10 5]", sizes)
	}
	if sum.Accepted != 25 || sum.NotAccepted() != 0 || sum.Calls != 3 {
		t.Errorf("summary = %+v, want 25 accepted in 3 calls", sum)
	}
}

func TestBatchesSplitOnBytes(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	es := entries(4)
	for i := range es {
		es[i].Detail = aws.String(big)
	}
	got := Batches(es)
	if fmt.Sprint(got) != "[[0 1] [2 3]]" {
		t.Errorf("Batches of four 100 KiB entries = %v, want [[0 1] [2 3]]", got)
	}
}

func TestPublishRetriesOnlyFailedEntries(t *testing.T) {
	api := &fakeAPI{fail: func(call int, detail string) string {
		if call == 0 && (detail == "2" || detail == "5") {
			return "ThrottlingException"
		}
		return ""
	}}
	var observed []EntryResult
	sum, err := New(api, Options{Sleep: noSleep}).Publish(context.Background(), entries(8), func(r EntryResult) { observed = append(observed, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(api.calls) != 2 {
		t.Fatalf("calls = %d, want 2 (one retry)", len(api.calls))
	}
	var retried []string
	for _, e := range api.calls[1].Entries {
		retried = append(retried, aws.ToString(e.Detail))
	}
	if fmt.Sprint(retried) != "[2 5]" {
		t.Errorf("retried entries = %v, want [2 5]", retried)
	}
	if sum.Accepted != 8 || len(sum.Failed) != 0 {
		t.Errorf("summary = %+v, want 8 accepted", sum)
	}
	if len(observed) != 8 {
		t.Errorf("observed %d results, want 8", len(observed))
	}
	for _, r := range observed {
		want := 1
		if r.Index == 2 || r.Index == 5 {
			want = 2
		}
		if r.Attempts != want || !r.Accepted() {
			t.Errorf("entry %d: attempts %d accepted %v, want %d and true", r.Index, r.Attempts, r.Accepted(), want)
		}
	}
}

func TestPublishGivesUpAfterMaxAttempts(t *testing.T) {
	api := &fakeAPI{fail: func(_ int, detail string) string {
		switch detail {
		case "1":
			return "InternalFailure"
		case "3":
			return "MalformedDetail"
		}
		return ""
	}}
	sum, err := New(api, Options{Sleep: noSleep, MaxAttempts: 3}).Publish(context.Background(), entries(4), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Accepted != 2 || len(sum.Failed) != 2 {
		t.Fatalf("summary = %+v, want 2 accepted and 2 failed", sum)
	}
	got := sum.Failed
	if got[0].Index != 1 || got[0].ErrorCode != "InternalFailure" || got[0].Attempts != 3 {
		t.Errorf("failed[0] = %+v, want entry 1, InternalFailure after 3 attempts", got[0])
	}
	if got[1].Index != 3 || got[1].ErrorCode != "MalformedDetail" || got[1].Attempts != 1 {
		t.Errorf("failed[1] = %+v, want entry 3, MalformedDetail after 1 attempt (permanent)", got[1])
	}
}

func TestPublishStopsOnPermanentCallError(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform events:PutEvents"}
	api := &fakeAPI{callErr: func(call int) error {
		if call == 1 {
			return denied
		}
		return nil
	}}
	sum, err := New(api, Options{Sleep: noSleep}).Publish(context.Background(), entries(30), nil)
	if !errors.Is(err, denied) && !strings.Contains(fmt.Sprint(err), "AccessDenied") {
		t.Fatalf("Publish error = %v, want the AccessDenied error", err)
	}
	if sum.Accepted != 10 || sum.Unsent != 20 {
		t.Errorf("summary = %+v, want 10 accepted (first call) and 20 unsent", sum)
	}
}

func TestPublishRetriesRetryableCallError(t *testing.T) {
	throttled := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "rate exceeded"}
	api := &fakeAPI{callErr: func(call int) error {
		if call == 0 {
			return throttled
		}
		return nil
	}}
	sum, err := New(api, Options{Sleep: noSleep}).Publish(context.Background(), entries(3), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Accepted != 3 || sum.Calls != 2 {
		t.Errorf("summary = %+v, want 3 accepted in 2 calls", sum)
	}
}

func TestPublishSetsEndpointID(t *testing.T) {
	api := &fakeAPI{}
	if _, err := New(api, Options{EndpointID: "abc.xyz"}).Publish(context.Background(), entries(1), nil); err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(api.calls[0].EndpointId); got != "abc.xyz" {
		t.Errorf("EndpointId = %q, want abc.xyz", got)
	}
}

func TestPublishConcurrentSettlesEveryEntryOnce(t *testing.T) {
	api := &fakeAPI{fail: func(call int, detail string) string {
		if call%3 == 0 && detail[len(detail)-1] == '7' {
			return "ThrottlingException"
		}
		return ""
	}}
	seen := map[int]int{}
	sum, err := New(api, Options{Sleep: noSleep, Concurrency: 4}).Publish(context.Background(), entries(200), func(r EntryResult) { seen[r.Index]++ })
	if err != nil {
		t.Fatal(err)
	}
	if sum.Accepted != 200 || len(seen) != 200 {
		t.Fatalf("accepted %d, observed %d distinct entries, want 200 and 200", sum.Accepted, len(seen))
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("entry %d observed %d times, want once", i, n)
		}
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	for _, tc := range []struct {
		try      int
		min, max time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 200 * time.Millisecond, 400 * time.Millisecond},
		{10, 500 * time.Millisecond, time.Second},
	} {
		if got := backoff(100*time.Millisecond, time.Second, tc.try); got < tc.min || got > tc.max {
			t.Errorf("backoff(%d) = %v, want within [%v, %v]", tc.try, got, tc.min, tc.max)
		}
	}
}

// With RetryFor, a refused entry is retried past MaxAttempts until the time
// is up, as through a failover, and then fails with its last error; one
// accepted within the time is accepted. The clock moves only by the sleeps.
func TestPublishRetriesForATime(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sleep := func(_ context.Context, d time.Duration) error { mu.Lock(); now = now.Add(d); mu.Unlock(); return nil }
	start := clock()
	// Entry 0 is refused for the first 20 s (the endpoint failing over),
	// entry 1 always.
	api := &fakeAPI{fail: func(_ int, detail string) string {
		if detail == "1" || clock().Sub(start) < 20*time.Second {
			return "InternalFailure"
		}
		return ""
	}}
	p := New(api, Options{Sleep: sleep, Now: clock, MaxAttempts: 2, RetryFor: 30 * time.Second, Backoff: time.Second, MaxBackoff: 4 * time.Second})
	sum, err := p.Publish(context.Background(), entries(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Accepted != 1 || len(sum.Failed) != 1 || sum.Failed[0].Index != 1 || sum.Failed[0].ErrorCode != "InternalFailure" {
		t.Fatalf("summary = %+v, want entry 0 accepted after the failover and entry 1 failed with InternalFailure", sum)
	}
	if got := sum.Failed[0].Attempts; got <= 2 {
		t.Errorf("entry 1 failed after %d attempts, want more than MaxAttempts (time bounds it)", got)
	}
	if spent := clock().Sub(start); spent != 30*time.Second {
		t.Errorf("gave up after %s, want exactly RetryFor (30s): the last attempt at the deadline", spent)
	}
}
