// Package metrics writes CloudWatch metrics in the Embedded Metric Format
// (EMF): JSON documents printed on stdout that CloudWatch Logs turns into
// metrics, so the processor records metrics with no API call and no extra
// latency (DESIGN §5).
//
// A Sink is built and validated once per execution environment (namespace,
// dimensions, clock, writer) and then only read. Each invocation takes its
// own Recorder from it with Begin, adds values, and flushes it once at its
// end, so invocations running at the same time never share values.
//
// The document layout follows the EMF specification:
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Names of the metrics the processor records (DESIGN §5). Lambda's own
// metrics already count invocations (AWS/Lambda Invocations) and time them
// (Duration), so none of these repeats them.
const (
	EventsApplied   = "EventsApplied"
	EventsDuplicate = "EventsDuplicate"
	EventsStale     = "EventsStale"
	EventsRejected  = "EventsRejected"
	// PipelineLatency is the time from the EventBridge envelope's time (the
	// PutEvents call, unless the producer set it) to the event's outcome, in
	// milliseconds: how long TAP took to apply it.
	PipelineLatency = "PipelineLatency"
	// TradeAge is the time from the trade's transactTime to its outcome, in
	// milliseconds: how old the trade was when applied (a replayed or late
	// event is days old; that is the data, not the pipeline).
	TradeAge  = "TradeAge"
	ColdStart = "ColdStart"
)

// Names lists every metric above: with the one dimension set, each is one
// CloudWatch custom metric per region, which is what the bill counts.
func Names() []string {
	return []string{EventsApplied, EventsDuplicate, EventsStale, EventsRejected, PipelineLatency, TradeAge, ColdStart}
}

// ServiceDimension is the dimension every metric carries; its value is the
// service name given to NewSink.
const ServiceDimension = "service"

// EMF limits (CloudWatch EMF specification). MaxDimensions is the historical
// limit of 9 keys per dimension set, stricter than today's 30, so the output
// is valid for every consumer of EMF.
const (
	MaxMetricsPerDocument = 100
	MaxValuesPerMetric    = 100
	MaxDimensions         = 9
	maxNameLen            = 255
	maxDimensionValueLen  = 1024
)

// Unit is a CloudWatch metric unit; only the constants below are valid.
type Unit string

// The units CloudWatch accepts.
const (
	Seconds         Unit = "Seconds"
	Microseconds    Unit = "Microseconds"
	Milliseconds    Unit = "Milliseconds"
	Bytes           Unit = "Bytes"
	Kilobytes       Unit = "Kilobytes"
	Megabytes       Unit = "Megabytes"
	Gigabytes       Unit = "Gigabytes"
	Terabytes       Unit = "Terabytes"
	Bits            Unit = "Bits"
	Kilobits        Unit = "Kilobits"
	Megabits        Unit = "Megabits"
	Gigabits        Unit = "Gigabits"
	Terabits        Unit = "Terabits"
	Percent         Unit = "Percent"
	Count           Unit = "Count"
	BytesPerSecond  Unit = "Bytes/Second"
	KilobytesPerSec Unit = "Kilobytes/Second"
	MegabytesPerSec Unit = "Megabytes/Second"
	GigabytesPerSec Unit = "Gigabytes/Second"
	TerabytesPerSec Unit = "Terabytes/Second"
	BitsPerSecond   Unit = "Bits/Second"
	KilobitsPerSec  Unit = "Kilobits/Second"
	MegabitsPerSec  Unit = "Megabits/Second"
	GigabitsPerSec  Unit = "Gigabits/Second"
	TerabitsPerSec  Unit = "Terabits/Second"
	CountPerSecond  Unit = "Count/Second"
	None            Unit = "None"
)

// Valid reports whether u is a unit CloudWatch accepts. A switch, not a
// map: every Add checks its unit.
func (u Unit) Valid() bool {
	switch u {
	case Seconds, Microseconds, Milliseconds,
		Bytes, Kilobytes, Megabytes, Gigabytes, Terabytes,
		Bits, Kilobits, Megabits, Gigabits, Terabits,
		Percent, Count,
		BytesPerSecond, KilobytesPerSec, MegabytesPerSec, GigabytesPerSec, TerabytesPerSec,
		BitsPerSecond, KilobitsPerSec, MegabitsPerSec, GigabitsPerSec, TerabitsPerSec,
		CountPerSecond, None:
		return true
	}
	return false
}

// Option configures a Sink.
type Option func(*Sink)

// WithDimension adds a dimension to every metric (all dimensions form one
// dimension set). Use it only for low-cardinality values such as a region:
// each distinct value is a separate, billed CloudWatch metric.
func WithDimension(name, value string) Option {
	return func(s *Sink) { s.dims = append(s.dims, dimension{name, value}) }
}

// WithClock sets the clock that stamps documents; tests use it.
func WithClock(now func() time.Time) Option {
	return func(s *Sink) { s.now = now }
}

type dimension struct{ name, value string }

// Sink is where an execution environment's metrics go: a writer, a
// namespace and a dimension set, validated once by NewSink. It is immutable
// afterwards, so any number of invocations may Begin on it at once.
type Sink struct {
	w         io.Writer
	namespace string
	dims      []dimension
	now       func() time.Time

	// The fixed parts of every document, encoded once: head goes between
	// the timestamp and the metric definitions, tail between them and the
	// metric values (it holds the dimension values).
	head, tail []byte
	// bufs holds document buffers between flushes (a *[]byte each).
	bufs sync.Pool
}

// NewSink returns a Sink writing to w (stdout in Lambda) under namespace,
// with the service dimension set to service. It checks the namespace, the
// dimensions and their count against the EMF limits. w must take each
// document in one Write call whole (os.Stdout does: Lambda reads lines).
func NewSink(w io.Writer, namespace, service string, opts ...Option) (*Sink, error) {
	s := &Sink{
		w:         w,
		namespace: namespace,
		dims:      []dimension{{ServiceDimension, service}},
		now:       time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	if err := validNamespace(namespace); err != nil {
		return nil, err
	}
	if len(s.dims) > MaxDimensions {
		return nil, fmt.Errorf("metrics: %d dimensions, at most %d allowed", len(s.dims), MaxDimensions)
	}
	seen := make(map[string]bool, len(s.dims))
	for _, d := range s.dims {
		switch {
		case d.name == "" || len(d.name) > maxNameLen:
			return nil, fmt.Errorf("metrics: dimension name %q must be 1-%d characters", d.name, maxNameLen)
		case d.name == "_aws":
			return nil, errors.New(`metrics: "_aws" is reserved for EMF metadata`)
		case d.value == "" || len(d.value) > maxDimensionValueLen:
			return nil, fmt.Errorf("metrics: dimension %q: value must be 1-%d characters, got %d", d.name, maxDimensionValueLen, len(d.value))
		case seen[d.name]:
			return nil, fmt.Errorf("metrics: dimension %q set twice", d.name)
		}
		seen[d.name] = true
	}

	s.head = append(s.head, `,"CloudWatchMetrics":[{"Namespace":`...)
	s.head = appendString(s.head, namespace)
	s.head = append(s.head, `,"Dimensions":[[`...)
	for i, d := range s.dims {
		if i > 0 {
			s.head = append(s.head, ',')
		}
		s.head = appendString(s.head, d.name)
	}
	s.head = append(s.head, `]],"Metrics":[`...)
	s.tail = append(s.tail, `]}]}`...)
	for _, d := range s.dims {
		s.tail = append(s.tail, ',')
		s.tail = appendString(s.tail, d.name)
		s.tail = append(s.tail, ':')
		s.tail = appendString(s.tail, d.value)
	}
	return s, nil
}

// New returns a Recorder on a Sink of its own: NewSink, then Begin. It suits
// a program that records from one place; a Lambda handler builds the Sink
// once and calls Begin per invocation.
func New(w io.Writer, namespace, service string, opts ...Option) (*Recorder, error) {
	s, err := NewSink(w, namespace, service, opts...)
	if err != nil {
		return nil, err
	}
	return s.Begin(), nil
}

func validNamespace(ns string) error {
	if ns == "" || len(ns) > maxNameLen {
		return fmt.Errorf("metrics: namespace %q must be 1-%d characters", ns, maxNameLen)
	}
	if len(ns) >= 4 && ns[:4] == "AWS/" {
		return fmt.Errorf("metrics: namespace %q: the AWS/ prefix is reserved for AWS services", ns)
	}
	return nil
}

// Begin returns an empty Recorder for one invocation. Only the values added
// to it go into its documents.
func (s *Sink) Begin() *Recorder {
	r := &Recorder{sink: s}
	r.metrics = r.inline[:0]
	return r
}

// metric is one metric of a Recorder and its values since the last Flush.
// The first value is held inline, so a metric recorded once per invocation
// (all of the processor's) costs no allocation.
type metric struct {
	name    string
	unit    Unit
	n       int       // values held
	first   float64   // value 0
	rest    []float64 // values 1..n-1
	written int       // values already in a document of the current Flush
}

func (m *metric) value(i int) float64 {
	if i == 0 {
		return m.first
	}
	return m.rest[i-1]
}

// Recorder buffers one invocation's metric values and writes them as EMF
// documents on Flush. It is safe for concurrent use by the goroutines of
// its invocation; values of different Recorders never mix.
type Recorder struct {
	sink *Sink

	mu      sync.Mutex
	metrics []metric // in first-Add order, kept across flushes
	inline  [8]metric
	index   map[string]int // into metrics, once there are more than len(inline)
	err     error          // first invalid Add since the last Flush
}

// Add records value for metric name in unit. Adding the same name several
// times before a Flush records all values (EMF value arrays). An invalid
// call — bad unit, a name that is empty, too long or clashes with a
// dimension, a unit different from the name's first one, a NaN or an
// infinity — is dropped, and the first such error is returned by the next
// Flush, so a mistake shows up without failing the invocation's hot path.
func (r *Recorder) Add(name string, unit Unit, value float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.find(name)
	if err := r.check(m, name, unit, value); err != nil {
		if r.err == nil {
			r.err = err
		}
		return
	}
	if m == nil {
		r.metrics = append(r.metrics, metric{name: name, unit: unit})
		m = &r.metrics[len(r.metrics)-1]
		if r.index != nil {
			r.index[name] = len(r.metrics) - 1
		} else if len(r.metrics) > len(r.inline) {
			r.index = make(map[string]int, 2*len(r.metrics))
			for i := range r.metrics {
				r.index[r.metrics[i].name] = i
			}
		}
	}
	if m.n == 0 {
		m.unit = unit // a metric's unit is fixed per flush, not for ever
		m.first = value
	} else {
		m.rest = append(m.rest, value)
	}
	m.n++
}

// find returns the metric named name, or nil.
func (r *Recorder) find(name string) *metric {
	if r.index != nil {
		if i, ok := r.index[name]; ok {
			return &r.metrics[i]
		}
		return nil
	}
	for i := range r.metrics {
		if r.metrics[i].name == name {
			return &r.metrics[i]
		}
	}
	return nil
}

func (r *Recorder) check(m *metric, name string, unit Unit, value float64) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("metrics: metric name %q must be 1-%d characters", name, maxNameLen)
	}
	if name == "_aws" {
		return errors.New(`metrics: metric name "_aws" is reserved for EMF metadata`)
	}
	for _, d := range r.sink.dims {
		if d.name == name {
			return fmt.Errorf("metrics: metric name %q clashes with a dimension", name)
		}
	}
	if !unit.Valid() {
		return fmt.Errorf("metrics: metric %q: unit %q is not a CloudWatch unit", name, unit)
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return fmt.Errorf("metrics: metric %q: value %v is not a finite number", name, value)
	}
	if m != nil && m.n > 0 && m.unit != unit {
		return fmt.Errorf("metrics: metric %q recorded in %s and %s in one flush", name, m.unit, unit)
	}
	return nil
}

// Flush writes every value recorded since the last Flush as EMF documents,
// one JSON object per line and per Write, splitting so that no document has
// more than 100 metrics or 100 values per metric, then clears the Recorder.
// It writes nothing when nothing was recorded. It returns the first invalid
// Add since the last Flush, or the write error.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	addErr := r.err
	r.err = nil

	pending := false
	for i := range r.metrics {
		pending = pending || r.metrics[i].n > 0
	}
	if !pending {
		return addErr
	}
	s := r.sink
	ts := s.now().UnixMilli()
	bp := s.buffer()
	var writeErr error
	for more := true; more; {
		*bp, more = r.appendDocument((*bp)[:0], ts)
		if _, err := s.w.Write(*bp); err != nil && writeErr == nil {
			writeErr = fmt.Errorf("metrics: write EMF document: %w", err)
		}
	}
	s.bufs.Put(bp)
	for i := range r.metrics {
		m := &r.metrics[i]
		m.n, m.rest, m.written = 0, m.rest[:0], 0
	}
	return errors.Join(addErr, writeErr)
}

// buffer returns a document buffer from the pool, or a new one large enough
// for the processor's usual document.
func (s *Sink) buffer() *[]byte {
	if bp, ok := s.bufs.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, 512)
	return &b
}

// appendDocument appends the next EMF document, and its newline, from the
// values not yet written: at most MaxValuesPerMetric values of each of at
// most MaxMetricsPerDocument metrics. more reports whether values remain
// after it. The layout is the specification's root node: the _aws metadata
// object with Timestamp and one MetricDirective (Namespace, one dimension
// set, the metric definitions), then each dimension's value and each
// metric's value — a number, or an array of numbers — as top-level members.
func (r *Recorder) appendDocument(b []byte, ts int64) (_ []byte, more bool) {
	s := r.sink
	b = append(b, `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, s.head...)
	taken := 0
	for i := range r.metrics {
		m := &r.metrics[i]
		if m.written == m.n {
			continue
		}
		if taken == MaxMetricsPerDocument {
			break
		}
		if taken > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Name":`...)
		b = appendString(b, m.name)
		b = append(b, `,"Unit":"`...)
		b = append(b, m.unit...) // a valid unit: no escaping needed
		b = append(b, `"}`...)
		taken++
	}
	b = append(b, s.tail...)
	taken = 0
	for i := range r.metrics {
		m := &r.metrics[i]
		if m.written == m.n {
			continue
		}
		if taken == MaxMetricsPerDocument {
			more = true
			break
		}
		taken++
		k := min(m.n-m.written, MaxValuesPerMetric)
		b = append(b, ',')
		b = appendString(b, m.name)
		b = append(b, ':')
		if k == 1 {
			b = appendFloat(b, m.value(m.written))
		} else {
			b = append(b, '[')
			for j := range k {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendFloat(b, m.value(m.written+j))
			}
			b = append(b, ']')
		}
		m.written += k
		more = more || m.written < m.n
	}
	return append(b, '}', '\n'), more
}

// appendFloat appends f as a JSON number, as encoding/json writes a float64:
// plain decimal between 1e-6 and 1e21, exponent form outside.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	if abs == 0 || abs >= 1e-6 && abs < 1e21 {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	b = strconv.AppendFloat(b, f, 'e', -1, 64)
	// Shorten e-09 to e-9, as encoding/json does.
	if n := len(b); b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1]
		b = b[:n-1]
	}
	return b
}

// appendString appends s as a JSON string. Names and dimension values are
// nearly always plain ASCII and copied as they are; anything else (a quote,
// a backslash, a control character, non-ASCII) is escaped by encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
