package tracing

import (
	"context"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

const (
	testRoot   = "1-5759e988-bd862e3fe1be46a994272793"
	testParent = "53995c3f42cd8ad8"
)

var (
	xrayTraceIDPattern = regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`)
	segmentIDPattern   = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

func TestParseDaemonAddress(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"169.254.79.129:2000", "169.254.79.129:2000", false},
		{"127.0.0.1:2000", "127.0.0.1:2000", false},
		{"udp:127.0.0.1:2001 tcp:127.0.0.2:2000", "127.0.0.1:2001", false},
		{"tcp:127.0.0.2:2000 udp:127.0.0.1:2001", "127.0.0.1:2001", false},
		{"localhost:2000", "localhost:2000", false},
		{"udp:127.0.0.1:2000", "", true},
		{"127.0.0.1", "", true},
		{"127.0.0.1:port", "", true},
		{":2000", "", true},
		{"udp:127.0.0.1:2000 udp:127.0.0.1:2001", "", true},
		{"a:1 b:2 c:3", "", true},
	}
	for _, tt := range tests {
		got, err := parseDaemonAddress(tt.in)
		if tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), DaemonAddressEnv) {
				t.Errorf("parseDaemonAddress(%q) = %q, %v; want an error naming %s", tt.in, got, err, DaemonAddressEnv)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseDaemonAddress(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestSetupRejectsBadAddress(t *testing.T) {
	if _, err := Setup(Config{DaemonAddress: "nonsense"}); err == nil {
		t.Error("Setup with a malformed daemon address succeeded, want an error")
	}
}

func TestRootTraceID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Root=" + testRoot + ";Parent=" + testParent + ";Sampled=1", testRoot},
		{"Parent=" + testParent + "; Root=" + testRoot + ";Sampled=0;Lineage=a87bd80c:0", testRoot},
		{"Parent=" + testParent + ";Sampled=1", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RootTraceID(tt.in); got != tt.want {
			t.Errorf("RootTraceID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTraceHeaderReadsLambdaContext(t *testing.T) {
	h := "Root=" + testRoot + ";Parent=" + testParent + ";Sampled=1"
	// aws-lambda-go stores the header under this plain string key.
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", h) //nolint:staticcheck // SA1029: mirrors aws-lambda-go
	if got := TraceHeader(ctx); got != h {
		t.Errorf("TraceHeader() = %q, want %q", got, h)
	}
	if got := TraceHeader(context.Background()); got != "" {
		t.Errorf("TraceHeader(no header) = %q, want empty", got)
	}
}

func TestDisabledTracerIsNoOp(t *testing.T) {
	for _, tr := range []*Tracer{mustSetup(t, Config{}), {}} {
		if tr.Enabled() {
			t.Fatal("Enabled() = true without a daemon address")
		}
		var cfg aws.Config
		tr.Instrument(&cfg)
		if len(cfg.APIOptions) != 0 {
			t.Errorf("Instrument added %d API options on a disabled tracer, want 0", len(cfg.APIOptions))
		}
		ctx := context.Background()
		got, end := tr.StartInvocation(ctx, "Root="+testRoot+";Parent="+testParent+";Sampled=1")
		end()
		if got != ctx {
			t.Error("StartInvocation on a disabled tracer returned a new context")
		}
		if err := tr.Flush(ctx); err != nil {
			t.Errorf("Flush() = %v, want nil", err)
		}
	}
}

func mustSetup(t *testing.T, cfg Config) *Tracer {
	t.Helper()
	tr, err := Setup(cfg)
	if err != nil {
		t.Fatalf("Setup(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() { tr.Shutdown(context.Background()) })
	return tr
}

// spanStub builds a finished span of trace testRoot, child of parent.
func spanStub(name string, parent string, status codes.Code, desc string, attrs ...attribute.KeyValue) sdktrace.ReadOnlySpan {
	tid, _ := trace.TraceIDFromHex("5759e988bd862e3fe1be46a994272793")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	stub := tracetest.SpanStub{
		Name:        name,
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}),
		StartTime:   time.Unix(1700000000, 250_000_000),
		EndTime:     time.Unix(1700000000, 750_500_000),
		Attributes:  attrs,
		Status:      sdktrace.Status{Code: status, Description: desc},
	}
	if parent != "" {
		pid, _ := trace.SpanIDFromHex(parent)
		stub.Parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: pid, TraceFlags: trace.FlagsSampled, Remote: true})
	}
	return stub.Snapshot()
}

func awsAttrs(method string, status int, extra ...attribute.KeyValue) []attribute.KeyValue {
	a := []attribute.KeyValue{
		semconv.RPCSystemNameKey.String("aws-api"),
		semconv.RPCMethodKey.String(method),
		attribute.String("aws.region", "eu-west-1"),
		attribute.String("aws.request_id", "REQ1"),
	}
	if status > 0 {
		a = append(a, semconv.HTTPResponseStatusCode(status))
	}
	return append(a, extra...)
}

func TestToSegmentFlags(t *testing.T) {
	tests := []struct {
		name                         string
		status                       codes.Code
		attrs                        []attribute.KeyValue
		wantError, wantFault, wantTh bool
		wantCauseType                string
	}{
		{"ok", codes.Unset, awsAttrs("DynamoDB/PutItem", 200), false, false, false, ""},
		{"condition failed 400", codes.Error,
			awsAttrs("DynamoDB/PutItem", 400, attrErrorCode.String("ConditionalCheckFailedException")),
			true, false, false, "ConditionalCheckFailedException"},
		{"throttled 400", codes.Error,
			awsAttrs("DynamoDB/PutItem", 400, attrErrorCode.String("ProvisionedThroughputExceededException"), attrAttempts.Int(3)),
			true, false, true, "ProvisionedThroughputExceededException"},
		{"429", codes.Error, awsAttrs("SQS/SendMessage", 429), true, false, true, ""},
		{"500", codes.Error, awsAttrs("DynamoDB/UpdateItem", 500, attrErrorCode.String("InternalServerError")), false, true, false, "InternalServerError"},
		{"connection dropped", codes.Error, awsAttrs("DynamoDB/UpdateItem", 0, semconv.ErrorTypeKey.String("*smithy.OperationError")),
			false, true, false, "*smithy.OperationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seg := toSegment(spanStub("X.Y", testParent, tt.status, "boom", tt.attrs...))
			if seg.Error != tt.wantError || seg.Fault != tt.wantFault || seg.Throttle != tt.wantTh {
				t.Errorf("error/fault/throttle = %v/%v/%v, want %v/%v/%v",
					seg.Error, seg.Fault, seg.Throttle, tt.wantError, tt.wantFault, tt.wantTh)
			}
			if tt.status != codes.Error {
				if seg.Cause != nil {
					t.Errorf("cause = %+v on a successful call, want none", seg.Cause)
				}
				return
			}
			if seg.Cause == nil || len(seg.Cause.Exceptions) != 1 {
				t.Fatalf("cause = %+v, want one exception", seg.Cause)
			}
			ex := seg.Cause.Exceptions[0]
			if ex.Message != "boom" || ex.Type != tt.wantCauseType || !segmentIDPattern.MatchString(ex.ID) {
				t.Errorf("exception = %+v, want message boom, type %q and a 16-hex id", ex, tt.wantCauseType)
			}
		})
	}
}

func TestToSegmentAWSCall(t *testing.T) {
	tests := []struct {
		name  string
		attrs []attribute.KeyValue
		want  awsData
		name2 string
	}{
		{"dynamodb", awsAttrs("DynamoDB/PutItem", 200, semconv.AWSDynamoDBTableNames("tap-dev-orders"), attrAttempts.Int(3)),
			awsData{Operation: "PutItem", Region: "eu-west-1", RequestID: "REQ1", TableName: "tap-dev-orders", Retries: 2}, "DynamoDB"},
		{"sqs", awsAttrs("SQS/SendMessage", 200, semconv.ServerAddress("https://sqs.eu-west-1.amazonaws.com/1/q"), attrAttempts.Int(1)),
			awsData{Operation: "SendMessage", Region: "eu-west-1", RequestID: "REQ1", QueueURL: "https://sqs.eu-west-1.amazonaws.com/1/q"}, "SQS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seg := toSegment(spanStub("ignored.Name", testParent, codes.Unset, "", tt.attrs...))
			if seg.Name != tt.name2 || seg.Namespace != "aws" || seg.AWS == nil || *seg.AWS != tt.want {
				t.Errorf("segment %q ns %q aws %+v, want %q ns aws, %+v", seg.Name, seg.Namespace, seg.AWS, tt.name2, tt.want)
			}
			if seg.HTTP == nil || seg.HTTP.Response.Status != 200 {
				t.Errorf("http = %+v, want response status 200", seg.HTTP)
			}
		})
	}
}

func TestToSegmentCommonFields(t *testing.T) {
	seg := toSegment(spanStub("## handler", testParent, codes.Unset, "",
		annotationOrder.String("O-1"), annotationEvent.String("E-1"), annotationResult.String("applied"),
		attribute.String("unrelated", "x")))
	if seg.TraceID != testRoot || seg.ParentID != testParent || seg.Type != "subsegment" || seg.ID != "00f067aa0ba902b7" {
		t.Errorf("ids: trace %q parent %q type %q id %q; want %q %q subsegment 00f067aa0ba902b7",
			seg.TraceID, seg.ParentID, seg.Type, seg.ID, testRoot, testParent)
	}
	if math.Abs(seg.StartTime-1700000000.25) > 1e-6 || math.Abs(seg.EndTime-1700000000.7505) > 1e-6 {
		t.Errorf("start/end = %f/%f, want 1700000000.250000/1700000000.750500", seg.StartTime, seg.EndTime)
	}
	if seg.Name != "## handler" || seg.Namespace != "" || seg.AWS != nil {
		t.Errorf("name %q namespace %q aws %+v; want ## handler, no namespace, no aws", seg.Name, seg.Namespace, seg.AWS)
	}
	want := map[string]string{"orderId": "O-1", "eventId": "E-1", "outcome": "applied"}
	if len(seg.Annotations) != len(want) {
		t.Errorf("annotations = %v, want %v", seg.Annotations, want)
	}
	for k, v := range want {
		if seg.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, seg.Annotations[k], v)
		}
	}
	root := toSegment(spanStub("root", "", codes.Unset, ""))
	if root.Type != "" || root.ParentID != "" {
		t.Errorf("span without parent: type %q parent %q, want a plain segment", root.Type, root.ParentID)
	}
}

func TestSanitizeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"## handler", "## handler"},
		{"DynamoDB", "DynamoDB"},
		{"a<b>c!", "a_b_c_"},
		{"", "unnamed"},
		{strings.Repeat("é", 250), strings.Repeat("é", 200)},
	}
	for _, tt := range tests {
		if got := sanitizeName(tt.in); got != tt.want {
			t.Errorf("sanitizeName(%.20q) = %.20q, want %.20q", tt.in, got, tt.want)
		}
	}
}

func TestOversizeSegmentStillFitsADatagram(t *testing.T) {
	d := startDaemon(t)
	var reported []error
	tr := mustSetup(t, Config{DaemonAddress: d.addr(), OnError: func(err error) { reported = append(reported, err) }})
	ctx, end := tr.StartInvocation(context.Background(), "Root="+testRoot+";Parent="+testParent+";Sampled=1")
	RecordFailure(ctx, errors.New(strings.Repeat("x", 200_000)))
	Annotate(ctx, strings.Repeat("o", 5000), "E-1", "")
	end()
	got := d.next(t)
	if got.size > MaxDatagram {
		t.Errorf("datagram is %d bytes, want at most %d", got.size, MaxDatagram)
	}
	if got.segment["fault"] != true {
		t.Errorf("fault = %v, want true", got.segment["fault"])
	}
	ann := obj(got.segment, "annotations")
	if o := str(t, ann, "orderId"); len(o) != maxStringLen {
		t.Errorf("orderId annotation is %d bytes, want cut to %d", len(o), maxStringLen)
	}
	if _, ok := ann["outcome"]; ok {
		t.Errorf("empty outcome was annotated: %v", ann)
	}
	if len(reported) != 0 {
		t.Errorf("OnError got %v, want nothing", reported)
	}
}

func TestSendErrorsGoToOnError(t *testing.T) {
	d := startDaemon(t)
	addr := d.addr()
	var reported []error
	tr := mustSetup(t, Config{DaemonAddress: addr, OnError: func(err error) { reported = append(reported, err) }})
	d.conn.Close() // nobody listens: loopback sends fail with ECONNREFUSED
	for range 3 {
		_, end := tr.StartInvocation(context.Background(), "Root="+testRoot+";Parent="+testParent+";Sampled=1")
		end()
	}
	if len(reported) == 0 {
		t.Fatal("no error reported after sending to a closed port")
	}
	if !strings.Contains(reported[len(reported)-1].Error(), "## handler") {
		t.Errorf("error %q should name the span", reported[len(reported)-1])
	}
}
