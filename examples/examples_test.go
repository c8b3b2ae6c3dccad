// Package examples holds example events (see README.md); its test runs
// every one through the processor's decoder and validator, so they stay
// valid, and the invalid ones keep the reason code their name says.
package examples

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/schema"
)

// now is the processing clock of the test: the examples' transactTime is
// 2026-01-05T14:30:00Z, valid at any later time.
var now = time.Now()

// deliver wraps a detail in the envelope EventBridge delivers it in. The
// detail-type is chosen the way tapctl send chooses it: a detail with sentAt
// and no eventId is a Heartbeat.
func deliver(t *testing.T, detail []byte) []byte {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(detail, &fields); err != nil {
		t.Fatalf("not a JSON object: %v", err)
	}
	detailType := schema.DetailTypeExecutionReport
	_, hasSentAt := fields["sentAt"]
	_, hasEventID := fields["eventId"]
	if hasSentAt && !hasEventID {
		detailType = schema.DetailTypeHeartbeat
	}
	return event.EncodeEnvelope(event.Envelope{
		ID: "0b6b7f4e-5a55-4b8a-9d0e-2f1f6f9b2c11", Source: schema.Source, DetailType: detailType,
		Account: "123456789012", Region: "us-east-1", Time: now.UTC().Truncate(time.Second), Detail: detail,
	})
}

// decode runs one delivered event through the processor's decoder and
// validator.
func decode(t *testing.T, detail []byte) error {
	t.Helper()
	_, err := event.Decode(deliver(t, detail), now)
	return err
}

func files(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("no files match %s (%v)", pattern, err)
	}
	return m
}

func TestValidExamples(t *testing.T) {
	execTypes := map[string]bool{}
	for _, path := range files(t, "valid/*.json") {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(bytes.TrimSpace(b), []byte("\n")) != 0 {
			t.Errorf("%s: not one line: tapctl send reads one event per line", path)
		}
		if err := decode(t, b); err != nil {
			t.Errorf("%s: rejected: %v", path, err)
		}
		var d struct{ ExecType string }
		_ = json.Unmarshal(b, &d)
		execTypes[d.ExecType] = true
	}
	for _, et := range []string{"NEW", "PARTIAL_FILL", "FILL", "CANCELED", "REPLACED", "REJECTED", "EXPIRED", ""} {
		if !execTypes[et] {
			t.Errorf("no valid example of execType %q (\"\" is the heartbeat)", et)
		}
	}
}

// TestInvalidExamples: each invalid/REASON.json is rejected with REASON.
func TestInvalidExamples(t *testing.T) {
	for _, path := range files(t, "invalid/*.json") {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want := event.Reason(strings.TrimSuffix(filepath.Base(path), ".json"))
		if !slices.Contains(event.Reasons(), want) {
			t.Errorf("%s: %s is not a reason code", path, want)
			continue
		}
		err = decode(t, b)
		if got := event.ReasonOf(err); got != want {
			t.Errorf("%s: reason %q (%v), want %q", path, got, err, want)
		}
	}
}

// TestLifecycle: the README's walk-through sends lifecycle.jsonl; every
// line is valid, and the events are one order's seq 1, 2, 3.
func TestLifecycle(t *testing.T) {
	f, err := os.Open("lifecycle.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seqs []int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		d, err := event.Decode(deliver(t, sc.Bytes()), now)
		if err != nil {
			t.Fatalf("lifecycle.jsonl line %d: %v", len(seqs)+1, err)
		}
		if d.Report.OrderID != "ORD-1001" {
			t.Errorf("line %d: order %s, want ORD-1001 (the README reads it back)", len(seqs)+1, d.Report.OrderID)
		}
		seqs = append(seqs, d.Report.Seq)
	}
	if !slices.Equal(seqs, []int64{1, 2, 3}) {
		t.Errorf("seqs %v, want 1 2 3", seqs)
	}
}

// TestPutEventsEntries: put-events.json is what `aws events put-events
// --entries file://examples/put-events.json` takes, addressed to the bus of
// tapctl local's default env, with valid details.
func TestPutEventsEntries(t *testing.T) {
	b, err := os.ReadFile("put-events.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct{ EventBusName, Source, DetailType, Detail string }
	if err := json.Unmarshal(b, &entries); err != nil || len(entries) == 0 {
		t.Fatalf("put-events.json: %v (%d entries)", err, len(entries))
	}
	for i, e := range entries {
		if e.EventBusName != names.For(local.DefaultEnv).Bus() || e.Source != schema.Source || e.DetailType != schema.DetailTypeExecutionReport {
			t.Errorf("entry %d: bus %q source %q detail-type %q, want %s, %s, %s", i, e.EventBusName, e.Source, e.DetailType,
				names.For(local.DefaultEnv).Bus(), schema.Source, schema.DetailTypeExecutionReport)
		}
		if err := decode(t, []byte(e.Detail)); err != nil {
			t.Errorf("entry %d: detail rejected: %v", i, err)
		}
	}
}
