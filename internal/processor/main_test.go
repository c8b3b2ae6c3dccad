package processor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
)

// motoEndpoint is the package's moto server, started once in TestMain; each
// test creates its own table and queue in it.
var motoEndpoint string

// resources numbers the tables and queues created, so names never repeat
// within a run (-count included).
var resources atomic.Int64

// The processor's configuration in these tests. The region is not the SDK's
// default, so a test can tell it was passed through.
const (
	testRegion       = "eu-central-1"
	testService      = "tap-processor-test"
	testNamespace    = "TAP/ProcessorTest"
	testFunctionName = "tap-test-processor"
)

func TestMain(m *testing.M) {
	if os.Getenv(benchMotoEnv) != "" {
		os.Exit(serveBenchMoto()) // a benchmark's moto, out of its process (profile_test.go)
	}
	os.Exit(motoserver.RunTests(m, "processor", &motoEndpoint))
}

// awsConfig is an SDK config for endpoint (moto, a fault proxy or a closed
// port) in testRegion.
func awsConfig(t testing.TB, endpoint string, opts ...func(*config.LoadOptions) error) aws.Config {
	t.Helper()
	cfg, err := awslocal.Config(context.Background(), endpoint, testRegion, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// fastRetries is the SDK's standard retryer with attempts attempts and the
// backoff capped at 5 ms: the retry decisions are the production ones, the
// waiting is not.
func fastRetries(attempts int) func(*config.LoadOptions) error {
	return config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.MaxBackoff = 5 * time.Millisecond
		})
	})
}

// fixture is a fresh orders table and processing DLQ in moto, the processor
// configuration naming them, and clients to read them back.
type fixture struct {
	cfg   processor.Config
	ddb   *dynamodb.Client
	sqs   *sqs.Client
	store *store.Store
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureAt(t, motoEndpoint)
}

// newFixtureAt is newFixture in the moto server at endpoint.
func newFixtureAt(t testing.TB, endpoint string) *fixture {
	t.Helper()
	ctx := context.Background()
	cfg := awsConfig(t, endpoint)
	f := &fixture{ddb: dynamodb.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg)}
	name := uniqueName(t)
	if err := store.CreateTable(ctx, f.ddb, name); err != nil {
		t.Fatal(err)
	}
	q, err := f.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	f.cfg = processor.Config{
		TableName:        name,
		ProcessingDLQURL: aws.ToString(q.QueueUrl),
		ServiceName:      testService,
		MetricsNamespace: testNamespace,
		LogLevel:         slog.LevelInfo,
		Region:           testRegion,
		FunctionName:     testFunctionName,
	}
	f.store = store.New(f.ddb, name, testRegion, nil)
	return f
}

// uniqueName turns the test's name into a table and queue name (queue names
// are at most 80 characters of [A-Za-z0-9_-]).
func uniqueName(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			return r
		}
		return '-'
	}, t.Name())
	name = fmt.Sprintf("p%d-%s", resources.Add(1), name)
	if len(name) > 60 {
		name = name[:60]
	}
	return name
}

// handler builds a Handler on the fixture's clients (SQS behind strictSQS);
// deps fields that are set replace the defaults (out, when nil, is a fresh
// syncBuffer the caller does not need).
func (f *fixture) handler(t testing.TB, cfg processor.Config, deps processor.Deps) *processor.Handler {
	t.Helper()
	if deps.DynamoDB == nil {
		deps.DynamoDB = f.ddb
	}
	if deps.SQS == nil {
		deps.SQS = strictSQS{f.sqs}
	}
	if deps.Stdout == nil {
		deps.Stdout = &syncBuffer{}
	}
	h, err := processor.New(cfg, deps)
	if err != nil {
		t.Fatalf("processor.New: %v", err)
	}
	return h
}

// dlqMessages receives every message in the fixture's DLQ with all its
// attributes, keeping them invisible so each is returned once.
func (f *fixture) dlqMessages(t testing.TB) []sqstypes.Message {
	t.Helper()
	var all []sqstypes.Message
	for {
		out, err := f.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(f.cfg.ProcessingDLQURL),
			MaxNumberOfMessages:         10,
			VisibilityTimeout:           600,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(out.Messages) == 0 {
			return all
		}
		all = append(all, out.Messages...)
	}
}

// checkDLQEmpty fails the test if anything was dead-lettered.
func (f *fixture) checkDLQEmpty(t testing.TB) {
	t.Helper()
	if msgs := f.dlqMessages(t); len(msgs) != 0 {
		t.Errorf("processing DLQ holds %d messages, want none; first: %s %v", len(msgs), aws.ToString(msgs[0].Body), attrs(msgs[0]))
	}
}

// checkNoOrder fails the test if the order has a state or an execution.
func (f *fixture) checkNoOrder(t testing.TB, orderID string) {
	t.Helper()
	if o, err := f.store.GetOrder(context.Background(), orderID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOrder(%s) = %+v, %v; want ErrNotFound", orderID, o, err)
	}
	if execs, err := f.store.Executions(context.Background(), orderID); err != nil || len(execs) != 0 {
		t.Errorf("Executions(%s) = %d items, %v; want none", orderID, len(execs), err)
	}
}

// checkOrder asserts the order has exactly the executions events (one per
// seq, same content, recorded in testRegion) and the state of want. It only
// reports with t.Errorf, so goroutines may call it.
func (f *fixture) checkOrder(t testing.TB, events []event.ExecutionReport, want event.ExecutionReport) {
	t.Helper()
	ctx := context.Background()
	orderID := events[0].OrderID
	execs, err := f.store.Executions(ctx, orderID)
	if err != nil {
		t.Errorf("Executions(%s): %v", orderID, err)
		return
	}
	if len(execs) != len(events) {
		t.Errorf("order %s has %d executions, want %d", orderID, len(execs), len(events))
	}
	for i := range min(len(execs), len(events)) {
		got, want := execs[i].ExecutionReport, normalized(events[i])
		if !reflect.DeepEqual(got, want) {
			t.Errorf("order %s execution %d =\n%+v\nwant\n%+v", orderID, i, got, want)
		}
		if execs[i].ProcessedRegion != testRegion {
			t.Errorf("order %s execution %d processedRegion = %q, want %q", orderID, i, execs[i].ProcessedRegion, testRegion)
		}
	}
	got, err := f.store.GetOrder(ctx, orderID)
	if err != nil {
		t.Errorf("GetOrder(%s): %v", orderID, err)
		return
	}
	if w := wantState(want); !reflect.DeepEqual(got.Business(), w) {
		t.Errorf("order %s state =\n%+v\nwant the state of seq %d\n%+v", orderID, got.Business(), want.Seq, w)
	}
	if got.ProcessedRegion != testRegion {
		t.Errorf("order %s state processedRegion = %q, want %q", orderID, got.ProcessedRegion, testRegion)
	}
}

// normalized is r as the store reads it back.
func normalized(r event.ExecutionReport) event.ExecutionReport {
	r.TransactTime = r.TransactTime.UTC().Round(0)
	return r
}

// wantState is the state an order must have when r is its highest applied
// event, without write metadata.
func wantState(r event.ExecutionReport) store.OrderState {
	return store.OrderState{
		OrderID: r.OrderID, AccountID: r.AccountID, Symbol: r.Symbol, Side: r.Side,
		OrderQty: r.OrderQty, CumQty: r.CumQty, LeavesQty: r.LeavesQty, AvgPx: r.AvgPx,
		Price: r.Price, LastPx: r.LastPx, LastSeq: r.Seq, LastEventID: r.EventID,
		ExecType: r.ExecType, Status: r.ExecType.Status(), TransactTime: r.TransactTime.UTC().Round(0),
	}
}

// lifecycle is the first generated lifecycle of seed with at least n events.
func lifecycle(t testing.TB, seed uint64, n int) gen.Lifecycle {
	t.Helper()
	l, ok := gen.WithEvents(seed, n)
	if !ok {
		t.Fatalf("no lifecycle of seed %d has %d events", seed, n)
	}
	return l
}

// reportEvent is r as EventBridge delivers it to the processor.
func reportEvent(r event.ExecutionReport) []byte {
	return envelope(schema.DetailTypeExecutionReport, event.EncodeDetail(&r))
}

// heartbeatEvent is h as EventBridge delivers it to the processor.
func heartbeatEvent(h event.Heartbeat) []byte {
	return envelope(schema.DetailTypeHeartbeat, event.EncodeHeartbeat(h))
}

func envelope(detailType string, detail []byte) []byte {
	return event.EncodeEnvelope(event.Envelope{
		ID: uuid.NewString(), Source: schema.Source, DetailType: detailType,
		Account: awslocal.AccountID, Region: testRegion,
		Time: time.Date(2026, time.January, 5, 15, 0, 0, 0, time.UTC), Detail: detail,
	})
}

// invocation returns ctx as aws-lambda-go hands it to the handler: with the
// Lambda context (request ID) and, if header is not empty, the X-Ray trace
// header under aws-lambda-go's plain string key.
func invocation(ctx context.Context, requestID, header string) context.Context {
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID})
	if header != "" {
		// A plain string key, as aws-lambda-go's invoke loop uses: it is
		// what tracing.TraceHeader reads.
		ctx = context.WithValue(ctx, "x-amzn-trace-id", header)
	}
	return ctx
}

// attrs returns a message's string attributes.
func attrs(m sqstypes.Message) map[string]string {
	out := make(map[string]string, len(m.MessageAttributes))
	for k, v := range m.MessageAttributes {
		out[k] = aws.ToString(v.StringValue)
	}
	return out
}

// closedEndpoint is the URL of a loopback port nothing listens on: every
// connection to it is refused at once.
func closedEndpoint(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// syncBuffer is a goroutine-safe stdout: log lines and EMF documents from
// concurrent invocations land in it whole.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Len is the number of bytes written so far.
func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// String is everything written so far.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// LinesFrom returns the lines written after the first off bytes.
func (s *syncBuffer) LinesFrom(off int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	text := strings.TrimSuffix(s.b.String()[off:], "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// strictSQS checks each SendMessage the way SQS does and moto does not:
// every character of the body and of String attribute values must be one
// SQS accepts (#x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD |
// #x10000–#x10FFFF), or SQS refuses the message. Invalid UTF-8 is checked as
// the SDK sends it: its JSON encoder writes U+FFFD for each bad byte.
type strictSQS struct{ next processor.SQS }

// sqsMaxMessage is SQS's default (and long-standing) message size limit.
const sqsMaxMessage = 256 << 10

func (s strictSQS) SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if err := sqsText("message body", aws.ToString(in.MessageBody)); err != nil {
		return nil, err
	}
	size := len(aws.ToString(in.MessageBody))
	for name, v := range in.MessageAttributes {
		if err := sqsText("message attribute "+name, aws.ToString(v.StringValue)); err != nil {
			return nil, err
		}
		size += len(name) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
	}
	// SQS's message size limit counts the body and every attribute.
	if size > sqsMaxMessage {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: fmt.Sprintf("message of %d bytes is over the %d-byte limit", size, sqsMaxMessage)}
	}
	return s.next.SendMessage(ctx, in, opts...)
}

func sqsText(what, v string) error {
	for _, r := range strings.ToValidUTF8(v, "\uFFFD") {
		if r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF {
			continue
		}
		return &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: fmt.Sprintf("%s: invalid character %U", what, r)}
	}
	return nil
}
