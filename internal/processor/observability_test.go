package processor_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/logging"
	"github.com/tap-trading/tap/internal/metrics"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/tracing"
)

// outcomeMetric is the counter each outcome increments; the heartbeat has
// none.
var outcomeMetric = map[processor.Outcome]string{
	processor.Applied:   metrics.EventsApplied,
	processor.Duplicate: metrics.EventsDuplicate,
	processor.Stale:     metrics.EventsStale,
	processor.Rejected:  metrics.EventsRejected,
	processor.Conflict:  metrics.EventsRejected,
}

// step is one invocation of a scripted sequence and what it must report.
type step struct {
	name    string
	raw     []byte
	want    processor.Outcome
	eventID string
	orderID string
	reason  string // of a dead-lettered event
}

// scriptedSteps is one invocation per outcome, on a fresh table.
func scriptedSteps(t *testing.T) []step {
	t.Helper()
	e := lifecycle(t, 21, 2).Events
	bad := e[0]
	bad.EventID = "5f1c3a34-8d1e-4e8c-a1a9-7e3a1f0b2c44"
	bad.OrderQty = event.MustDecimal("-1")
	c := withEventID(e[1], highestID) // loses to e[1]
	return []step{
		{"applied", reportEvent(e[1]), processor.Applied, e[1].EventID, e[1].OrderID, ""},
		{"duplicate", reportEvent(e[1]), processor.Duplicate, e[1].EventID, e[1].OrderID, ""},
		{"stale", reportEvent(e[0]), processor.Stale, e[0].EventID, e[0].OrderID, ""},
		{"rejected", reportEvent(bad), processor.Rejected, bad.EventID, bad.OrderID, string(event.ReasonNegativeQty)},
		{"conflict", reportEvent(c), processor.Conflict, c.EventID, c.OrderID, processor.ReasonConflict},
		{"heartbeat", heartbeatEvent(event.Heartbeat{Region: "us-west-2", SentAt: time.Now().Add(-time.Second)}), processor.Heartbeat, "", "", ""},
	}
}

// Every line on stdout is JSON: Powertools-keyed log lines, and one EMF
// document per invocation that follows the EMF specification.
func TestLogsAndMetrics(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			f := newFixture(t)
			cfg := f.cfg
			cfg.LogLevel = level
			out := &syncBuffer{}
			h := f.handler(t, cfg, processor.Deps{Stdout: out})
			for i, s := range scriptedSteps(t) {
				requestID := fmt.Sprintf("req-%d-%s", i, s.name)
				root := fmt.Sprintf("1-67a0c0de-%024x", i+1)
				header := "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=0"
				before, start := out.Len(), time.Now()
				got, err := h.Process(invocation(t.Context(), requestID, header), s.raw)
				if err != nil || got != s.want {
					t.Fatalf("%s: Process = %q, %v; want %q", s.name, got, err, s.want)
				}
				logs, docs := splitStdout(t, out.LinesFrom(before))
				inv := logging.Invocation{FunctionName: testFunctionName, RequestID: requestID, TraceID: root, ColdStart: i == 0}
				checkLogs(t, s, level, inv, logs)
				if len(docs) != 1 {
					t.Fatalf("%s: %d EMF documents, want 1 per invocation", s.name, len(docs))
				}
				checkInvocationMetrics(t, s, i == 0, checkEMF(t, docs[0], start))
			}
		})
	}
}

// splitStdout parses every line as a JSON object and sorts them into log
// lines and EMF documents (which carry _aws).
func splitStdout(t *testing.T, lines []string) (logs, docs []map[string]any) {
	t.Helper()
	for _, l := range lines {
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(l))
		d.UseNumber()
		if err := d.Decode(&m); err != nil || d.More() {
			t.Fatalf("stdout line is not one JSON object (%v): %s", err, l)
		}
		if _, ok := m["_aws"]; ok {
			docs = append(docs, m)
		} else {
			logs = append(logs, m)
		}
	}
	return logs, docs
}

// checkLogs asserts the Powertools keys of every line of one invocation, the
// outcome line, and that payloads appear at DEBUG only.
func checkLogs(t *testing.T, s step, level slog.Level, inv logging.Invocation, logs []map[string]any) {
	t.Helper()
	var outcomes, payloads []map[string]any
	for _, l := range logs {
		checkLogLine(t, s.name, l, inv)
		if l[logging.KeyLevel] == "DEBUG" && level > slog.LevelDebug {
			t.Errorf("%s: DEBUG line at level %v: %v", s.name, level, l)
		}
		if _, ok := l[logging.KeyOutcome]; ok {
			outcomes = append(outcomes, l)
		}
		if _, ok := l[logging.KeyPayload]; ok {
			payloads = append(payloads, l)
		}
	}

	wantPayloads := 0
	if level <= slog.LevelDebug {
		wantPayloads = 1
	}
	if len(payloads) != wantPayloads {
		t.Errorf("%s: %d lines log the payload at level %v, want %d", s.name, len(payloads), level, wantPayloads)
	}
	for _, p := range payloads {
		if p[logging.KeyLevel] != "DEBUG" {
			t.Errorf("%s: payload logged at %v, want DEBUG only", s.name, p[logging.KeyLevel])
		}
		got, _ := json.Marshal(p[logging.KeyPayload])
		var want bytes.Buffer
		_ = json.Compact(&want, s.raw)
		if !jsonEqual(got, want.Bytes()) {
			t.Errorf("%s: logged payload = %s, want the event %s", s.name, got, s.raw)
		}
	}

	if s.want == processor.Heartbeat {
		// A heartbeat is reported at DEBUG only: one a minute per region
		// would be noise at INFO.
		if len(outcomes) != 0 {
			t.Errorf("%s: %d outcome lines, want none", s.name, len(outcomes))
		}
		return
	}
	wantLevel := "INFO"
	switch {
	case s.reason != "":
		wantLevel = "WARN"
	case s.want == processor.Applied:
		// Applied events are counted in EMF and found in the table; their
		// line is DEBUG, so the common case logs nothing at INFO.
		wantLevel = "DEBUG"
		if level > slog.LevelDebug {
			if len(outcomes) != 0 {
				t.Errorf("%s: %d outcome lines at level %v, want none", s.name, len(outcomes), level)
			}
			return
		}
	}
	if len(outcomes) != 1 {
		t.Fatalf("%s: %d log lines carry an outcome, want 1: %v", s.name, len(outcomes), logs)
	}
	l := outcomes[0]
	for k, want := range map[string]string{
		logging.KeyOutcome:       string(s.want),
		logging.KeyCorrelationID: s.eventID,
		logging.KeyOrderID:       s.orderID,
		logging.KeyLevel:         wantLevel,
	} {
		if got := l[k]; got != want {
			t.Errorf("%s: outcome line %s = %v, want %q", s.name, k, got, want)
		}
	}
	if got, _ := l[logging.KeyReason].(string); got != s.reason {
		t.Errorf("%s: outcome line reason = %q, want %q", s.name, got, s.reason)
	}
}

// checkLogLine asserts the keys every log line of an invocation carries.
func checkLogLine(t *testing.T, name string, l map[string]any, inv logging.Invocation) {
	t.Helper()
	switch l[logging.KeyLevel] {
	case "DEBUG", "INFO", "WARN", "ERROR":
	default:
		t.Errorf("%s: level = %v, want one Lambda can filter on", name, l[logging.KeyLevel])
	}
	if m, _ := l[logging.KeyMessage].(string); m == "" {
		t.Errorf("%s: line has no message: %v", name, l)
	}
	ts, _ := l[logging.KeyTimestamp].(string)
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil || !strings.HasSuffix(ts, "Z") || time.Since(at).Abs() > time.Minute {
		t.Errorf("%s: timestamp = %q (%v), want RFC 3339 UTC of now", name, ts, err)
	}
	if cold, ok := l[logging.KeyColdStart].(bool); !ok || cold != inv.ColdStart {
		t.Errorf("%s: cold_start = %v, want %v", name, l[logging.KeyColdStart], inv.ColdStart)
	}
	for k, want := range map[string]string{
		logging.KeyService:      testService,
		logging.KeyFunctionName: inv.FunctionName,
		logging.KeyRequestID:    inv.RequestID,
		logging.KeyTraceID:      inv.TraceID,
	} {
		if got := l[k]; got != want {
			t.Errorf("%s: %s = %v, want %q", name, k, got, want)
		}
	}
}

// emfValue is one metric of an EMF document: its unit and values.
type emfValue struct {
	unit   metrics.Unit
	values []float64
}

// checkEMF validates doc against the EMF specification for the processor's
// namespace and service, and returns its metrics by name. since is when the
// invocations that wrote it began: its timestamp is between then and now.
func checkEMF(t *testing.T, doc map[string]any, since time.Time) map[string]emfValue {
	t.Helper()
	var meta struct {
		Timestamp         *json.Number
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	}
	raw, _ := json.Marshal(doc["_aws"])
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatalf("_aws = %s: %v", raw, err)
	}
	if meta.Timestamp == nil {
		t.Fatalf("_aws has no Timestamp: %s", raw)
	}
	ms, err := meta.Timestamp.Int64()
	if at := time.UnixMilli(ms); err != nil || at.Before(since.Truncate(time.Millisecond)) || at.After(time.Now()) {
		t.Errorf("_aws.Timestamp = %v (%v), want epoch milliseconds since %v", *meta.Timestamp, err, since)
	}
	if len(meta.CloudWatchMetrics) != 1 {
		t.Fatalf("_aws.CloudWatchMetrics has %d directives, want 1", len(meta.CloudWatchMetrics))
	}
	d := meta.CloudWatchMetrics[0]
	if d.Namespace != testNamespace {
		t.Errorf("Namespace = %q, want %q", d.Namespace, testNamespace)
	}
	if want := [][]string{{metrics.ServiceDimension}}; !reflect.DeepEqual(d.Dimensions, want) {
		t.Errorf("Dimensions = %v, want %v", d.Dimensions, want)
	}
	if doc[metrics.ServiceDimension] != testService {
		t.Errorf("dimension %s = %v, want %q", metrics.ServiceDimension, doc[metrics.ServiceDimension], testService)
	}
	if n := len(d.Metrics); n == 0 || n > metrics.MaxMetricsPerDocument {
		t.Errorf("%d metrics in one document, want 1..%d", n, metrics.MaxMetricsPerDocument)
	}
	got := map[string]emfValue{}
	for _, m := range d.Metrics {
		if _, dup := got[m.Name]; dup || m.Name == "" {
			t.Errorf("metric name %q empty or defined twice", m.Name)
		}
		if !metrics.Unit(m.Unit).Valid() {
			t.Errorf("metric %s unit %q is not a CloudWatch unit", m.Name, m.Unit)
		}
		if !slices.Contains(metrics.Names(), m.Name) {
			t.Errorf("metric %s is not in metrics.Names(), which the bill counts", m.Name)
		}
		v := emfValue{unit: metrics.Unit(m.Unit)}
		switch x := doc[m.Name].(type) {
		case json.Number:
			f, err := x.Float64()
			if err != nil {
				t.Errorf("metric %s value %v: %v", m.Name, x, err)
			}
			v.values = []float64{f}
		case []any:
			for _, e := range x {
				n, ok := e.(json.Number)
				f, err := n.Float64()
				if !ok || err != nil {
					t.Errorf("metric %s value %v is not a number", m.Name, e)
				}
				v.values = append(v.values, f)
			}
			if len(x) == 0 || len(x) > metrics.MaxValuesPerMetric {
				t.Errorf("metric %s has %d values, want 1..%d", m.Name, len(x), metrics.MaxValuesPerMetric)
			}
		default:
			t.Errorf("metric %s has no numeric value key: %v", m.Name, doc[m.Name])
		}
		got[m.Name] = v
	}
	return got
}

// checkInvocationMetrics asserts the metrics of one invocation's document:
// its outcome's counter, PipelineLatency (every scripted event has an
// envelope time), TradeAge for a report that was applied or found (the
// scripted trades are of January 2026: late), and ColdStart on the first.
func checkInvocationMetrics(t *testing.T, s step, cold bool, got map[string]emfValue) {
	t.Helper()
	want := map[string]metrics.Unit{
		metrics.PipelineLatency: metrics.Milliseconds,
	}
	if cold {
		want[metrics.ColdStart] = metrics.Count
	}
	if m, ok := outcomeMetric[s.want]; ok {
		want[m] = metrics.Count
	}
	switch s.want {
	case processor.Applied, processor.Duplicate, processor.Stale:
		want[metrics.TradeAge] = metrics.Milliseconds
	}
	if len(got) != len(want) {
		t.Errorf("%s: metrics %v, want exactly %v", s.name, got, want)
	}
	for name, unit := range want {
		v, ok := got[name]
		if !ok {
			t.Errorf("%s: no %s metric", s.name, name)
			continue
		}
		if v.unit != unit || len(v.values) != 1 {
			t.Errorf("%s: %s = %+v, want one value in %s", s.name, name, v, unit)
			continue
		}
		x := v.values[0]
		switch {
		case unit == metrics.Count && x != 1:
			t.Errorf("%s: %s = %v, want 1", s.name, name, x)
		case unit == metrics.Milliseconds && (x < 0 || x != math.Round(x)):
			t.Errorf("%s: %s = %v ms, want whole milliseconds >= 0", s.name, name, x)
		}
	}
}

// jsonEqual compares two JSON texts by value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// The trace header only arrives through the context; tracing.TraceHeader is
// what the processor reads, so the helper must put it where that looks.
func TestInvocationContextCarriesTheTraceHeader(t *testing.T) {
	const h = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	if got := tracing.TraceHeader(invocation(t.Context(), "r", h)); got != h {
		t.Fatalf("TraceHeader(invocation ctx) = %q, want %q", got, h)
	}
}
