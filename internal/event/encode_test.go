package event

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tap-trading/tap/internal/schema"
)

// TestEncodeDetailWireForm pins the wire form other producers must match.
func TestEncodeDetailWireForm(t *testing.T) {
	got := string(EncodeDetail(baseReport()))
	want := `{"eventId":"3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2c","orderId":"ORD-2026-000042","accountId":"ACC:eu.desk_7",` +
		`"seq":2,"execType":"PARTIAL_FILL","symbol":"AAPL","side":"BUY","orderQty":"100","cumQty":"40","leavesQty":"60",` +
		`"lastQty":"40","price":"101.25","lastPx":"101.2","avgPx":"101.2","transactTime":"2026-03-02T15:00:00.123456789Z"}`
	if got != want {
		t.Errorf("EncodeDetail =\n%s\nwant\n%s", got, want)
	}
	r := baseReport()
	r.Price, r.LastPx = Decimal{}, Decimal{}
	r.TransactTime = time.Date(2026, 3, 2, 17, 0, 0, 0, time.FixedZone("CET+1", 2*3600))
	got = string(EncodeDetail(r))
	for _, absent := range []string{`"price"`, `"lastPx"`} {
		if strings.Contains(got, absent) {
			t.Errorf("EncodeDetail(no %s) = %s, want the field omitted", absent, got)
		}
	}
	if !strings.Contains(got, `"transactTime":"2026-03-02T15:00:00Z"`) {
		t.Errorf("EncodeDetail = %s, want transactTime in UTC without fraction", got)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *ExecutionReport)
	}{
		{"partial fill", func(r *ExecutionReport) {}},
		{"no prices", func(r *ExecutionReport) { r.Price, r.LastPx = Decimal{}, Decimal{} }},
		{"new", func(r *ExecutionReport) {
			r.ExecType, r.Seq, r.CumQty, r.LeavesQty, r.LastQty, r.AvgPx, r.LastPx =
				ExecNew, 1, MustDecimal("0"), MustDecimal("100"), MustDecimal("0"), MustDecimal("0"), Decimal{}
		}},
		{"fill", func(r *ExecutionReport) {
			r.ExecType, r.CumQty, r.LeavesQty = ExecFill, MustDecimal("100"), MustDecimal("0")
		}},
		{"huge quantities", func(r *ExecutionReport) {
			r.OrderQty = MustDecimal("99999999999999999999999999999999999999")
			r.CumQty = MustDecimal("0.00000000000000000000000000000000000001")
			// 76 digits: the exact difference, more than ParseDecimal allows.
			r.LeavesQty = Decimal{text: "99999999999999999999999999999999999998.99999999999999999999999999999999999999"}
		}},
		{"whole-second time", func(r *ExecutionReport) { r.TransactTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"millisecond time", func(r *ExecutionReport) { r.TransactTime = time.Date(2020, 1, 1, 0, 0, 0, 5e6, time.UTC) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := baseReport()
			tt.mutate(r)
			if tt.name == "huge quantities" {
				// Beyond DynamoDB, so Decode must refuse what the encoder
				// wrote faithfully.
				_, err := Decode(wrap(schema.DetailTypeExecutionReport, EncodeDetail(r)), testNow)
				wantReason(t, err, ReasonDecimalPrecision, "leavesQty")
				return
			}
			if err := Validate(r, testNow); err != nil {
				t.Fatalf("test report invalid: %v", err)
			}
			d, err := Decode(wrap(schema.DetailTypeExecutionReport, EncodeDetail(r)), testNow)
			if err != nil {
				t.Fatalf("Decode(EncodeDetail(r)) error = %v, want nil", err)
			}
			if !reflect.DeepEqual(*d.Report, *r) {
				t.Errorf("Decode(EncodeDetail(r)) = %+v, want %+v", *d.Report, *r)
			}
		})
	}
}

func TestEncodeHeartbeatRoundTrip(t *testing.T) {
	h := Heartbeat{Region: "eu-central-1", SentAt: time.Date(2026, 3, 2, 15, 3, 59, 999, time.UTC)}
	b := EncodeHeartbeat(h)
	if want := `{"region":"eu-central-1","sentAt":"2026-03-02T15:03:59.000000999Z"}`; string(b) != want {
		t.Errorf("EncodeHeartbeat = %s, want %s", b, want)
	}
	d, err := Decode(wrap(schema.DetailTypeHeartbeat, b), testNow)
	if err != nil {
		t.Fatalf("Decode(EncodeHeartbeat) error = %v, want nil", err)
	}
	if d.Heartbeat == nil || *d.Heartbeat != h {
		t.Errorf("Decode(EncodeHeartbeat(h)) = %v, want %v", d.Heartbeat, h)
	}
}

func TestEncodeEnvelopeRoundTrip(t *testing.T) {
	e := Envelope{
		ID: "id-1", Source: "src", DetailType: "Type \"quoted\"", Account: "1", Region: "r",
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Detail: json.RawMessage(`{"a":1}`),
	}
	got, err := DecodeEnvelope(EncodeEnvelope(e))
	if err != nil {
		t.Fatalf("DecodeEnvelope(EncodeEnvelope(e)) error = %v", err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Errorf("DecodeEnvelope(EncodeEnvelope(e)) = %+v, want %+v", got, e)
	}
	if b := EncodeEnvelope(Envelope{Source: "s"}); strings.Contains(string(b), "detail\"") || strings.Contains(string(b), `"time"`) {
		t.Errorf("EncodeEnvelope(no detail, no time) = %s, want both omitted", b)
	}
}

// TestAppendStringMatchesEncodingJSON checks the hand-written string escaper
// produces valid JSON that encoding/json reads back as encoding/json's own
// encoding of the same string reads back (invalid UTF-8 becomes U+FFFD).
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", `quote " and \ backslash`, "ctl \x00\x01\x1f\n\r\t", "é ü 漢字 😀",
		"bad \xff utf8 \xc3", "line\u2028sep\u2029", "<html>&amp;", "\x7f"}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		got := appendString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("appendString(%q) = %s: not valid JSON", s, got)
		}
		var back, want string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("Unmarshal(appendString(%q)): %v", s, err)
		}
		std, _ := json.Marshal(s)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatalf("Unmarshal(json.Marshal(%q)): %v", s, err)
		}
		if back != want {
			t.Errorf("appendString(%q) reads back as %q, want %q", s, back, want)
		}
		if utf8.ValidString(s) && back != s {
			t.Errorf("appendString(%q) reads back as %q, want the input", s, back)
		}
	}
}
