// Package tracing traces the processor with OpenTelemetry and delivers the
// spans to AWS X-Ray as segment documents over UDP to the X-Ray daemon that
// Lambda runs when active tracing is on (DESIGN §5).
//
// Why this path: the X-Ray SDK for Go is in maintenance mode (support ends
// 2027-02-25) and AWS recommends OpenTelemetry, but the ADOT collector layer
// adds a layer, an extension process and cold-start time. So instrumentation
// is OpenTelemetry (the invocation span, and a span per AWS SDK call through
// otelaws), IDs are X-Ray compatible (the xray IDGenerator and propagator),
// and a small exporter turns each finished span into an independent X-Ray
// subsegment of Lambda's function segment and sends it as one UDP datagram to
// AWS_XRAY_DAEMON_ADDRESS. The CDK app needs only `Tracing: ACTIVE`: no
// layer, no extra environment variable.
//
// Spans are exported synchronously when they end, so nothing waits for the
// end of the invocation and a frozen or timed-out environment loses no
// finished span. Invocations Lambda did not sample (Sampled=0, or no trace
// header) create no recording span at all.
package tracing

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-sdk-go-v2/otelaws"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// scopeName is the instrumentation scope of the invocation span.
const scopeName = "github.com/tap-trading/tap/internal/tracing"

// DefaultInvocationName names the invocation subsegment, after the
// "## handler" convention of Powertools' tracers.
const DefaultInvocationName = "## handler"

// DaemonAddressEnv is the variable Lambda sets to the X-Ray daemon's address
// when active tracing is on.
const DaemonAddressEnv = "AWS_XRAY_DAEMON_ADDRESS"

// Config configures Setup.
type Config struct {
	// DaemonAddress is the X-Ray daemon's address as in AWS_XRAY_DAEMON_ADDRESS:
	// "host:port", or "udp:host:port tcp:host:port". Default: empty, which
	// disables tracing — every method becomes a no-op.
	DaemonAddress string
	// InvocationName names the invocation subsegment. Default: DefaultInvocationName.
	InvocationName string
	// OnError receives export failures (a send error, a segment that cannot be
	// encoded). They never fail the invocation: a lost trace is not worth a
	// retried event. Default: discard them.
	OnError func(error)
}

// ConfigFromEnv reads the daemon address from getenv (os.Getenv in main).
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{DaemonAddress: getenv(DaemonAddressEnv)}
}

// Tracer creates the invocation span and instruments AWS SDK clients. The
// zero value, and the Tracer of a Config without a daemon address, is
// disabled.
type Tracer struct {
	tp     *sdktrace.TracerProvider // nil when disabled
	tracer trace.Tracer
	name   string
}

// Setup builds the tracer: it opens the UDP socket to the daemon (no packet
// is sent) and creates the tracer provider. It makes no network call.
func Setup(cfg Config) (*Tracer, error) {
	if cfg.DaemonAddress == "" {
		return &Tracer{}, nil
	}
	addr, err := parseDaemonAddress(cfg.DaemonAddress)
	if err != nil {
		return nil, err
	}
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("tracing: X-Ray daemon %s: %w", addr, err)
	}
	name := cfg.InvocationName
	if name == "" {
		name = DefaultInvocationName
	}
	tp := sdktrace.NewTracerProvider(
		// Only Lambda's sampling decision counts: a span with no sampled
		// parent (an SDK call outside an invocation) is never recorded.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())),
		sdktrace.WithIDGenerator(xray.NewIDGenerator()),
		// An empty resource skips host and process detection at init: X-Ray
		// segments do not carry OpenTelemetry resources.
		sdktrace.WithResource(resource.Empty()),
		// Synchronous: one local UDP datagram per span as it ends.
		sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(newDaemonExporter(conn, cfg.OnError))),
	)
	return &Tracer{tp: tp, tracer: tp.Tracer(scopeName), name: name}, nil
}

// Enabled reports whether spans can be recorded (a daemon address was given).
func (t *Tracer) Enabled() bool { return t != nil && t.tp != nil }

// Instrument adds a span per AWS SDK call to every client created from cfg
// afterwards: otelaws's middleware, the xray propagator (so the call carries
// X-Amzn-Trace-Id downstream), and the retry count and error code the
// segment needs. A disabled Tracer leaves cfg unchanged.
func (t *Tracer) Instrument(cfg *aws.Config) {
	if !t.Enabled() {
		return
	}
	otelaws.AppendMiddlewares(&cfg.APIOptions,
		otelaws.WithTracerProvider(t.tp),
		otelaws.WithTextMapPropagator(xray.Propagator{}))
	// After otelaws's, so it runs inside the call's span.
	cfg.APIOptions = append(cfg.APIOptions, addCallDetails)
}

// StartInvocation starts the invocation span as a child of the Lambda
// function segment named by traceHeader (the _X_AMZN_TRACE_ID value, see
// TraceHeader). Pass the returned context to every SDK call of the
// invocation and call end when it is over. When tracing is disabled, the
// header is missing or malformed, or Lambda did not sample the invocation,
// no span is created and end does nothing.
func (t *Tracer) StartInvocation(ctx context.Context, traceHeader string) (context.Context, func()) {
	if !t.Enabled() || traceHeader == "" {
		return ctx, noop
	}
	// Carry the remote parent even when it is not sampled, so SDK calls
	// propagate Lambda's decision downstream.
	ctx = xray.Propagator{}.Extract(ctx, headerCarrier(traceHeader))
	if !trace.SpanContextFromContext(ctx).IsSampled() {
		return ctx, noop
	}
	ctx, span := t.tracer.Start(ctx, t.name)
	return ctx, func() { span.End() }
}

func noop() {}

// Annotation attribute keys; the exporter writes attributes with this
// prefix as X-Ray annotations, which X-Ray indexes for filter expressions.
const (
	annotationPrefix = "annotation."
	annotationOrder  = attribute.Key(annotationPrefix + "orderId")
	annotationEvent  = attribute.Key(annotationPrefix + "eventId")
	annotationResult = attribute.Key(annotationPrefix + "outcome")
)

// Annotate sets the orderId, eventId and outcome annotations on the span in
// ctx (the invocation span). Empty values are skipped, so it can be called
// once after decoding and again with the outcome.
func Annotate(ctx context.Context, orderID, eventID, outcome string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	for _, a := range [...]struct {
		key attribute.Key
		val string
	}{{annotationOrder, orderID}, {annotationEvent, eventID}, {annotationResult, outcome}} {
		if a.val != "" {
			span.SetAttributes(a.key.String(a.val))
		}
	}
}

// RecordFailure marks the span in ctx as failed with err: its segment gets
// fault set and err's message as the cause. Use it when the invocation
// returns an error (a transient failure Lambda will retry).
func RecordFailure(ctx context.Context, err error) {
	span := trace.SpanFromContext(ctx)
	if err == nil || !span.IsRecording() {
		return
	}
	span.SetStatus(codes.Error, err.Error())
	span.SetAttributes(attribute.String("error.type", fmt.Sprintf("%T", err)))
}

// Flush exports every finished span. Spans are already sent as they end;
// call it at the end of each invocation anyway, before Lambda can freeze the
// environment, so a future batching processor loses nothing.
func (t *Tracer) Flush(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.tp.ForceFlush(ctx)
}

// Shutdown flushes and closes the daemon socket.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// lambdaTraceKey is the context key under which aws-lambda-go stores the
// invocation's Lambda-Runtime-Trace-Id header (a plain string key there).
const lambdaTraceKey = "x-amzn-trace-id"

// TraceHeader returns the invocation's X-Ray trace header from the context
// aws-lambda-go passes to the handler, or "" if there is none. It reads the
// context rather than _X_AMZN_TRACE_ID because the runtime only sets the
// variable when it runs one invocation at a time.
func TraceHeader(ctx context.Context) string {
	h, _ := ctx.Value(lambdaTraceKey).(string)
	return h
}

// RootTraceID returns the Root field of an X-Ray trace header
// ("1-5759e988-bd862e3fe1be46a994272793"), the xray_trace_id of log lines,
// or "" if it has none.
func RootTraceID(header string) string {
	for part := range strings.SplitSeq(header, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "Root="); ok {
			return v
		}
	}
	return ""
}

// headerCarrier presents one X-Amzn-Trace-Id value to the propagator without
// building a map.
type headerCarrier string

func (h headerCarrier) Get(key string) string {
	if strings.EqualFold(key, "X-Amzn-Trace-Id") {
		return string(h)
	}
	return ""
}
func (headerCarrier) Set(string, string) {}
func (headerCarrier) Keys() []string     { return []string{"X-Amzn-Trace-Id"} }

// parseDaemonAddress returns the UDP address in an AWS_XRAY_DAEMON_ADDRESS
// value: "host:port" (both protocols) or "tcp:host:port udp:host:port" in
// either order.
func parseDaemonAddress(s string) (string, error) {
	fields := strings.Fields(s)
	var udp string
	switch len(fields) {
	case 1:
		udp = fields[0]
		if strings.HasPrefix(udp, "udp:") || strings.HasPrefix(udp, "tcp:") {
			return "", fmt.Errorf("tracing: %s %q: a prefixed address needs both udp: and tcp: parts", DaemonAddressEnv, s)
		}
	case 2:
		var tcp string
		for _, f := range fields {
			if v, ok := strings.CutPrefix(f, "udp:"); ok {
				udp = v
			} else if v, ok := strings.CutPrefix(f, "tcp:"); ok {
				tcp = v
			}
		}
		if udp == "" || tcp == "" {
			return "", fmt.Errorf("tracing: %s %q: want \"udp:host:port tcp:host:port\"", DaemonAddressEnv, s)
		}
	default:
		return "", fmt.Errorf("tracing: %s %q: want \"host:port\" or \"udp:host:port tcp:host:port\"", DaemonAddressEnv, s)
	}
	host, port, err := net.SplitHostPort(udp)
	if err != nil {
		return "", fmt.Errorf("tracing: %s %q: %w", DaemonAddressEnv, s, err)
	}
	if host == "" || port == "" || strings.Trim(port, "0123456789") != "" {
		return "", fmt.Errorf("tracing: %s %q: want host:port with a numeric port", DaemonAddressEnv, s)
	}
	return udp, nil
}

// Sampled reports whether ctx carries a recording span: the invocation is
// one Lambda sampled, and StartInvocation started its span.
func Sampled(ctx context.Context) bool { return trace.SpanFromContext(ctx).IsRecording() }
