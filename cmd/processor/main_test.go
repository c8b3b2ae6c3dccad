package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/lambdaruntime"
	"github.com/tap-trading/tap/internal/metrics"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
	"github.com/tap-trading/tap/internal/tracing"
)

// bootstrapBin is this package built the way the CDK app ships it (for the
// host's architecture), once in TestMain.
var bootstrapBin string

// motoEndpoint is the package's moto server, started once in TestMain.
var motoEndpoint string

// resources numbers the tables and queues created, so names never repeat.
var resources atomic.Int64

const (
	testRegion       = "eu-central-1"
	testService      = "tap-processor-e2e"
	testNamespace    = "TAP/BootstrapTest"
	testFunctionName = "tap-test-processor"
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "processor-bootstrap")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bootstrapBin = filepath.Join(dir, "bootstrap")
	// Build while moto starts: both take seconds on a small machine.
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", bootstrapBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	var buildOut bytes.Buffer
	build.Stdout, build.Stderr = &buildOut, &buildOut
	if err := build.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "build bootstrap:", err)
		return 1
	}
	srv, err := motoserver.Start(context.Background(), "")
	if berr := build.Wait(); berr != nil {
		fmt.Fprintf(os.Stderr, "build bootstrap: %v\n%s", berr, buildOut.Bytes())
		if err == nil {
			srv.Stop()
		}
		return 1
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "processor bootstrap tests:", err)
		return 1
	}
	defer srv.Stop()
	motoEndpoint = srv.Endpoint
	return m.Run()
}

// awsResources is a fresh table and processing DLQ in moto, with clients to
// read them back.
type awsResources struct {
	table, queueURL string
	sqs             *sqs.Client
	store           *store.Store
}

func newResources(t *testing.T) *awsResources {
	t.Helper()
	cfg, err := awslocal.Config(t.Context(), motoEndpoint, testRegion)
	if err != nil {
		t.Fatal(err)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	name := fmt.Sprintf("b%d-%s", resources.Add(1), strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 60 {
		name = name[:60]
	}
	if err := store.CreateTable(t.Context(), ddb, name); err != nil {
		t.Fatal(err)
	}
	r := &awsResources{table: name, sqs: sqs.NewFromConfig(cfg), store: store.New(ddb, name, testRegion, nil)}
	q, err := r.sqs.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	r.queueURL = aws.ToString(q.QueueUrl)
	return r
}

// dlqMessages receives every message of the processing DLQ, once each.
func (r *awsResources) dlqMessages(t *testing.T) []sqstypes.Message {
	t.Helper()
	var all []sqstypes.Message
	for {
		out, err := r.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl:              aws.String(r.queueURL),
			MaxNumberOfMessages:   10,
			VisibilityTimeout:     600,
			MessageAttributeNames: []string{"All"},
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

// processorEnv is the environment Lambda gives the function: the runtime's
// own variables, the SDK's standard ones pointing at moto, and the function's
// configuration as the CDK app sets it; later entries of extra win.
func processorEnv(s *lambdaruntime.Server, r *awsResources, extra ...string) []string {
	env := s.Env(testFunctionName, "bootstrap", 256)
	env = append(env, awslocal.Env(motoEndpoint, testRegion)...)
	env = append(env,
		processor.EnvTableName+"="+r.table,
		processor.EnvProcessingDLQURL+"="+r.queueURL,
		processor.EnvServiceName+"="+testService,
		processor.EnvMetricsNamespace+"="+testNamespace,
		processor.EnvLogLevel+"=INFO",
	)
	return append(env, extra...)
}

// without returns env without the named variables.
func without(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || name == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

func startRuntimeAPI(t *testing.T) *lambdaruntime.Server {
	t.Helper()
	s, err := lambdaruntime.Start()
	if err != nil {
		t.Fatal(err)
	}
	s.FunctionName, s.Region = testFunctionName, testRegion
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// proc is a running bootstrap process.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	exited         chan struct{}
	err            error // Wait's result, valid once exited is closed
}

func startBootstrap(t *testing.T, env []string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bootstrapBin), stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start bootstrap: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("bootstrap stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

// running reports whether the process is still alive.
func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func invoke(t *testing.T, s *lambdaruntime.Server, payload []byte) lambdaruntime.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := s.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	return res
}

// stdoutLines waits until the process has written n lines after off bytes
// of stdout (the pipe may lag behind the invocation's result) and returns
// them parsed, failing unless every line is a JSON object.
func (p *proc) stdoutLines(t *testing.T, off, n int) (lines []map[string]any, end int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		text := p.stdout.String()[off:]
		if strings.Count(text, "\n") >= n || time.Now().After(deadline) {
			for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
				if l == "" {
					continue
				}
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("stdout line is not JSON (%v): %s", err, l)
				}
				lines = append(lines, m)
			}
			return lines, off + len(text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reportEvent is r as EventBridge delivers it.
func reportEvent(r event.ExecutionReport) []byte {
	return event.EncodeEnvelope(event.Envelope{
		ID: uuid.NewString(), Source: schema.Source, DetailType: schema.DetailTypeExecutionReport,
		Account: awslocal.AccountID, Region: testRegion, Time: r.TransactTime, Detail: event.EncodeDetail(&r),
	})
}

var traceIDPattern = regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{24}$`)

// The artifact the CDK app ships starts, handles EventBridge events the
// Lambda way, and writes its logs, metrics and traces.
func TestBootstrapHandlesEvents(t *testing.T) {
	r := newResources(t)
	s := startRuntimeAPI(t)
	s.Sampled = true
	daemon := startDaemon(t)
	// At DEBUG: an applied event's outcome line is DEBUG (at INFO it writes
	// only its EMF document), and this test reads its trace ID from it.
	p := startBootstrap(t, processorEnv(s, r, tracing.DaemonAddressEnv+"="+daemon.addr(), processor.EnvLogLevel+"=DEBUG"))

	// A valid event: success, and the order is in the table.
	e := gen.Lifecycles(41, 1, gen.Options{})[0].Events[0]
	res := invoke(t, s, reportEvent(e))
	if res.Failed() {
		t.Fatalf("valid event failed: %s: %s", res.ErrorType, res.ErrorMessage)
	}
	if string(res.Response) != "null" {
		t.Errorf("response = %q, want null (the handler returns only an error)", res.Response)
	}
	got, err := r.store.GetOrder(t.Context(), e.OrderID)
	if err != nil {
		t.Fatalf("GetOrder after the invocation: %v", err)
	}
	if got.LastEventID != e.EventID || got.LastSeq != e.Seq || got.ProcessedRegion != testRegion {
		t.Errorf("state = %+v, want event %s seq %d processed in %s", got, e.EventID, e.Seq, testRegion)
	}
	lines, off := p.stdoutLines(t, 0, 3) // the payload, the outcome, the EMF document
	logLine := checkInvocationOutput(t, "valid", lines, res.RequestID, true, metricWant{processor.Applied, metrics.EventsApplied})
	if logLine[`correlation_id`] != e.EventID || logLine[`order_id`] != e.OrderID {
		t.Errorf("log line correlation_id/order_id = %v/%v, want %s/%s", logLine["correlation_id"], logLine["order_id"], e.EventID, e.OrderID)
	}
	traceID, _ := logLine["xray_trace_id"].(string)
	if !traceIDPattern.MatchString(traceID) {
		t.Errorf("xray_trace_id = %q, want an X-Ray trace ID", traceID)
	}
	inv, calls := daemon.invocationSegments(t)
	if inv.TraceID != traceID {
		t.Errorf("invocation segment trace %s, want the logged %s", inv.TraceID, traceID)
	}
	wantAnn := map[string]string{"orderId": e.OrderID, "eventId": e.EventID, "outcome": "applied"}
	if fmt.Sprint(inv.Annotations) != fmt.Sprint(wantAnn) {
		t.Errorf("annotations = %v, want %v", inv.Annotations, wantAnn)
	}
	if want := []string{"DynamoDB PutItem", "DynamoDB UpdateItem"}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("AWS call subsegments = %v, want %v", calls, want)
	}

	// An invalid event: success too, and it is in the processing DLQ.
	bad := e
	bad.EventID = "3c9f6a2e-8b7d-4e1f-a0c2-5d4e3f2a1b0c"
	bad.Symbol = "not a symbol"
	raw := reportEvent(bad)
	res = invoke(t, s, raw)
	if res.Failed() {
		t.Fatalf("invalid event failed: %s: %s; want success (dead-lettered)", res.ErrorType, res.ErrorMessage)
	}
	lines, _ = p.stdoutLines(t, off, 3)
	checkInvocationOutput(t, "invalid", lines, res.RequestID, false, metricWant{processor.Rejected, metrics.EventsRejected})
	msgs := r.dlqMessages(t)
	if len(msgs) != 1 {
		t.Fatalf("processing DLQ holds %d messages, want 1", len(msgs))
	}
	rec := dlq.Parse(msgs[0])
	if rec.Format != dlq.FormatProcessor || rec.Reason != string(event.ReasonInvalidSymbol) || rec.EventID != bad.EventID ||
		rec.Region != testRegion || !bytes.Equal(rec.Event, raw) {
		t.Errorf("dead letter = %+v, want the event with reason %s from %s", rec, event.ReasonInvalidSymbol, testRegion)
	}
	if !p.running() {
		t.Errorf("bootstrap exited after two invocations: %v", p.err)
	}
}

// metricWant is an invocation's expected outcome and its counter.
type metricWant struct {
	outcome processor.Outcome
	counter string
}

// checkInvocationOutput asserts one invocation wrote exactly one outcome
// line (without the payload, which only a DEBUG line of its own carries),
// no other line above DEBUG, and one EMF document, and returns the outcome
// line.
func checkInvocationOutput(t *testing.T, name string, lines []map[string]any, requestID string, cold bool, want metricWant) map[string]any {
	t.Helper()
	var logs, docs []map[string]any
	for _, l := range lines {
		_, isDoc := l["_aws"]
		_, outcome := l["outcome"]
		switch {
		case isDoc:
			docs = append(docs, l)
		case outcome:
			logs = append(logs, l)
		case l["level"] != "DEBUG":
			t.Errorf("%s: a line other than the outcome above DEBUG: %v", name, l)
		}
	}
	if len(logs) != 1 || len(docs) != 1 {
		t.Fatalf("%s: %d log lines and %d EMF documents, want 1 and 1: %v", name, len(logs), len(docs), lines)
	}
	l := logs[0]
	for k, v := range map[string]any{
		"outcome": string(want.outcome), "service": testService, "cold_start": cold,
		"function_name": testFunctionName, "function_request_id": requestID,
	} {
		if l[k] != v {
			t.Errorf("%s: log %s = %v, want %v", name, k, l[k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(l["timestamp"])); err != nil {
		t.Errorf("%s: log timestamp %v: %v", name, l["timestamp"], err)
	}
	if _, ok := l["payload"]; ok {
		t.Errorf("%s: payload logged at INFO", name)
	}
	doc := docs[0]
	directives, _ := doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)
	if len(directives) != 1 {
		t.Fatalf("%s: EMF document has %d directives, want 1: %v", name, len(directives), doc)
	}
	d := directives[0].(map[string]any)
	if d["Namespace"] != testNamespace || fmt.Sprint(d["Dimensions"]) != "[[service]]" || doc["service"] != testService {
		t.Errorf("%s: EMF namespace %v dimensions %v service %v, want %s [[service]] %s", name, d["Namespace"], d["Dimensions"], doc["service"], testNamespace, testService)
	}
	for k, v := range map[string]bool{want.counter: true, metrics.ColdStart: cold, metrics.PipelineLatency: true} {
		if _, ok := doc[k]; ok != v {
			t.Errorf("%s: EMF document has %s: %v, want %v", name, k, ok, v)
		}
	}
	return l
}

// outputBudget is the most a successful applied invocation may write to
// stdout and stderr together at the deployed log level (DESIGN §5): CloudWatch
// Logs bills ingestion by the byte, on every event.
const outputBudget = 300

// An applied event, once the environment is warm, writes only its EMF
// document at INFO — at most outputBudget bytes with the deployed names of
// the longest environment name — and that document still carries the
// metrics the dashboard and the PipelineLatency alarm read.
func TestBootstrapAppliedInvocationOutputBudget(t *testing.T) {
	r := newResources(t)
	s := startRuntimeAPI(t)            // trace headers Sampled=0, as for most invocations
	n := names.For("abcdefghijklmnop") // the longest env name config accepts: 16 characters
	p := startBootstrap(t, processorEnv(s, r, processor.EnvServiceName+"="+n.ServiceName(),
		processor.EnvMetricsNamespace+"="+n.MetricsNamespace(), processor.EnvLogLevel+"=INFO"))

	events := gen.Lifecycles(44, 1, gen.Options{})[0].Events[:2]
	for i, e := range events {
		// A live event: published a moment ago, EventBridge's time to the second.
		now := time.Now()
		e.TransactTime = now.Add(-200 * time.Millisecond)
		raw := event.EncodeEnvelope(event.Envelope{
			ID: uuid.NewString(), Source: schema.Source, DetailType: schema.DetailTypeExecutionReport,
			Account: awslocal.AccountID, Region: testRegion, Time: now.Truncate(time.Second), Detail: event.EncodeDetail(&e),
		})
		outOff, errOff := len(p.stdout.String()), len(p.stderr.String())
		res := invoke(t, s, raw)
		if res.Failed() {
			t.Fatalf("event %d failed: %s: %s", i, res.ErrorType, res.ErrorMessage)
		}
		lines, _ := p.stdoutLines(t, outOff, 1)
		time.Sleep(200 * time.Millisecond) // let anything else the invocation wrote arrive
		written := p.stdout.String()[outOff:] + p.stderr.String()[errOff:]
		if i == 0 {
			continue // the cold start's document also carries ColdStart: not the steady state
		}
		t.Logf("a warm applied invocation writes %d B:\n%s", len(written), written)
		if len(written) > outputBudget {
			t.Errorf("applied invocation wrote %d B to stdout and stderr, want at most %d", len(written), outputBudget)
		}
		if len(lines) != 1 || lines[0]["_aws"] == nil || strings.Count(written, "\n") != 1 {
			t.Fatalf("applied invocation wrote %q, want one EMF document", written)
		}
		for _, m := range []string{metrics.EventsApplied, metrics.PipelineLatency} {
			if _, ok := lines[0][m].(float64); !ok {
				t.Errorf("the document has no %s: %s", m, written)
			}
		}
		if lines[0][metrics.ServiceDimension] != n.ServiceName() {
			t.Errorf("the document's %s = %v, want %s", metrics.ServiceDimension, lines[0][metrics.ServiceDimension], n.ServiceName())
		}
	}
}

// Transient failures go back to Lambda through /invocation/{id}/error, so
// Lambda retries; the environment stays up for the next event.
func TestBootstrapReportsTransientErrors(t *testing.T) {
	tests := []struct {
		name    string
		env     func(r *awsResources) []string
		wantMsg string
	}{
		{"table does not exist", func(r *awsResources) []string {
			return []string{processor.EnvTableName + "=no-such-table-" + r.table}
		}, "ResourceNotFoundException"},
		{"DynamoDB unreachable", func(*awsResources) []string {
			return []string{"AWS_ENDPOINT_URL_DYNAMODB=" + closedEndpoint(t), "AWS_MAX_ATTEMPTS=2"}
		}, "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newResources(t)
			s := startRuntimeAPI(t)
			p := startBootstrap(t, processorEnv(s, r, tc.env(r)...))
			e := gen.Lifecycles(42, 1, gen.Options{})[0].Events[0]
			off := 0
			for i := range 2 {
				res := invoke(t, s, reportEvent(e))
				if res.ErrorType == "" || !strings.Contains(res.ErrorMessage, tc.wantMsg) || res.Response != nil {
					t.Fatalf("invocation %d = type %q message %q response %q; want an error mentioning %q",
						i+1, res.ErrorType, res.ErrorMessage, res.Response, tc.wantMsg)
				}
				t.Logf("invocation %d: %s: %s", i+1, res.ErrorType, res.ErrorMessage)
				var lines []map[string]any
				lines, off = p.stdoutLines(t, off, 2)
				var errorLines int
				for _, l := range lines {
					if l["level"] == "ERROR" && l["correlation_id"] == e.EventID {
						errorLines++
					}
				}
				if errorLines != 1 {
					t.Errorf("invocation %d: %d ERROR log lines for the event, want 1: %v", i+1, errorLines, lines)
				}
			}
			if !p.running() {
				t.Errorf("bootstrap exited after a function error: %v", p.err)
			}
			if msgs := r.dlqMessages(t); len(msgs) != 0 {
				t.Errorf("a transient failure was dead-lettered: %d messages", len(msgs))
			}
		})
	}
}

// A broken configuration fails init the Lambda way: one clear message to
// /runtime/init/error and stderr, and a non-zero exit.
func TestBootstrapInitError(t *testing.T) {
	tests := []struct {
		name  string
		unset []string
		set   []string
		want  []string
	}{
		{name: "no table", unset: []string{processor.EnvTableName}, want: []string{processor.EnvTableName}},
		{name: "no queue and no service", unset: []string{processor.EnvProcessingDLQURL, processor.EnvServiceName},
			want: []string{processor.EnvProcessingDLQURL, processor.EnvServiceName}},
		{name: "no region", unset: []string{"AWS_REGION", "AWS_DEFAULT_REGION"}, want: []string{processor.EnvRegion}},
		{name: "bad log level", set: []string{processor.EnvLogLevel + "=LOUD"}, want: []string{processor.EnvLogLevel, "LOUD"}},
		{name: "bad daemon address", set: []string{tracing.DaemonAddressEnv + "=udp:127.0.0.1"}, want: []string{tracing.DaemonAddressEnv}},
		{name: "reserved namespace", set: []string{processor.EnvMetricsNamespace + "=AWS/Lambda"}, want: []string{processor.EnvMetricsNamespace}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startRuntimeAPI(t)
			r := &awsResources{table: "tap-test-orders", queueURL: motoEndpoint + "/123456789012/tap-test-processing-dlq"}
			p := startBootstrap(t, append(without(processorEnv(s, r), tc.unset...), tc.set...))
			// The report is posted before the process exits.
			select {
			case <-s.InitErrored():
			case <-p.exited:
				if s.InitError() == nil {
					t.Fatalf("bootstrap exited (%v) without reporting an init error; stderr:\n%s", p.err, p.stderr.String())
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("no init error reported within 15 s; stderr:\n%s", p.stderr.String())
			}
			ie := s.InitError()
			if ie.ErrorType != "Runtime.InitError" {
				t.Errorf("init error type = %q, want Runtime.InitError", ie.ErrorType)
			}
			for _, w := range tc.want {
				if !strings.Contains(ie.ErrorMessage, w) {
					t.Errorf("init error message %q does not name %s", ie.ErrorMessage, w)
				}
			}
			select {
			case <-p.exited:
			case <-time.After(10 * time.Second):
				t.Fatal("bootstrap still running 10 s after its init error")
			}
			var exit *exec.ExitError
			if !errors.As(p.err, &exit) || exit.ExitCode() == 0 {
				t.Errorf("bootstrap exit = %v, want a non-zero exit code", p.err)
			}
			if !strings.Contains(p.stderr.String(), ie.ErrorMessage) {
				t.Errorf("stderr %q does not repeat the init error %q", p.stderr.String(), ie.ErrorMessage)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if _, err := s.Invoke(ctx, []byte(`{}`)); !errors.Is(err, lambdaruntime.ErrInitFailed) {
				t.Errorf("Invoke after the init error = %v, want ErrInitFailed", err)
			}
		})
	}
}

// closedEndpoint is the URL of a loopback port nothing listens on.
func closedEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// xrayDaemon is a loopback UDP listener standing in for the X-Ray daemon.
type xrayDaemon struct{ conn *net.UDPConn }

func startDaemon(t *testing.T) *xrayDaemon {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen UDP: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &xrayDaemon{conn: conn}
}

func (d *xrayDaemon) addr() string { return d.conn.LocalAddr().String() }

// segment is the part of an X-Ray segment document the test reads.
type segment struct {
	Name        string            `json:"name"`
	TraceID     string            `json:"trace_id"`
	Annotations map[string]string `json:"annotations"`
	AWS         struct {
		Operation string `json:"operation"`
	} `json:"aws"`
}

// invocationSegments reads datagrams up to the invocation segment and
// returns it and the AWS calls ("DynamoDB PutItem") sent before it.
func (d *xrayDaemon) invocationSegments(t *testing.T) (segment, []string) {
	t.Helper()
	var calls []string
	buf := make([]byte, 70_000)
	for {
		if err := d.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, _, err := d.conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no invocation segment from the bootstrap (%v); got calls %v", err, calls)
		}
		_, body, _ := bytes.Cut(buf[:n], []byte("\n"))
		var s segment
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatalf("segment %s: %v", body, err)
		}
		if s.Name == tracing.DefaultInvocationName {
			return s, calls
		}
		calls = append(calls, s.Name+" "+s.AWS.Operation)
	}
}

// syncBuffer collects a child's output while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
