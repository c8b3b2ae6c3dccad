package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// daemonHeader starts every datagram: the X-Ray daemon protocol header.
const daemonHeader = `{"format": "json", "version": 1}` + "\n"

// MaxDatagram bounds a datagram (header and segment): a segment document may
// be up to 64 kB, and a UDP datagram carries at most 65,507 bytes.
const MaxDatagram = 64_000

// Field limits of X-Ray segment documents.
const (
	maxNameLen    = 200  // name
	maxStringLen  = 250  // most string fields, annotation values
	maxMessageLen = 1024 // an exception message; our own cap, to stay far below 64 kB
)

// daemonExporter is an sdktrace.SpanExporter that sends each span as an X-Ray
// subsegment document in its own UDP datagram.
type daemonExporter struct {
	mu      sync.Mutex
	conn    net.Conn
	buf     bytes.Buffer
	enc     *json.Encoder
	onError func(error)
}

func newDaemonExporter(conn net.Conn, onError func(error)) *daemonExporter {
	if onError == nil {
		onError = func(error) {}
	}
	e := &daemonExporter{conn: conn, onError: onError}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}

// ExportSpans sends every span. It reports failures to onError and never
// returns them: the SDK would print them on stderr, and a lost segment must
// not fail the invocation.
func (e *daemonExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range spans {
		dgram, err := e.encode(toSegment(s))
		if err == nil {
			_, err = e.conn.Write(dgram)
		}
		if err != nil {
			e.onError(fmt.Errorf("tracing: send segment %s (%s): %w", s.SpanContext().SpanID(), s.Name(), err))
		}
	}
	return nil
}

// encode returns the datagram for seg, dropping the cause if the document
// would not fit in MaxDatagram. The slice is valid until the next call.
func (e *daemonExporter) encode(seg segment) ([]byte, error) {
	for {
		e.buf.Reset()
		e.buf.WriteString(daemonHeader)
		if err := e.enc.Encode(seg); err != nil {
			return nil, err
		}
		dgram := bytes.TrimSuffix(e.buf.Bytes(), []byte("\n"))
		if len(dgram) <= MaxDatagram {
			return dgram, nil
		}
		if seg.Cause == nil {
			return nil, fmt.Errorf("segment is %d bytes, over the %d-byte datagram limit", len(dgram), MaxDatagram)
		}
		seg.Cause = nil
	}
}

// Shutdown closes the socket.
func (e *daemonExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conn.Close()
}

// segment is an X-Ray subsegment document sent on its own ("independent
// subsegment"): it names its trace and parent.
type segment struct {
	Name        string            `json:"name"`
	ID          string            `json:"id"`
	TraceID     string            `json:"trace_id"`
	ParentID    string            `json:"parent_id,omitempty"`
	Type        string            `json:"type,omitempty"`
	StartTime   float64           `json:"start_time"`
	EndTime     float64           `json:"end_time"`
	Namespace   string            `json:"namespace,omitempty"`
	Error       bool              `json:"error,omitempty"`
	Fault       bool              `json:"fault,omitempty"`
	Throttle    bool              `json:"throttle,omitempty"`
	Cause       *cause            `json:"cause,omitempty"`
	HTTP        *httpData         `json:"http,omitempty"`
	AWS         *awsData          `json:"aws,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type awsData struct {
	Operation string `json:"operation,omitempty"`
	Region    string `json:"region,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	TableName string `json:"table_name,omitempty"`
	QueueURL  string `json:"queue_url,omitempty"`
	Retries   int    `json:"retries,omitempty"`
}

type httpData struct {
	Response httpResponse `json:"response"`
}

type httpResponse struct {
	Status int64 `json:"status"`
}

type cause struct {
	Exceptions []exception `json:"exceptions"`
}

type exception struct {
	ID      string `json:"id"`
	Message string `json:"message,omitempty"`
	Type    string `json:"type,omitempty"`
	Remote  bool   `json:"remote,omitempty"`
}

// toSegment converts a finished span. A span with a parent becomes a
// subsegment of it — for the invocation span, of Lambda's function segment,
// whose ID the trace header's Parent carries. An AWS SDK call (otelaws) is
// named after its service, in namespace "aws", with the aws object X-Ray
// builds the trace map from, as the X-Ray SDK does.
func toSegment(s sdktrace.ReadOnlySpan) segment {
	sc := s.SpanContext()
	seg := segment{
		Name:      s.Name(),
		ID:        sc.SpanID().String(),
		TraceID:   xrayTraceID(sc.TraceID()),
		StartTime: epochSeconds(s.StartTime().UnixNano()),
		EndTime:   epochSeconds(s.EndTime().UnixNano()),
	}
	if p := s.Parent(); p.SpanID().IsValid() {
		seg.ParentID = p.SpanID().String()
		seg.Type = "subsegment"
	}

	var (
		isAWS             bool
		method, errorCode string
		errorType         string
		status            int64
		attempts          int64
		tableNames        []string
		queueURL          string
		region, requestID string
	)
	for _, kv := range s.Attributes() {
		switch kv.Key {
		case semconv.RPCSystemNameKey:
			isAWS = kv.Value.AsString() == "aws-api"
		case semconv.RPCMethodKey:
			method = kv.Value.AsString()
		case semconv.HTTPResponseStatusCodeKey:
			status = kv.Value.AsInt64()
		case semconv.AWSDynamoDBTableNamesKey:
			tableNames = kv.Value.AsStringSlice()
		case semconv.ServerAddressKey:
			queueURL = kv.Value.AsString()
		case semconv.ErrorTypeKey:
			errorType = kv.Value.AsString()
		case "aws.region":
			region = kv.Value.AsString()
		case "aws.request_id":
			requestID = kv.Value.AsString()
		case attrAttempts:
			attempts = kv.Value.AsInt64()
		case attrErrorCode:
			errorCode = kv.Value.AsString()
		default:
			if k, ok := strings.CutPrefix(string(kv.Key), annotationPrefix); ok {
				if seg.Annotations == nil {
					seg.Annotations = make(map[string]string, 3)
				}
				seg.Annotations[k] = truncate(annotationValue(kv.Value), maxStringLen)
			}
		}
	}

	if isAWS {
		service, operation, ok := strings.Cut(method, "/")
		if !ok { // rpc.method without a service: fall back on the span name "Service.Operation"
			service, operation, _ = strings.Cut(s.Name(), ".")
		}
		seg.Name = service
		seg.Namespace = "aws"
		seg.AWS = &awsData{Operation: operation, Region: region, RequestID: requestID}
		if len(tableNames) == 1 {
			seg.AWS.TableName = truncate(tableNames[0], maxStringLen)
		}
		if service == "SQS" {
			seg.AWS.QueueURL = truncate(queueURL, maxStringLen)
		}
		if attempts > 1 {
			seg.AWS.Retries = int(attempts - 1)
		}
	}
	if status > 0 {
		seg.HTTP = &httpData{Response: httpResponse{Status: status}}
	}

	// X-Ray's flags: error for a client error (4xx), throttle (with error) for
	// throttling, fault for a server error (5xx) or a failure with no response.
	_, throttled := retry.DefaultThrottleErrorCodes[errorCode]
	switch {
	case status == 429 || throttled:
		seg.Error, seg.Throttle = true, true
	case status >= 500:
		seg.Fault = true
	case status >= 400:
		seg.Error = true
	case s.Status().Code == codes.Error:
		seg.Fault = true
	}
	if s.Status().Code == codes.Error {
		typ := errorCode
		if typ == "" {
			typ = errorType
		}
		seg.Cause = &cause{Exceptions: []exception{{
			ID:      seg.ID,
			Message: truncate(s.Status().Description, maxMessageLen),
			Type:    truncate(typ, maxStringLen),
			Remote:  errorCode != "",
		}}}
	}
	seg.Name = sanitizeName(seg.Name)
	return seg
}

// xrayTraceID writes an OpenTelemetry trace ID in X-Ray form: version 1, the
// first 8 hex digits (the epoch seconds of the xray IDGenerator), the other 24.
func xrayTraceID(id trace.TraceID) string {
	h := id.String()
	return "1-" + h[:8] + "-" + h[8:]
}

// epochSeconds converts Unix nanoseconds to X-Ray's float seconds.
func epochSeconds(ns int64) float64 {
	return float64(ns/1e9) + float64(ns%1e9)/1e9
}

func annotationValue(v attribute.Value) string {
	if v.Type() == attribute.STRING {
		return v.AsString()
	}
	return v.Emit()
}

// sanitizeName makes s a valid segment name: at most 200 characters, each a
// letter, digit, space or one of _ . : / % & # = + \ - @.
func sanitizeName(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxNameLen {
			break
		}
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsSpace(r) && !strings.ContainsRune(`_.:/%&#=+\-@`, r) {
			r = '_'
		}
		b.WriteRune(r)
		n++
	}
	if b.Len() == 0 {
		return "unnamed"
	}
	return b.String()
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
