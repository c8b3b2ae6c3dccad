package event

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/schema"
)

// testNow is the processing clock of every test: fixed, so the future-time
// rule is deterministic.
var testNow = time.Date(2026, 3, 2, 15, 4, 5, 0, time.UTC)

// baseDetail returns a valid PARTIAL_FILL detail as a JSON map, for tests to
// mutate one field at a time. Values are json.RawMessage so a test can put
// any JSON text (1.0, 1e3, "5") exactly as a producer would.
func baseDetail() map[string]json.RawMessage {
	return map[string]json.RawMessage{
		"eventId":      raw(`"3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2c"`),
		"orderId":      raw(`"ORD-2026-000042"`),
		"accountId":    raw(`"ACC:eu.desk_7"`),
		"seq":          raw(`2`),
		"execType":     raw(`"PARTIAL_FILL"`),
		"symbol":       raw(`"AAPL"`),
		"side":         raw(`"BUY"`),
		"orderQty":     raw(`"100"`),
		"cumQty":       raw(`"40"`),
		"leavesQty":    raw(`"60"`),
		"lastQty":      raw(`"40"`),
		"price":        raw(`"101.25"`),
		"lastPx":       raw(`"101.2"`),
		"avgPx":        raw(`"101.2"`),
		"transactTime": raw(`"2026-03-02T15:00:00.123456789Z"`),
	}
}

// baseReport is what baseDetail decodes to.
func baseReport() *ExecutionReport {
	return &ExecutionReport{
		EventID:      "3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2c",
		OrderID:      "ORD-2026-000042",
		AccountID:    "ACC:eu.desk_7",
		Seq:          2,
		ExecType:     ExecPartialFill,
		Symbol:       "AAPL",
		Side:         SideBuy,
		OrderQty:     MustDecimal("100"),
		CumQty:       MustDecimal("40"),
		LeavesQty:    MustDecimal("60"),
		LastQty:      MustDecimal("40"),
		Price:        MustDecimal("101.25"),
		LastPx:       MustDecimal("101.2"),
		AvgPx:        MustDecimal("101.2"),
		TransactTime: time.Date(2026, 3, 2, 15, 0, 0, 123456789, time.UTC),
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// detailBytes marshals a detail map; absent keys are simply not in the map.
func detailBytes(t testing.TB, m map[string]json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal detail: %v", err)
	}
	return b
}

// wrap puts a detail into an EventBridge envelope as Lambda receives it.
func wrap(detailType string, detail []byte) []byte {
	return EncodeEnvelope(Envelope{
		ID:         "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
		Source:     schema.Source,
		DetailType: detailType,
		Account:    "111122223333",
		Region:     "eu-west-1",
		Time:       time.Date(2026, 3, 2, 15, 0, 1, 0, time.UTC),
		Detail:     detail,
	})
}

// reportEvent is a full ExecutionReport event whose detail is m.
func reportEvent(t testing.TB, m map[string]json.RawMessage) []byte {
	t.Helper()
	return wrap(schema.DetailTypeExecutionReport, detailBytes(t, m))
}

// wantReason asserts that err is a *ValidationError with the given reason and
// field, and a message naming the field.
func wantReason(t *testing.T, err error, reason Reason, field string) {
	t.Helper()
	var v *ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("error = %v (%T), want *ValidationError %s", err, err, reason)
	}
	if v.Reason != reason || v.Field != field {
		t.Errorf("error = {%s, field %q}: %s; want {%s, field %q}", v.Reason, v.Field, v.Message, reason, field)
	}
	if v.Message == "" {
		t.Errorf("error %s has an empty message", v.Reason)
	}
}
