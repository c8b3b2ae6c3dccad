package processor_test

import (
	"context"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/faultproxy"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
)

// conflictingWrites answers every PutItem and UpdateItem with DynamoDB's
// ReplicatedWriteConflictException — another region writing the same item
// all the time — and passes other requests on.
type conflictingWrites struct {
	next     aws.HTTPClient
	answered atomic.Int64
}

func (c *conflictingWrites) Do(req *http.Request) (*http.Response, error) {
	target := req.Header.Get("X-Amz-Target")
	if !strings.HasSuffix(target, ".PutItem") && !strings.HasSuffix(target, ".UpdateItem") {
		return c.next.Do(req)
	}
	c.answered.Add(1)
	const body = `{"__type":"com.amazonaws.dynamodb.v20120810#ReplicatedWriteConflictException",` +
		`"message":"The request was rejected because one or more items in the request are being modified by a request in another Region."}`
	return &http.Response{
		Status: "400 Bad Request", StatusCode: http.StatusBadRequest, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Content-Type": {"application/x-amz-json-1.0"},
			"X-Amz-Crc32":  {strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10)},
		},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}, nil
}

// Under strong consistency, writes the table keeps refusing — a region that
// cannot reach a quorum (server errors), or the other region writing the
// same item through every retry — are transient failures: Process returns
// an error naming the failure, dead-letters nothing, and writes nothing;
// Lambda retries, and the on-failure record that ends in the processing DLQ
// after its retries carries that error as its message. Once the table
// accepts writes, the redelivery applies the event once.
func TestProcessStrongWritesRefused(t *testing.T) {
	r := lifecycle(t, 15, 1).Events[0]
	tests := []struct {
		name string
		mode schema.Consistency
		// client builds the handler's DynamoDB client and returns how many
		// write attempts were refused.
		client   func(t *testing.T) (*dynamodb.Client, func() int64)
		attempts int64
		want     error  // wrapped in the error, or nil
		wantText string // in the error and the DLQ record's message
	}{
		{name: "quorum lost", mode: schema.Strong, client: refusedBy(faultproxy.InternalError), attempts: 2,
			want: store.ErrWriteNotAccepted, wantText: "cannot reach a quorum"},
		{name: "replicated write conflicts", mode: schema.Strong, client: conflicted, attempts: 3,
			want: store.ErrReplicatedWriteConflict, wantText: "replicated write conflict"},
		// Under eventual consistency a 500 says nothing of a quorum.
		{name: "eventual, 500s", mode: schema.Eventual, client: refusedBy(faultproxy.InternalError), attempts: 2,
			wantText: "InternalServerError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			cfg := f.cfg
			cfg.TableConsistency = tc.mode
			ddb, refused := tc.client(t)
			out := &syncBuffer{}
			h := f.handler(t, cfg, processor.Deps{DynamoDB: ddb, Now: fixedClock, Stdout: out})
			got, err := h.Process(t.Context(), reportEvent(r))
			if err == nil || got != "" {
				t.Fatalf("Process = %q, %v; want a transient error", got, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Process error %q does not wrap %v", err, tc.want)
			}
			if tc.want == nil && (errors.Is(err, store.ErrWriteNotAccepted) || errors.Is(err, store.ErrReplicatedWriteConflict)) {
				t.Errorf("Process error %q names a strong-consistency failure under eventual consistency", err)
			}
			if !strings.Contains(err.Error(), tc.wantText) || !strings.Contains(err.Error(), r.EventID) {
				t.Errorf("Process error %q, want it to name %q and the event", err, tc.wantText)
			}
			// The SDK's retries ran first: every attempt was refused.
			if n := refused(); n != tc.attempts {
				t.Errorf("%d write attempts refused, want the SDK's %d", n, tc.attempts)
			}
			if !strings.Contains(out.String(), `"level":"ERROR"`) || !strings.Contains(out.String(), tc.wantText) {
				t.Errorf("no ERROR log line naming %q:\n%s", tc.wantText, out.String())
			}
			f.checkDLQEmpty(t)
			f.checkNoOrder(t, r.OrderID)

			// What Lambda's on-failure destination then receives, after its
			// retries fail alike (the record the local invoker writes too).
			rec := lambdaFailure(t, reportEvent(r), err)
			t.Logf("processing DLQ record: %s: %s", rec.Reason, rec.Message)
			if rec.Reason != dlq.ConditionRetriesExhausted || rec.EventID != r.EventID || !strings.Contains(rec.Message, tc.wantText) {
				t.Errorf("processing DLQ record: reason %q, eventId %q, message %q; want %s for %s naming %q",
					rec.Reason, rec.EventID, rec.Message, dlq.ConditionRetriesExhausted, r.EventID, tc.wantText)
			}

			healthy := f.handler(t, cfg, processor.Deps{Now: fixedClock})
			if got, err := healthy.Process(t.Context(), reportEvent(r)); err != nil || got != processor.Applied {
				t.Fatalf("redelivery = %q, %v; want applied", got, err)
			}
			f.checkOrder(t, []event.ExecutionReport{r}, r)
		})
	}
}

// refusedBy is a client reaching moto through a fault proxy that answers
// every write with fault, retried by the SDK twice in all.
func refusedBy(fault faultproxy.Fault) func(t *testing.T) (*dynamodb.Client, func() int64) {
	return func(t *testing.T) (*dynamodb.Client, func() int64) {
		p, err := faultproxy.Start(faultproxy.Config{
			Target: motoEndpoint, Match: faultproxy.Operations("PutItem", "UpdateItem"),
			Rates: map[faultproxy.Fault]float64{fault: 1},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		ddb := dynamodb.NewFromConfig(awsConfig(t, p.URL, fastRetries(2)), store.RetryReplicatedWriteConflicts)
		return ddb, func() int64 { return int64(p.Injected()) }
	}
}

// conflicted is a client, built as cmd/processor builds it (with
// store.RetryReplicatedWriteConflicts), whose every write attempt is
// refused as a replicated write conflict; the SDK makes 3 attempts.
func conflicted(t *testing.T) (*dynamodb.Client, func() int64) {
	c := &conflictingWrites{}
	ddb := dynamodb.NewFromConfig(awsConfig(t, motoEndpoint, fastRetries(3)), store.RetryReplicatedWriteConflicts,
		func(o *dynamodb.Options) { c.next = o.HTTPClient; o.HTTPClient = c })
	return ddb, c.answered.Load
}

// lambdaFailure is the processing DLQ's record of raw after Lambda's
// retries ended with err, as dlq reads it.
func lambdaFailure(t *testing.T, raw []byte, err error) dlq.Record {
	t.Helper()
	lf := dlq.NewLambdaFailure("req-1", "arn:aws:lambda:"+testRegion+":123456789012:function:"+testFunctionName,
		dlq.ConditionRetriesExhausted, 3, raw, err, testNow)
	b, merr := json.Marshal(lf)
	if merr != nil {
		t.Fatal(merr)
	}
	return dlq.Parse(sqstypes.Message{Body: aws.String(string(b))})
}

// consistentReads counts Query calls by their ConsistentRead, and the
// writes.
type consistentReads struct {
	store.Client
	consistent, eventual, writes atomic.Int64
}

func (c *consistentReads) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if aws.ToBool(in.ConsistentRead) {
		c.consistent.Add(1)
	} else {
		c.eventual.Add(1)
	}
	return c.Client.Query(ctx, in, opts...)
}

func (c *consistentReads) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.writes.Add(1)
	return c.Client.PutItem(ctx, in, opts...)
}

func (c *consistentReads) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.writes.Add(1)
	return c.Client.UpdateItem(ctx, in, opts...)
}

// TABLE_CONSISTENCY reaches the store: with strong, a copy of an event the
// other region applied is decided by one strongly consistent Query and no
// write; a duplicate delivered directly makes its two writes and no Query
// (no repair).
func TestProcessStrongConsistency(t *testing.T) {
	const other = "us-west-2"
	f := newFixture(t)
	cfg := f.cfg
	cfg.TableConsistency = schema.Strong
	db := &consistentReads{Client: f.ddb}
	h := f.handler(t, cfg, processor.Deps{DynamoDB: db, Now: fixedClock})
	e := lifecycle(t, 16, 2).Events
	west := store.New(f.ddb, cfg.TableName, other, nil).WithConsistency(schema.Strong)
	for _, r := range e[:2] {
		if _, err := west.Apply(t.Context(), &r); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := h.Process(t.Context(), eventFrom(e[1], other)); err != nil || got != processor.Duplicate {
		t.Fatalf("Process(copy from %s) = %q, %v; want duplicate", other, got, err)
	}
	if c, ev, w := db.consistent.Load(), db.eventual.Load(), db.writes.Load(); c != 1 || ev != 0 || w != 0 {
		t.Errorf("copy of an applied event: %d consistent and %d eventual Queries, %d writes; want 1, 0, 0", c, ev, w)
	}
	if got, err := h.Process(t.Context(), reportEvent(e[0])); err != nil || got != processor.Duplicate {
		t.Fatalf("Process(seq 1 again) = %q, %v; want duplicate", got, err)
	}
	if c, w := db.consistent.Load()+db.eventual.Load(), db.writes.Load(); c != 1 || w != 2 {
		t.Errorf("after a duplicate: %d Queries, %d writes in all; want 1 (the copy's) and 2", c, w)
	}
	f.checkDLQEmpty(t)
}
