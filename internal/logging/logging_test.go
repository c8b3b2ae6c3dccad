package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// lines parses every line of buf as one JSON object.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not a JSON object: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// only parses buf and fails unless it holds exactly one line.
func only(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	ls := lines(t, buf)
	if len(ls) != 1 {
		t.Fatalf("got %d log lines, want 1:\n%s", len(ls), buf)
	}
	return ls[0]
}

func TestLineHasPowertoolsKeys(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, "tap-processor", slog.LevelInfo)
	l = ForInvocation(l, Invocation{
		FunctionName: "tap-dev-processor",
		RequestID:    "c6af9ac6-7b61-11e6-9a41-93e812345678",
		TraceID:      "1-5759e988-bd862e3fe1be46a994272793",
		ColdStart:    true,
	})
	before := time.Now().UTC().Truncate(time.Millisecond)
	l.Info("event applied",
		KeyCorrelationID, "9f0b4a57-4b0e-4d8c-9d3a-2c1f0e6a7b11",
		KeyOrderID, "ORD-1", KeyOutcome, "applied")
	after := time.Now().UTC()

	got := only(t, &buf)
	want := map[string]any{
		KeyLevel:         "INFO",
		KeyMessage:       "event applied",
		KeyService:       "tap-processor",
		KeyColdStart:     true,
		KeyFunctionName:  "tap-dev-processor",
		KeyRequestID:     "c6af9ac6-7b61-11e6-9a41-93e812345678",
		KeyTraceID:       "1-5759e988-bd862e3fe1be46a994272793",
		KeyCorrelationID: "9f0b4a57-4b0e-4d8c-9d3a-2c1f0e6a7b11",
		KeyOrderID:       "ORD-1",
		KeyOutcome:       "applied",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("key %q = %#v, want %#v", k, got[k], w)
		}
	}
	for _, k := range []string{"msg", "time"} {
		if _, ok := got[k]; ok {
			t.Errorf("line has slog's default key %q; Powertools uses message/timestamp: %v", k, got)
		}
	}
	ts, _ := got[KeyTimestamp].(string)
	parsed, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		t.Fatalf("timestamp %q is not RFC 3339: %v", ts, err)
	}
	if !strings.HasSuffix(ts, "Z") || len(ts) != len("2006-01-02T15:04:05.000Z") {
		t.Errorf("timestamp %q, want UTC with milliseconds like 2006-01-02T15:04:05.000Z", ts)
	}
	if parsed.Before(before) || parsed.After(after) {
		t.Errorf("timestamp %v not within [%v, %v]", parsed, before, after)
	}
}

func TestForInvocationOmitsEmptyFields(t *testing.T) {
	var buf bytes.Buffer
	l := ForInvocation(New(&buf, "svc", slog.LevelInfo), Invocation{RequestID: "r-1"})
	l.Info("hello")
	got := only(t, &buf)
	if got[KeyColdStart] != false {
		t.Errorf("cold_start = %#v, want false", got[KeyColdStart])
	}
	for _, k := range []string{KeyFunctionName, KeyTraceID} {
		if v, ok := got[k]; ok {
			t.Errorf("key %q = %#v, want it omitted when empty", k, v)
		}
	}
}

func TestLevelFiltering(t *testing.T) {
	tests := []struct {
		min  slog.Level
		want []string // levels that get through, in order
	}{
		{slog.LevelDebug, []string{"DEBUG", "INFO", "WARN", "ERROR"}},
		{slog.LevelInfo, []string{"INFO", "WARN", "ERROR"}},
		{slog.LevelWarn, []string{"WARN", "ERROR"}},
		{slog.LevelError, []string{"ERROR"}},
	}
	for _, tt := range tests {
		t.Run(tt.min.String(), func(t *testing.T) {
			var buf bytes.Buffer
			l := New(&buf, "svc", tt.min)
			l.Debug("d")
			l.Info("i")
			l.Warn("w")
			l.Error("e")
			var got []string
			for _, line := range lines(t, &buf) {
				got = append(got, line[KeyLevel].(string))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("levels written at min %v = %v, want %v", tt.min, got, tt.want)
			}
		})
	}
}

func TestInBetweenLevelsUseLambdaNames(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug - 4, "DEBUG"},
		{slog.LevelInfo + 2, "INFO"},
		{slog.LevelWarn + 1, "WARN"},
		{slog.LevelError + 4, "ERROR"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		New(&buf, "svc", slog.LevelDebug-8).Log(context.Background(), tt.level, "x")
		if got := only(t, &buf)[KeyLevel]; got != tt.want {
			t.Errorf("level %v written as %v, want %q", tt.level, got, tt.want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"DEBUG", slog.LevelDebug, false},
		{"debug", slog.LevelDebug, false},
		{"INFO", slog.LevelInfo, false},
		{" Info ", slog.LevelInfo, false},
		{"WARN", slog.LevelWarn, false},
		{"warning", slog.LevelWarn, false},
		{"ERROR", slog.LevelError, false},
		{"", 0, true},
		{"TRACE", 0, true},
		{"CRITICAL", 0, true},
		{"3", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseLevel(%q) = %v, nil; want an error", tt.in, got)
			} else if !strings.Contains(err.Error(), "DEBUG, INFO, WARN") || !strings.Contains(err.Error(), `"`+tt.in+`"`) {
				t.Errorf("ParseLevel(%q) error %q should quote the value and list the valid ones", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestDebugPayload(t *testing.T) {
	big := []byte(`"` + strings.Repeat("a", MaxPayload) + `"`)
	tests := []struct {
		name          string
		level         slog.Level
		payload       []byte
		wantLines     int
		wantPayload   any
		wantTruncated bool
	}{
		{"json object at DEBUG", slog.LevelDebug, []byte(`{"detail":{"orderId":"O-1"}}`), 1,
			map[string]any{"detail": map[string]any{"orderId": "O-1"}}, false},
		{"malformed at DEBUG is a string", slog.LevelDebug, []byte(`{"detail":`), 1, `{"detail":`, false},
		{"oversize is cut", slog.LevelDebug, big, 1, string(big[:MaxPayload]), true},
		{"nothing at INFO", slog.LevelInfo, []byte(`{"a":1}`), 0, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			DebugPayload(context.Background(), New(&buf, "svc", tt.level), "received", tt.payload, KeyOrderID, "O-1")
			ls := lines(t, &buf)
			if len(ls) != tt.wantLines {
				t.Fatalf("got %d lines, want %d:\n%s", len(ls), tt.wantLines, &buf)
			}
			if tt.wantLines == 0 {
				return
			}
			got := ls[0]
			gotJSON, _ := json.Marshal(got[KeyPayload])
			wantJSON, _ := json.Marshal(tt.wantPayload)
			if !bytes.Equal(gotJSON, wantJSON) {
				t.Errorf("payload = %.80s, want %.80s", gotJSON, wantJSON)
			}
			if got["payload_truncated"] == true != tt.wantTruncated {
				t.Errorf("payload_truncated = %v, want %v", got["payload_truncated"], tt.wantTruncated)
			}
			if got[KeyLevel] != "DEBUG" || got[KeyOrderID] != "O-1" {
				t.Errorf("line = %v, want level DEBUG and order_id O-1", got)
			}
		})
	}
}

func BenchmarkInfoLine(b *testing.B) {
	l := ForInvocation(New(discard{}, "svc", slog.LevelInfo), Invocation{
		FunctionName: "tap-dev-processor", RequestID: "c6af9ac6-7b61-11e6-9a41-93e812345678",
		TraceID: "1-5759e988-bd862e3fe1be46a994272793", ColdStart: false,
	})
	b.ReportAllocs()
	for b.Loop() {
		l.Info("event applied", KeyCorrelationID, "9f0b4a57-4b0e-4d8c-9d3a-2c1f0e6a7b11",
			KeyOrderID, "ORD-1", KeyOutcome, "applied")
	}
}

func BenchmarkForInvocation(b *testing.B) {
	l := New(discard{}, "svc", slog.LevelInfo)
	b.ReportAllocs()
	for b.Loop() {
		ForInvocation(l, Invocation{FunctionName: "f", RequestID: "r", TraceID: "t", ColdStart: true})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
