// Package logging builds the processor's JSON logger on log/slog with the keys
// Powertools for AWS Lambda uses (DESIGN §5). The same CloudWatch Logs Insights
// queries then work on Go and Powertools functions alike, and Lambda's advanced
// logging controls can filter by level, because `level` is one of DEBUG, INFO,
// WARN, ERROR and `timestamp` is RFC 3339 in UTC.
package logging

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Keys of a log line. The first four are written by the handler itself; the
// others are set by New, ForInvocation or the caller.
const (
	KeyTimestamp     = "timestamp"
	KeyLevel         = "level"
	KeyMessage       = "message"
	KeyService       = "service"
	KeyColdStart     = "cold_start"
	KeyFunctionName  = "function_name"
	KeyRequestID     = "function_request_id"
	KeyTraceID       = "xray_trace_id"
	KeyCorrelationID = "correlation_id"
	KeyOrderID       = "order_id"
	KeyOutcome       = "outcome"
	KeyReason        = "reason"
	KeyPayload       = "payload"
)

// timestampLayout is RFC 3339 with milliseconds; times are converted to UTC
// first, so the zone is always "Z", as Lambda and Powertools write it.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// MaxPayload is the most bytes of a payload DebugPayload logs; a CloudWatch
// log event is capped at 256 KB and a debug line should stay far below it.
const MaxPayload = 16 << 10

// New returns a logger writing one JSON object per line to w, with service on
// every line and records below level dropped before they are formatted.
func New(w io.Writer, service string, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: replaceAttr})
	return slog.New(h).With(slog.String(KeyService, service))
}

// replaceAttr renames slog's built-in keys to the Powertools ones and formats
// the time and the level the way Lambda's log-level filtering expects.
func replaceAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		if a.Value.Kind() == slog.KindTime {
			return slog.String(KeyTimestamp, a.Value.Time().UTC().Format(timestampLayout))
		}
		a.Key = KeyTimestamp
	case slog.MessageKey:
		a.Key = KeyMessage
	case slog.LevelKey:
		if l, ok := a.Value.Any().(slog.Level); ok {
			return slog.String(KeyLevel, levelName(l))
		}
	}
	return a
}

// levelName maps any slog level to one of the four names Lambda understands;
// slog itself would print an in-between level as "INFO+2", which Lambda
// cannot filter on.
func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARN"
	default:
		return "ERROR"
	}
}

// ParseLevel parses a POWERTOOLS_LOG_LEVEL value: DEBUG, INFO, WARN (or
// WARNING) or ERROR, in any case. An empty value is an error too, so a
// missing variable is reported rather than silently defaulted; callers that
// want a default check for "" first.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DEBUG":
		return slog.LevelDebug, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "WARN", "WARNING":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q is not valid: use DEBUG, INFO, WARN (or WARNING) or ERROR", s)
}

// Invocation holds the per-invocation fields every line of one invocation carries.
type Invocation struct {
	// FunctionName is the Lambda function name (AWS_LAMBDA_FUNCTION_NAME). Omitted when empty.
	FunctionName string
	// RequestID is the Lambda request ID of the invocation. Omitted when empty.
	RequestID string
	// TraceID is the X-Ray trace ID (the Root of _X_AMZN_TRACE_ID). Omitted when empty.
	TraceID string
	// ColdStart is true for the first invocation of an execution environment.
	ColdStart bool
}

// ForInvocation returns l with the invocation's fields attached. slog's JSON
// handler encodes them once here, not on every line, so calling it once per
// invocation is cheap.
func ForInvocation(l *slog.Logger, inv Invocation) *slog.Logger {
	attrs := make([]any, 0, 4)
	attrs = append(attrs, slog.Bool(KeyColdStart, inv.ColdStart))
	if inv.FunctionName != "" {
		attrs = append(attrs, slog.String(KeyFunctionName, inv.FunctionName))
	}
	if inv.RequestID != "" {
		attrs = append(attrs, slog.String(KeyRequestID, inv.RequestID))
	}
	if inv.TraceID != "" {
		attrs = append(attrs, slog.String(KeyTraceID, inv.TraceID))
	}
	return l.With(attrs...)
}

// DebugPayload logs payload at DEBUG under the "payload" key — as a JSON value
// when it is valid JSON, else as a string — and does nothing, not even
// validate it, when DEBUG is disabled: payloads may hold account data and are
// logged only at DEBUG (issue 3). Payloads over MaxPayload bytes are cut and
// logged as a string with payload_truncated set.
func DebugPayload(ctx context.Context, l *slog.Logger, msg string, payload []byte, args ...any) {
	if !l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	switch {
	case len(payload) > MaxPayload:
		args = append(args, slog.String(KeyPayload, string(payload[:MaxPayload])), slog.Bool("payload_truncated", true))
	case json.Valid(payload):
		args = append(args, slog.Any(KeyPayload, json.RawMessage(payload)))
	default:
		args = append(args, slog.String(KeyPayload, string(payload)))
	}
	l.Log(ctx, slog.LevelDebug, msg, args...)
}
