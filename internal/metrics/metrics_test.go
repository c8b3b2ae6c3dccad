package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// cloudWatchUnits is the unit list of the CloudWatch MetricDatum API,
// written out independently of the package's constants.
var cloudWatchUnits = map[string]bool{}

func init() {
	for _, u := range strings.Split("Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes "+
		"Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second "+
		"Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second "+
		"Terabits/Second Count/Second None", " ") {
		cloudWatchUnits[u] = true
	}
}

// emfDoc is one parsed EMF document: its metric values by name and unit.
type emfDoc struct {
	raw       map[string]any
	namespace string
	dimSets   [][]string
	units     map[string]string
	values    map[string][]float64
	timestamp int64
}

// validateEMF parses line with encoding/json and checks it against the EMF
// specification
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
// one JSON object with _aws.Timestamp and _aws.CloudWatchMetrics; each directive
// has a namespace, dimension sets of at most 9 keys that each name a
// top-level string, and at most 100 metrics, each with a valid unit and a
// top-level number or array of 1-100 numbers.
func validateEMF(t *testing.T, line []byte) emfDoc {
	t.Helper()
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || dec.More() {
		t.Fatalf("EMF line is not one JSON object (%v):\n%s", err, line)
	}
	aws, ok := raw["_aws"].(map[string]any)
	if !ok {
		t.Fatalf("no _aws object: %s", line)
	}
	doc := emfDoc{raw: raw, units: map[string]string{}, values: map[string][]float64{}}
	ts, ok := aws["Timestamp"].(json.Number)
	if !ok {
		t.Fatalf("_aws.Timestamp = %#v, want a number", aws["Timestamp"])
	}
	tsInt, err := ts.Int64()
	if err != nil {
		t.Fatalf("_aws.Timestamp %s is not an integer of milliseconds: %v", ts, err)
	}
	doc.timestamp = tsInt
	directives, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		t.Fatalf("_aws.CloudWatchMetrics = %#v, want a non-empty array", aws["CloudWatchMetrics"])
	}
	for _, d := range directives {
		dir, ok := d.(map[string]any)
		if !ok {
			t.Fatalf("directive %#v is not an object", d)
		}
		ns, _ := dir["Namespace"].(string)
		if ns == "" || len(ns) > 255 {
			t.Errorf("Namespace = %#v, want 1-255 characters", dir["Namespace"])
		}
		doc.namespace = ns
		sets, ok := dir["Dimensions"].([]any)
		if !ok {
			t.Fatalf("Dimensions = %#v, want an array of dimension sets", dir["Dimensions"])
		}
		for _, s := range sets {
			keys, ok := s.([]any)
			if !ok {
				t.Fatalf("dimension set %#v is not an array", s)
			}
			if len(keys) > 9 {
				t.Errorf("dimension set has %d keys, at most 9 allowed", len(keys))
			}
			var set []string
			for _, k := range keys {
				name, ok := k.(string)
				if !ok {
					t.Fatalf("dimension key %#v is not a string", k)
				}
				if v, ok := raw[name].(string); !ok || v == "" {
					t.Errorf("dimension %q has top-level value %#v, want a non-empty string", name, raw[name])
				}
				set = append(set, name)
			}
			doc.dimSets = append(doc.dimSets, set)
		}
		defs, ok := dir["Metrics"].([]any)
		if !ok || len(defs) == 0 {
			t.Fatalf("Metrics = %#v, want a non-empty array", dir["Metrics"])
		}
		if len(defs) > 100 {
			t.Errorf("directive has %d metrics, at most 100 allowed", len(defs))
		}
		for _, md := range defs {
			def, ok := md.(map[string]any)
			if !ok {
				t.Fatalf("metric definition %#v is not an object", md)
			}
			name, _ := def["Name"].(string)
			unit, _ := def["Unit"].(string)
			if name == "" {
				t.Fatalf("metric definition %#v has no Name", def)
			}
			if !cloudWatchUnits[unit] {
				t.Errorf("metric %q unit %#v is not a CloudWatch unit", name, def["Unit"])
			}
			doc.units[name] = unit
			switch v := raw[name].(type) {
			case json.Number:
				f, err := v.Float64()
				if err != nil {
					t.Errorf("metric %q value %s: %v", name, v, err)
				}
				doc.values[name] = []float64{f}
			case []any:
				if len(v) == 0 || len(v) > 100 {
					t.Errorf("metric %q has %d values, want 1-100", name, len(v))
				}
				for _, e := range v {
					n, ok := e.(json.Number)
					if !ok {
						t.Fatalf("metric %q value %#v is not a number", name, e)
					}
					f, _ := n.Float64()
					doc.values[name] = append(doc.values[name], f)
				}
			default:
				t.Errorf("metric %q has top-level value %#v, want a number or an array of numbers", name, raw[name])
			}
		}
	}
	return doc
}

// flushDocs flushes r and validates every line written to buf.
func flushDocs(t *testing.T, r *Recorder, buf *bytes.Buffer) []emfDoc {
	t.Helper()
	buf.Reset()
	if err := r.Flush(); err != nil {
		t.Fatalf("Flush() = %v, want nil", err)
	}
	var docs []emfDoc
	for _, line := range bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		docs = append(docs, validateEMF(t, line))
	}
	return docs
}

// newRecorder begins a Recorder on a new Sink writing to w.
func newRecorder(t *testing.T, w io.Writer, opts ...Option) *Recorder {
	t.Helper()
	s, err := NewSink(w, "TAP", "tap-processor", opts...)
	if err != nil {
		t.Fatalf("NewSink() error = %v", err)
	}
	return s.Begin()
}

func TestFlushWritesOneValidDocument(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 3, 2, 14, 30, 0, 123e6, time.UTC)
	r := newRecorder(t, &buf, WithClock(func() time.Time { return at }))
	r.Add(EventsApplied, Count, 1)
	r.Add(PipelineLatency, Milliseconds, 12.5)
	r.Add(TradeAge, Milliseconds, 840)
	r.Add(ColdStart, Count, 1)

	docs := flushDocs(t, r, &buf)
	if len(docs) != 1 {
		t.Fatalf("Flush wrote %d documents, want 1", len(docs))
	}
	d := docs[0]
	if d.namespace != "TAP" {
		t.Errorf("namespace = %q, want TAP", d.namespace)
	}
	if d.raw[ServiceDimension] != "tap-processor" {
		t.Errorf("service = %#v, want tap-processor", d.raw[ServiceDimension])
	}
	if fmt.Sprint(d.dimSets) != "[[service]]" {
		t.Errorf("dimension sets = %v, want [[service]]", d.dimSets)
	}
	if d.timestamp != at.UnixMilli() {
		t.Errorf("Timestamp = %d, want %d", d.timestamp, at.UnixMilli())
	}
	want := map[string]struct {
		unit string
		val  float64
	}{
		EventsApplied: {"Count", 1}, ColdStart: {"Count", 1},
		PipelineLatency: {"Milliseconds", 12.5}, TradeAge: {"Milliseconds", 840},
	}
	if len(d.units) != len(want) {
		t.Errorf("document declares %d metrics, want %d: %v", len(d.units), len(want), d.units)
	}
	for name, w := range want {
		if d.units[name] != w.unit || len(d.values[name]) != 1 || d.values[name][0] != w.val {
			t.Errorf("%s = %v %s, want [%v] %s", name, d.values[name], d.units[name], w.val, w.unit)
		}
	}
}

func TestRepeatedAddsBecomeAnArray(t *testing.T) {
	var buf bytes.Buffer
	r := newRecorder(t, &buf)
	for _, v := range []float64{3, 1.25, 7} {
		r.Add(PipelineLatency, Milliseconds, v)
	}
	docs := flushDocs(t, r, &buf)
	if len(docs) != 1 {
		t.Fatalf("got %d documents, want 1", len(docs))
	}
	if _, isArray := docs[0].raw[PipelineLatency].([]any); !isArray {
		t.Errorf("%s = %#v, want a JSON array", PipelineLatency, docs[0].raw[PipelineLatency])
	}
	if got := fmt.Sprint(docs[0].values[PipelineLatency]); got != "[3 1.25 7]" {
		t.Errorf("%s values = %s, want [3 1.25 7]", PipelineLatency, got)
	}
}

func TestFlushSplitsAtEMFLimits(t *testing.T) {
	tests := []struct {
		name    string
		metrics int // distinct metric names
		values  int // values per metric
		// want is, per document, the number of metrics and the values of the first metric.
		wantDocs [][2]int
	}{
		{"100 values fit", 1, 100, [][2]int{{1, 100}}},
		{"250 values of one metric", 1, 250, [][2]int{{1, 100}, {1, 100}, {1, 50}}},
		{"100 metrics fit", 100, 1, [][2]int{{100, 1}}},
		{"150 metrics", 150, 1, [][2]int{{100, 1}, {50, 1}}},
		{"120 metrics of 101 values", 120, 101, [][2]int{{100, 100}, {100, 1}, {20, 100}, {20, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := newRecorder(t, &buf)
			for v := range tt.values {
				for m := range tt.metrics {
					r.Add(fmt.Sprintf("M%03d", m), Count, float64(v))
				}
			}
			docs := flushDocs(t, r, &buf)
			if len(docs) != len(tt.wantDocs) {
				t.Fatalf("got %d documents, want %d", len(docs), len(tt.wantDocs))
			}
			got := map[string][]float64{}
			for i, d := range docs {
				var first string
				for name := range d.units {
					if first == "" || name < first {
						first = name
					}
				}
				if len(d.units) != tt.wantDocs[i][0] || len(d.values[first]) != tt.wantDocs[i][1] {
					t.Errorf("document %d: %d metrics, %d values of %s; want %d metrics, %d values",
						i, len(d.units), len(d.values[first]), first, tt.wantDocs[i][0], tt.wantDocs[i][1])
				}
				for name, vs := range d.values {
					got[name] = append(got[name], vs...)
				}
			}
			// Every value is written exactly once, in order.
			for m := range tt.metrics {
				name := fmt.Sprintf("M%03d", m)
				if len(got[name]) != tt.values {
					t.Fatalf("%s: %d values written, want %d", name, len(got[name]), tt.values)
				}
				for v, f := range got[name] {
					if f != float64(v) {
						t.Fatalf("%s value %d = %v, want %v", name, v, f, float64(v))
					}
				}
			}
		})
	}
}

func TestFlushResetsAndWritesNothingWhenEmpty(t *testing.T) {
	var buf bytes.Buffer
	r := newRecorder(t, &buf)
	if err := r.Flush(); err != nil || buf.Len() != 0 {
		t.Fatalf("Flush() of nothing = %v and wrote %q, want nil and nothing", err, buf.String())
	}
	r.Add(EventsApplied, Count, 1)
	if docs := flushDocs(t, r, &buf); len(docs) != 1 {
		t.Fatalf("got %d documents, want 1", len(docs))
	}
	buf.Reset()
	if err := r.Flush(); err != nil || buf.Len() != 0 {
		t.Errorf("second Flush() = %v and wrote %q, want nil and nothing", err, buf.String())
	}
	r.Add(EventsStale, Count, 1)
	docs := flushDocs(t, r, &buf)
	if len(docs) != 1 || len(docs[0].units) != 1 || docs[0].units[EventsStale] != "Count" {
		t.Errorf("after reset the document holds %v, want only %s", docs, EventsStale)
	}
}

func TestInvalidAddIsReportedByFlush(t *testing.T) {
	tests := []struct {
		name    string
		add     func(r *Recorder)
		wantErr string
	}{
		{"unknown unit", func(r *Recorder) { r.Add("X", Unit("Millis"), 1) }, "not a CloudWatch unit"},
		{"NaN", func(r *Recorder) { r.Add("X", Count, math.NaN()) }, "finite"},
		{"infinity", func(r *Recorder) { r.Add("X", Count, math.Inf(1)) }, "finite"},
		{"empty name", func(r *Recorder) { r.Add("", Count, 1) }, "1-255"},
		{"long name", func(r *Recorder) { r.Add(strings.Repeat("n", 256), Count, 1) }, "1-255"},
		{"dimension clash", func(r *Recorder) { r.Add(ServiceDimension, Count, 1) }, "clashes"},
		{"reserved name", func(r *Recorder) { r.Add("_aws", Count, 1) }, "reserved"},
		{"two units", func(r *Recorder) { r.Add("X", Count, 1); r.Add("X", Milliseconds, 1) }, "Count and Milliseconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := newRecorder(t, &buf)
			r.Add(EventsApplied, Count, 1)
			tt.add(r)
			err := r.Flush()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Flush() = %v, want an error containing %q", err, tt.wantErr)
			}
			// The valid metric still goes out, and the document stays valid.
			line := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
			if bytes.Count(line, []byte("\n")) != 0 {
				t.Fatalf("got several documents: %s", line)
			}
			d := validateEMF(t, line)
			if d.units[EventsApplied] != "Count" {
				t.Errorf("valid metric missing from %s", line)
			}
			if err := r.Flush(); err != nil {
				t.Errorf("next Flush() = %v, want the error reported once", err)
			}
		})
	}
}

func TestUnitCanChangeBetweenFlushes(t *testing.T) {
	var buf bytes.Buffer
	r := newRecorder(t, &buf)
	r.Add("X", Count, 1)
	flushDocs(t, r, &buf)
	r.Add("X", Milliseconds, 2)
	docs := flushDocs(t, r, &buf)
	if len(docs) != 1 || docs[0].units["X"] != "Milliseconds" {
		t.Errorf("got %v, want X in Milliseconds", docs)
	}
}

func TestNewValidates(t *testing.T) {
	nine := make([]Option, 0, 9)
	for i := range 9 {
		nine = append(nine, WithDimension(fmt.Sprintf("d%d", i), "v"))
	}
	tests := []struct {
		name      string
		namespace string
		opts      []Option
		wantErr   string
	}{
		{"empty namespace", "", nil, "namespace"},
		{"AWS namespace", "AWS/Lambda", nil, "reserved"},
		{"long namespace", strings.Repeat("n", 256), nil, "namespace"},
		{"ten dimensions", "TAP", nine, "at most 9"},
		{"duplicate dimension", "TAP", []Option{WithDimension("service", "x")}, "twice"},
		{"empty dimension value", "TAP", []Option{WithDimension("region", "")}, "value"},
		{"reserved dimension", "TAP", []Option{WithDimension("_aws", "x")}, "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSink(&bytes.Buffer{}, tt.namespace, "svc", tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewSink(%.20q) = %v, want an error containing %q", tt.namespace, err, tt.wantErr)
			}
			if _, err := New(&bytes.Buffer{}, tt.namespace, "svc", tt.opts...); err == nil {
				t.Errorf("New(%.20q) = nil error, want NewSink's", tt.namespace)
			}
		})
	}
	if _, err := NewSink(&bytes.Buffer{}, "TAP", "svc", nine[:8]...); err != nil {
		t.Errorf("NewSink with 9 dimensions (service + 8) = %v, want nil", err)
	}
}

func TestRegionDimension(t *testing.T) {
	var buf bytes.Buffer
	r := newRecorder(t, &buf, WithDimension("region", "eu-west-1"))
	r.Add(EventsApplied, Count, 1)
	docs := flushDocs(t, r, &buf)
	if len(docs) != 1 {
		t.Fatalf("got %d documents, want 1", len(docs))
	}
	if fmt.Sprint(docs[0].dimSets) != "[[service region]]" || docs[0].raw["region"] != "eu-west-1" {
		t.Errorf("dimension sets %v, region %#v; want [[service region]] and eu-west-1", docs[0].dimSets, docs[0].raw["region"])
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stdout closed") }

func TestWriteErrorIsReturnedAndBufferCleared(t *testing.T) {
	r, err := New(failingWriter{}, "TAP", "svc")
	if err != nil {
		t.Fatal(err)
	}
	r.Add(EventsApplied, Count, 1)
	if err := r.Flush(); err == nil || !strings.Contains(err.Error(), "stdout closed") {
		t.Errorf("Flush() = %v, want the write error", err)
	}
	if err := r.Flush(); err != nil {
		t.Errorf("second Flush() = %v, want nil: values must not be written twice", err)
	}
}

func TestUnitConstantsAreCloudWatchUnits(t *testing.T) {
	consts := []Unit{Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, Gigabytes, Terabytes,
		Bits, Kilobits, Megabits, Gigabits, Terabits, Percent, Count, BytesPerSecond, KilobytesPerSec,
		MegabytesPerSec, GigabytesPerSec, TerabytesPerSec, BitsPerSecond, KilobitsPerSec, MegabitsPerSec,
		GigabitsPerSec, TerabitsPerSec, CountPerSecond, None}
	if len(consts) != len(cloudWatchUnits) {
		t.Errorf("%d unit constants, CloudWatch has %d units", len(consts), len(cloudWatchUnits))
	}
	for _, u := range consts {
		if !cloudWatchUnits[string(u)] || !u.Valid() {
			t.Errorf("unit %q: CloudWatch unit %v, Valid() %v; want both true", u, cloudWatchUnits[string(u)], u.Valid())
		}
	}
	for _, u := range []Unit{"", "count", "ms", "Millis"} {
		if u.Valid() {
			t.Errorf("Unit(%q).Valid() = true, want false", u)
		}
	}
}

// One Recorder may be used by several goroutines of its invocation.
func TestConcurrentAdds(t *testing.T) {
	var buf bytes.Buffer
	r := newRecorder(t, &buf)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				r.Add(EventsApplied, Count, 1)
			}
		})
	}
	wg.Wait()
	total := 0
	for _, d := range flushDocs(t, r, &buf) {
		total += len(d.values[EventsApplied])
	}
	if total != 80 {
		t.Errorf("%d values written, want 80", total)
	}
}

// Invocations running at once on one Sink each write their own document
// with exactly their own values, each in one Write.
func TestConcurrentRecordersKeepTheirValues(t *testing.T) {
	const n = 16
	w := &writeCounter{}
	s, err := NewSink(w, "TAP", "tap-processor")
	if err != nil {
		t.Fatal(err)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := s.Begin()
			<-start
			r.Add(EventsApplied, Count, 1)
			r.Add(PipelineLatency, Milliseconds, float64(i))
			if i%2 == 0 {
				r.Add(ColdStart, Count, 1)
			}
			if err := r.Flush(); err != nil {
				t.Errorf("invocation %d: Flush() = %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if w.writes != n {
		t.Errorf("%d Write calls, want %d: one per document", w.writes, n)
	}
	seen := map[float64]bool{}
	for _, line := range bytes.Split(bytes.TrimSuffix(w.buf.Bytes(), []byte("\n")), []byte("\n")) {
		d := validateEMF(t, line)
		lat := d.values[PipelineLatency]
		if len(lat) != 1 || len(d.values[EventsApplied]) != 1 {
			t.Fatalf("document %s holds %v, want one invocation's values", line, d.values)
		}
		i := lat[0]
		if seen[i] {
			t.Errorf("invocation %v written twice", i)
		}
		seen[i] = true
		if wantCold := int(i)%2 == 0; (len(d.values[ColdStart]) == 1) != wantCold || len(d.values[ColdStart]) > 1 {
			t.Errorf("invocation %v: ColdStart %v, want it only if it recorded one", i, d.values[ColdStart])
		}
	}
	if len(seen) != n {
		t.Errorf("%d invocations' documents, want %d", len(seen), n)
	}
}

// writeCounter is a goroutine-safe writer that counts its Write calls.
type writeCounter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

// Every document goes out in one Write, also when Flush splits.
func TestOneWritePerDocument(t *testing.T) {
	w := &writeCounter{}
	r := newRecorder(t, w)
	for v := range 250 {
		r.Add(PipelineLatency, Milliseconds, float64(v))
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(w.buf.Bytes(), []byte("\n")), []byte("\n"))
	if w.writes != 3 || len(lines) != 3 {
		t.Errorf("%d Write calls for %d documents, want 3 and 3", w.writes, len(lines))
	}
}

// The hand-built document is what encoding/json reads back: strings that
// need escaping, and numbers of every magnitude.
func TestDocumentDecodesWithEncodingJSON(t *testing.T) {
	nasty := "a\"b\\c\n\t\x01 é\u2028 \xff<&>"
	values := []float64{0, 1, 0.1, 12.5, 123.4, -3, 1270000000, 1e-7, 1.5e-9, 1e21, 1.7976931348623157e308, 5e-324}
	var buf bytes.Buffer
	s, err := NewSink(&buf, "TAP/"+nasty, "svc "+nasty, WithDimension("dim"+nasty, nasty))
	if err != nil {
		t.Fatal(err)
	}
	r := s.Begin()
	name := "metric" + nasty
	for _, v := range values {
		r.Add(name, None, v)
	}
	r.Add("single", Count, 1e-7)
	d := flushDocs(t, r, &buf)[0]
	// encoding/json reads invalid UTF-8 as U+FFFD, as it writes it.
	clean := strings.ToValidUTF8(nasty, "\uFFFD")
	if d.namespace != "TAP/"+clean || d.raw[ServiceDimension] != "svc "+clean || d.raw["dim"+clean] != clean {
		t.Errorf("namespace %q, dimensions %v; want the strings back", d.namespace, d.raw)
	}
	if fmt.Sprint(d.dimSets) != fmt.Sprint([][]string{{ServiceDimension, "dim" + clean}}) {
		t.Errorf("dimension sets = %q", d.dimSets)
	}
	got := d.values["metric"+clean]
	if len(got) != len(values) {
		t.Fatalf("%d values, want %d: %v", len(got), len(values), d.raw)
	}
	for i, v := range values {
		if got[i] != v {
			t.Errorf("value %d = %v, want %v", i, got[i], v)
		}
	}
	if fmt.Sprint(d.values["single"]) != "[1e-07]" {
		t.Errorf("single = %v, want [1e-07]", d.values["single"])
	}
	// The numbers are written as encoding/json writes them.
	for _, v := range values {
		want, _ := json.Marshal(v)
		if got := appendFloat(nil, v); string(got) != string(want) {
			t.Errorf("appendFloat(%v) = %s, want %s", v, got, want)
		}
	}
}

// A Recorder flushed twice writes each value once; values added after a
// Flush go into the next.
func TestRecordersShareNothing(t *testing.T) {
	var buf bytes.Buffer
	s, err := NewSink(&buf, "TAP", "svc")
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.Begin(), s.Begin()
	a.Add(EventsApplied, Count, 1)
	b.Add(EventsStale, Count, 1)
	docs := flushDocs(t, a, &buf)
	if len(docs) != 1 || len(docs[0].units) != 1 || docs[0].units[EventsApplied] != "Count" {
		t.Errorf("first recorder wrote %v, want only %s", docs, EventsApplied)
	}
	docs = flushDocs(t, b, &buf)
	if len(docs) != 1 || len(docs[0].units) != 1 || docs[0].units[EventsStale] != "Count" {
		t.Errorf("second recorder wrote %v, want only %s", docs, EventsStale)
	}
}

// BenchmarkInvocation is the per-invocation cost: Begin, the processor's
// metrics for one applied event, then Flush.
func BenchmarkInvocation(b *testing.B) {
	s, _ := NewSink(discard{}, "TAP/prod", "tap-processor")
	b.ReportAllocs()
	for b.Loop() {
		r := s.Begin()
		r.Add(EventsApplied, Count, 1)
		r.Add(PipelineLatency, Milliseconds, 212)
		r.Add(TradeAge, Milliseconds, 840)
		if err := r.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
