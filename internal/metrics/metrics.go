// Package metrics writes CloudWatch metrics in the Embedded Metric Format
// (EMF): JSON documents printed on stdout that CloudWatch Logs turns into
// metrics, so the processor records metrics with no API call and no extra
// latency (DESIGN §5). A Recorder buffers values during an invocation and
// Flush writes them once, at its end.
package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// Names of the metrics the processor records (DESIGN §5).
const (
	EventsReceived    = "EventsReceived"
	EventsApplied     = "EventsApplied"
	EventsDuplicate   = "EventsDuplicate"
	EventsStale       = "EventsStale"
	EventsRejected    = "EventsRejected"
	ProcessingLatency = "ProcessingLatency" // Milliseconds
	EndToEndLatency   = "EndToEndLatency"   // Milliseconds since transactTime
	ColdStart         = "ColdStart"
)

// ServiceDimension is the dimension every metric carries; its value is the
// service name given to New.
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

var validUnits = map[Unit]bool{
	Seconds: true, Microseconds: true, Milliseconds: true,
	Bytes: true, Kilobytes: true, Megabytes: true, Gigabytes: true, Terabytes: true,
	Bits: true, Kilobits: true, Megabits: true, Gigabits: true, Terabits: true,
	Percent: true, Count: true,
	BytesPerSecond: true, KilobytesPerSec: true, MegabytesPerSec: true, GigabytesPerSec: true, TerabytesPerSec: true,
	BitsPerSecond: true, KilobitsPerSec: true, MegabitsPerSec: true, GigabitsPerSec: true, TerabitsPerSec: true,
	CountPerSecond: true, None: true,
}

// Valid reports whether u is a unit CloudWatch accepts.
func (u Unit) Valid() bool { return validUnits[u] }

// Option configures a Recorder.
type Option func(*Recorder)

// WithDimension adds a dimension to every metric (all dimensions form one
// dimension set). Use it only for low-cardinality values such as a region:
// each distinct value is a separate, billed CloudWatch metric.
func WithDimension(name, value string) Option {
	return func(r *Recorder) { r.dims = append(r.dims, dimension{name, value}) }
}

// WithClock sets the clock that stamps documents; tests use it.
func WithClock(now func() time.Time) Option {
	return func(r *Recorder) { r.now = now }
}

type dimension struct{ name, value string }

type metric struct {
	name   string
	unit   Unit
	values []float64
}

// Recorder buffers metric values and writes them as EMF documents on Flush.
// It is safe for concurrent use.
type Recorder struct {
	w         io.Writer
	namespace string
	dims      []dimension
	now       func() time.Time

	mu      sync.Mutex
	metrics []*metric // in first-Add order, kept across flushes to reuse buffers
	index   map[string]*metric
	err     error // first invalid Add since the last Flush
}

// New returns a Recorder writing to w (stdout in Lambda) under namespace,
// with the service dimension set to service. It checks the namespace, the
// dimensions and their count against the EMF limits.
func New(w io.Writer, namespace, service string, opts ...Option) (*Recorder, error) {
	r := &Recorder{
		w:         w,
		namespace: namespace,
		dims:      []dimension{{ServiceDimension, service}},
		now:       time.Now,
		index:     make(map[string]*metric),
	}
	for _, o := range opts {
		o(r)
	}
	if err := validNamespace(namespace); err != nil {
		return nil, err
	}
	if len(r.dims) > MaxDimensions {
		return nil, fmt.Errorf("metrics: %d dimensions, at most %d allowed", len(r.dims), MaxDimensions)
	}
	seen := make(map[string]bool, len(r.dims))
	for _, d := range r.dims {
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
	return r, nil
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

// Add records value for metric name in unit. Adding the same name several
// times before a Flush records all values (EMF value arrays). An invalid
// call — bad unit, a name that is empty, too long or clashes with a
// dimension, a unit different from the name's first one, a NaN or an
// infinity — is dropped, and the first such error is returned by the next
// Flush, so a mistake shows up without failing the invocation's hot path.
func (r *Recorder) Add(name string, unit Unit, value float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(name, unit, value); err != nil {
		if r.err == nil {
			r.err = err
		}
		return
	}
	m := r.index[name]
	if m == nil {
		m = &metric{name: name, unit: unit}
		r.index[name] = m
		r.metrics = append(r.metrics, m)
	} else if len(m.values) == 0 {
		m.unit = unit // a metric's unit is fixed per flush, not for ever
	}
	m.values = append(m.values, value)
}

func (r *Recorder) check(name string, unit Unit, value float64) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("metrics: metric name %q must be 1-%d characters", name, maxNameLen)
	}
	if name == "_aws" {
		return errors.New(`metrics: metric name "_aws" is reserved for EMF metadata`)
	}
	for _, d := range r.dims {
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
	if m := r.index[name]; m != nil && len(m.values) > 0 && m.unit != unit {
		return fmt.Errorf("metrics: metric %q recorded in %s and %s in one flush", name, m.unit, unit)
	}
	return nil
}

// Flush writes every value recorded since the last Flush as EMF documents,
// one JSON object per line and per Write, splitting so that no document has
// more than 100 metrics or 100 values per metric, then clears the buffer.
// It writes nothing when nothing was recorded. It returns the first invalid
// Add since the last Flush, or the write error.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	addErr := r.err
	r.err = nil

	pending := make([]*metric, 0, len(r.metrics))
	for _, m := range r.metrics {
		if len(m.values) > 0 {
			pending = append(pending, m)
		}
	}
	if len(pending) == 0 {
		return addErr
	}
	ts := r.now().UnixMilli()
	offsets := make([]int, len(pending)) // values already written, per pending metric
	var writeErr error
	for {
		doc, more := r.document(ts, pending, offsets)
		if doc == nil {
			break
		}
		line, err := json.Marshal(doc)
		if err == nil {
			_, err = r.w.Write(append(line, '\n'))
		}
		if err != nil && writeErr == nil {
			writeErr = fmt.Errorf("metrics: write EMF document: %w", err)
		}
		if !more {
			break
		}
	}
	for _, m := range pending {
		m.values = m.values[:0]
	}
	return errors.Join(addErr, writeErr)
}

// document builds the next EMF document from the values not yet written
// (offsets), taking at most MaxValuesPerMetric values of each of at most
// MaxMetricsPerDocument metrics, and advances offsets. more reports whether
// values remain after it.
func (r *Recorder) document(ts int64, pending []*metric, offsets []int) (doc map[string]any, more bool) {
	n := min(len(pending), MaxMetricsPerDocument)
	defs := make([]metricDefinition, 0, n)
	doc = make(map[string]any, len(r.dims)+n+1)
	for i, m := range pending {
		rest := len(m.values) - offsets[i]
		if rest == 0 {
			continue
		}
		if len(defs) == MaxMetricsPerDocument {
			more = true
			break
		}
		n := min(rest, MaxValuesPerMetric)
		vals := m.values[offsets[i] : offsets[i]+n]
		offsets[i] += n
		if offsets[i] < len(m.values) {
			more = true
		}
		defs = append(defs, metricDefinition{Name: m.name, Unit: m.unit})
		if len(vals) == 1 {
			doc[m.name] = vals[0]
		} else {
			doc[m.name] = vals
		}
	}
	if len(defs) == 0 {
		return nil, false
	}
	set := make([]string, len(r.dims))
	for i, d := range r.dims {
		set[i] = d.name
		doc[d.name] = d.value
	}
	doc["_aws"] = metadata{
		Timestamp: ts,
		CloudWatchMetrics: []metricDirective{{
			Namespace:  r.namespace,
			Dimensions: [][]string{set},
			Metrics:    defs,
		}},
	}
	return doc, more
}

type metadata struct {
	Timestamp         int64             `json:"Timestamp"`
	CloudWatchMetrics []metricDirective `json:"CloudWatchMetrics"`
}

type metricDirective struct {
	Namespace  string             `json:"Namespace"`
	Dimensions [][]string         `json:"Dimensions"`
	Metrics    []metricDefinition `json:"Metrics"`
}

type metricDefinition struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit"`
}
