package event

import (
	"testing"

	"github.com/tap-trading/tap/internal/schema"
)

// TestTypeErrorBehindAnIgnoredOneIsReported: encoding/json reports only the
// first type error; one on a field of the other detail type (ignored) must
// not hide a later one on this type's field or on the envelope.
func TestTypeErrorBehindAnIgnoredOneIsReported(t *testing.T) {
	withFields := func(extra ...string) []byte {
		d := string(detailBytes(t, baseDetail()))
		for _, e := range extra {
			d = d[:len(d)-1] + "," + e + "}"
		}
		return wrap(schema.DetailTypeExecutionReport, []byte(d))
	}
	cases := []struct {
		name   string
		raw    []byte
		reason Reason
		field  string
	}{
		{"numeric price after a numeric region", withFields(`"region":1`, `"price":5`), ReasonInvalidDecimal, "price"},
		{"numeric lastPx after a bool sentAt", withFields(`"sentAt":false`, `"lastPx":101.2`), ReasonInvalidDecimal, "lastPx"},
		{"heartbeat: numeric account after a numeric eventId",
			[]byte(`{"source":"tap.trading","detail-type":"Heartbeat","detail":{"eventId":1,"region":"eu-west-1","sentAt":"2026-03-02T15:00:00Z"},"account":5}`),
			ReasonInvalidEnvelope, "account"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.raw, testNow)
			wantReason(t, err, c.reason, c.field)
		})
	}
	// An ignored type error alone still leaves the event valid.
	if _, err := Decode(withFields(`"region":1`), testNow); err != nil {
		t.Errorf("an ExecutionReport with a numeric (ignored) region: %v, want accepted", err)
	}
}

// TestTimesOutsideRFC3339AreRejected: time.Parse(time.RFC3339, …) falls back
// to Go's layout parser, which takes what RFC 3339 §5.6 does not.
func TestTimesOutsideRFC3339AreRejected(t *testing.T) {
	for _, ts := range []string{
		"2026-03-02T9:00:00Z", "2026-03-02T15:00:00,5Z", "2026-03-02T15:00:00+24:00", "2026-03-01T15:00:00-23:60",
		"2026-03-02t15:00:00Z", "2026-03-02T15:00:00z", "2026-03-02T15:00:00.Z", "2026-03-02T15:00Z", "2026-03-02T15:00:00",
	} {
		m := baseDetail()
		m["transactTime"] = raw(`"` + ts + `"`)
		_, err := Decode(reportEvent(t, m), testNow)
		wantReason(t, err, ReasonInvalidTime, "transactTime")
	}
	for _, ts := range []string{"2026-03-02T15:00:00Z", "2026-03-02T15:00:00.123456789Z", "2026-03-02T16:00:00+01:00", "2026-03-02T03:01:00-11:59"} {
		m := baseDetail()
		m["transactTime"] = raw(`"` + ts + `"`)
		if _, err := Decode(reportEvent(t, m), testNow); err != nil {
			t.Errorf("transactTime %s: %v, want accepted", ts, err)
		}
	}
}
