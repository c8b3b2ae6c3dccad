package store

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/schema"
)

// A table with multi-Region strong consistency, as the store tests model it:
// both regions' Stores write the one moto table, whose DynamoDB requests the
// test server runs one at a time (internal/motoserver), so every conditional
// write is evaluated against the item's latest version, as MRSC evaluates it
// in every region. What moto lacks is the refusal of concurrent writes from
// two regions: an arbiter decides, at each attempt of a write, whether the
// table answers ReplicatedWriteConflictException instead.

// arbiter decides which write attempts a table with multi-Region strong
// consistency refuses with ReplicatedWriteConflictException.
type arbiter interface {
	// begin is called at each attempt of a write to the item key from
	// region (attempt counts from 1 within one call); it reports whether
	// the attempt is refused. An attempt that is not refused is sent, and
	// end is called once its response is back.
	begin(region, key string, attempt int) (refused bool)
	end(region, key string)
}

// conflictingClient is a region's client of the table: its writes go
// through arb below the SDK's retryer, so a refused attempt is an HTTP
// response the SDK parses and (with RetryReplicatedWriteConflicts) retries,
// like DynamoDB's.
type conflictingClient struct {
	Client
	region string
	arb    arbiter
	// retried counts write calls that reached the table after at least
	// one refused attempt: the retryer got them through.
	retried atomic.Int64
}

func (c *conflictingClient) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return c.Client.PutItem(ctx, in, append(opts, c.through(itemKey(in.Item)))...)
}

func (c *conflictingClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return c.Client.UpdateItem(ctx, in, append(opts, c.through(itemKey(in.Key)))...)
}

// through routes one write call's HTTP attempts through the arbiter.
func (c *conflictingClient) through(key string) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.HTTPClient = &arbitrated{next: o.HTTPClient, c: c, key: key}
	}
}

// arbitrated is the HTTP client of one write call.
type arbitrated struct {
	next     aws.HTTPClient
	c        *conflictingClient
	key      string
	attempts int
	refused  bool
}

func (a *arbitrated) Do(req *http.Request) (*http.Response, error) {
	a.attempts++
	if a.c.arb.begin(a.c.region, a.key, a.attempts) {
		a.refused = true
		return conflictResponse(req), nil
	}
	defer a.c.arb.end(a.c.region, a.key)
	resp, err := a.next.Do(req)
	if err == nil && a.refused {
		a.refused = false
		a.c.retried.Add(1)
	}
	return resp, err
}

// conflictResponse is DynamoDB's answer to a write refused for a concurrent
// write from another region: HTTP 400, the error type in the JSON body.
func conflictResponse(req *http.Request) *http.Response {
	const body = `{"__type":"com.amazonaws.dynamodb.v20120810#ReplicatedWriteConflictException",` +
		`"message":"The request was rejected because one or more items in the request are being modified by a request in another Region. (injected by the test)"}`
	return &http.Response{
		Status: "400 Bad Request", StatusCode: http.StatusBadRequest, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":     {"application/x-amz-json-1.0"},
			"X-Amzn-Requestid": {"injected-conflict"},
			// DynamoDB's checksum of the body, which the SDK verifies.
			"X-Amz-Crc32": {strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10)},
		},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// firstAttempts refuses the first n attempts of every write call.
type firstAttempts struct {
	n       int
	refused atomic.Int64
}

func (f *firstAttempts) begin(_, _ string, attempt int) bool {
	if attempt <= f.n {
		f.refused.Add(1)
		return true
	}
	return false
}

func (f *firstAttempts) end(_, _ string) {}

// overlapping refuses a write attempt while a write to the same item from
// the other region is in flight — MRSC's rule — and keeps each write it lets
// through in flight for hold, the time a write takes to become durable in a
// second region, so concurrent writers do overlap.
type overlapping struct {
	hold     time.Duration
	mu       sync.Mutex
	inflight map[string]map[string]int // item key → region → writes in flight
	refused  atomic.Int64
}

func newOverlapping(hold time.Duration) *overlapping {
	return &overlapping{hold: hold, inflight: map[string]map[string]int{}}
}

func (o *overlapping) begin(region, key string, _ int) bool {
	o.mu.Lock()
	for r, n := range o.inflight[key] {
		if r != region && n > 0 {
			o.mu.Unlock()
			o.refused.Add(1)
			return true
		}
	}
	if o.inflight[key] == nil {
		o.inflight[key] = map[string]int{}
	}
	o.inflight[key][region]++
	o.mu.Unlock()
	time.Sleep(o.hold)
	return false
}

func (o *overlapping) end(region, key string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.inflight[key][region]--
}

// strongClient returns a DynamoDB client for moto whose retryer retries
// ReplicatedWriteConflictException (unless plain) with the SDK's standard
// decisions, attempts attempts, and the backoff capped at 20 ms to keep the
// suite fast.
func strongClient(t testing.TB, attempts int, plain bool) *dynamodb.Client {
	t.Helper()
	cfg, err := awslocal.Config(context.Background(), motoEndpoint, testRegion, config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.MaxBackoff = 20 * time.Millisecond
		})
	}))
	if err != nil {
		t.Fatal(err)
	}
	if plain {
		return dynamodb.NewFromConfig(cfg)
	}
	return dynamodb.NewFromConfig(cfg, RetryReplicatedWriteConflicts)
}

// newStrong returns a strong-mode Store of region on table through client.
func newStrong(client Client, table, region string) *Store {
	return New(client, table, region, fixedClock(clock)).WithConsistency(schema.Strong)
}

// The retryer is what makes a refused write converge: without
// RetryReplicatedWriteConflicts the SDK gives up at the first
// ReplicatedWriteConflictException (a client fault), and Apply returns it
// named; with it, the same refusals are retried with backoff and Apply
// applies the event.
func TestReplicatedWriteConflictsAreRetried(t *testing.T) {
	table, _ := newTable(t)
	r := longLifecycle(t, 51, 2).Events[1]
	ctx := context.Background()

	plain := &conflictingClient{Client: strongClient(t, 4, true), region: "us-east-1", arb: &firstAttempts{n: 2}}
	_, err := newStrong(plain, table, plain.region).Apply(ctx, &r)
	var conflict *types.ReplicatedWriteConflictException
	if !errors.Is(err, ErrReplicatedWriteConflict) || !errors.As(err, &conflict) {
		t.Fatalf("Apply without the retry = %v; want ErrReplicatedWriteConflict around the SDK's ReplicatedWriteConflictException", err)
	}
	if !strings.Contains(err.Error(), "replicated write conflict") || !strings.Contains(err.Error(), "put execution") {
		t.Errorf("error %q does not name the conflict and the write", err)
	}
	if n := plain.arb.(*firstAttempts).refused.Load(); n != 1 {
		t.Errorf("%d attempts refused without the retry, want 1 (the SDK does not retry the error by default)", n)
	}

	arb := &firstAttempts{n: 2}
	retrying := &conflictingClient{Client: strongClient(t, 4, false), region: "us-east-1", arb: arb}
	got, err := newStrong(retrying, table, retrying.region).Apply(ctx, &r)
	if err != nil {
		t.Fatalf("Apply with the retry: %v", err)
	}
	if want := (Result{Outcome: Applied, StateApplied: true}); got != want {
		t.Errorf("Apply with the retry = %+v, want %+v", got, want)
	}
	// Two refusals for each of the two writes, each then retried to success.
	if n, c := arb.refused.Load(), retrying.retried.Load(); n != 4 || c != 2 {
		t.Errorf("%d attempts refused, %d writes converged; want 4 and 2", n, c)
	}
	checkOrder(t, New(retrying.Client, table, testRegion, nil), []event.ExecutionReport{r})

	// More refusals than attempts: the error names the conflict, and the
	// redelivery (Lambda's retry) applies the event once the writes pass.
	exhausted := &conflictingClient{Client: strongClient(t, 3, false), region: "us-west-2", arb: &firstAttempts{n: 3}}
	r2 := longLifecycle(t, 52, 1).Events[0]
	if _, err := newStrong(exhausted, table, exhausted.region).Apply(ctx, &r2); !errors.Is(err, ErrReplicatedWriteConflict) ||
		!strings.Contains(err.Error(), "exceeded maximum number of attempts") {
		t.Fatalf("Apply with the retries exhausted = %v; want ErrReplicatedWriteConflict after the SDK's attempts", err)
	}
	if got, err := newStrong(retrying, table, "us-west-2").Apply(ctx, &r2); err != nil || got.Outcome != Applied {
		t.Fatalf("redelivery = %+v, %v; want applied", got, err)
	}
}
