package event

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/schema"
)

func TestDecodeValidReport(t *testing.T) {
	d, err := Decode(reportEvent(t, baseDetail()), testNow)
	if err != nil {
		t.Fatalf("Decode(valid) error = %v, want nil", err)
	}
	if d.Heartbeat != nil {
		t.Errorf("Decode(valid report).Heartbeat = %+v, want nil", d.Heartbeat)
	}
	if d.Report == nil {
		t.Fatal("Decode(valid report).Report = nil, want the report")
	}
	if got, want := *d.Report, *baseReport(); !reflect.DeepEqual(got, want) {
		t.Errorf("Decode(valid report).Report = %+v, want %+v", got, want)
	}
	wantEnv := Envelope{
		ID: "6a7e8feb-b491-4cf7-a9f1-bf3703467718", Source: schema.Source, DetailType: schema.DetailTypeExecutionReport,
		Account: "111122223333", Region: "eu-west-1", Time: time.Date(2026, 3, 2, 15, 0, 1, 0, time.UTC),
	}
	if !reflect.DeepEqual(d.Envelope, wantEnv) {
		t.Errorf("Decode(valid report).Envelope = %+v, want %+v", d.Envelope, wantEnv)
	}
	if d.EventID != baseReport().EventID || d.OrderID != baseReport().OrderID {
		t.Errorf("Decode IDs = %q, %q, want %q, %q", d.EventID, d.OrderID, baseReport().EventID, baseReport().OrderID)
	}
}

// TestDecodeAccepts covers valid variants and the normalizations Decode
// applies; check inspects the decoded report.
func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m map[string]json.RawMessage)
		check  func(t *testing.T, r *ExecutionReport)
	}{
		{"price absent", func(m map[string]json.RawMessage) { delete(m, "price") },
			func(t *testing.T, r *ExecutionReport) { wantUnset(t, "price", r.Price) }},
		{"price null", func(m map[string]json.RawMessage) { m["price"] = raw(`null`) },
			func(t *testing.T, r *ExecutionReport) { wantUnset(t, "price", r.Price) }},
		{"price empty", func(m map[string]json.RawMessage) { m["price"] = raw(`""`) },
			func(t *testing.T, r *ExecutionReport) { wantUnset(t, "price", r.Price) }},
		{"lastPx absent", func(m map[string]json.RawMessage) { delete(m, "lastPx") },
			func(t *testing.T, r *ExecutionReport) { wantUnset(t, "lastPx", r.LastPx) }},
		{"unknown detail fields tolerated", func(m map[string]json.RawMessage) {
			m["venue"] = raw(`"XNAS"`)
			m["extra"] = raw(`{"nested":[1,2,{"x":null}]}`)
		}, nil},
		{"upper-case eventId lowered", func(m map[string]json.RawMessage) {
			m["eventId"] = raw(`"3F2B8C1E-9A4D-4E6F-B1C2-7D8E9F0A1B2C"`)
		}, func(t *testing.T, r *ExecutionReport) {
			if want := "3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2c"; r.EventID != want {
				t.Errorf("EventID = %q, want %q", r.EventID, want)
			}
		}},
		{"decimals canonicalized", func(m map[string]json.RawMessage) {
			m["orderQty"], m["cumQty"], m["leavesQty"] = raw(`"0100.000"`), raw(`"40.0"`), raw(`"060"`)
			m["price"], m["lastQty"] = raw(`"101.250"`), raw(`"-0"`)
		}, func(t *testing.T, r *ExecutionReport) {
			got := []string{r.OrderQty.String(), r.CumQty.String(), r.LeavesQty.String(), r.Price.String(), r.LastQty.String()}
			if want := []string{"100", "40", "60", "101.25", "0"}; !reflect.DeepEqual(got, want) {
				t.Errorf("decimals = %q, want %q", got, want)
			}
		}},
		{"price with 8 places", func(m map[string]json.RawMessage) { m["price"] = raw(`"0.00000001"`) }, nil},
		{"9 places that are trailing zeros", func(m map[string]json.RawMessage) { m["price"] = raw(`"101.250000000"`) }, nil},
		{"transactTime with offset becomes UTC", func(m map[string]json.RawMessage) {
			m["transactTime"] = raw(`"2026-03-02T17:00:00+02:00"`)
		}, func(t *testing.T, r *ExecutionReport) {
			if want := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC); r.TransactTime != want {
				t.Errorf("TransactTime = %v, want %v", r.TransactTime, want)
			}
		}},
		{"transactTime exactly 5 minutes ahead", func(m map[string]json.RawMessage) {
			m["transactTime"] = raw(`"2026-03-02T15:09:05Z"`)
		}, nil},
		{"transactTime long ago", func(m map[string]json.RawMessage) { m["transactTime"] = raw(`"1999-12-31T23:59:59Z"`) }, nil},
		{"NEW before any fill", func(m map[string]json.RawMessage) {
			m["execType"], m["seq"] = raw(`"NEW"`), raw(`1`)
			m["cumQty"], m["leavesQty"], m["lastQty"], m["avgPx"] = raw(`"0"`), raw(`"100"`), raw(`"0"`), raw(`"0"`)
			delete(m, "lastPx")
		}, nil},
		{"FILL", func(m map[string]json.RawMessage) {
			m["execType"], m["cumQty"], m["leavesQty"], m["lastQty"] = raw(`"FILL"`), raw(`"100"`), raw(`"0"`), raw(`"60"`)
		}, func(t *testing.T, r *ExecutionReport) {
			if r.ExecType.Status() != StatusFilled {
				t.Errorf("status = %s, want %s", r.ExecType.Status(), StatusFilled)
			}
		}},
		{"CANCELED with quantity unfilled", func(m map[string]json.RawMessage) {
			m["execType"], m["leavesQty"] = raw(`"CANCELED"`), raw(`"0"`)
		}, nil},
		{"REPLACED keeps the leaves rule", func(m map[string]json.RawMessage) {
			m["execType"], m["orderQty"], m["leavesQty"] = raw(`"REPLACED"`), raw(`"150"`), raw(`"110"`)
		}, nil},
		{"38-digit quantities, exact leaves", func(m map[string]json.RawMessage) {
			m["orderQty"] = raw(`"1234567890123456789012345678.9012345678"`)
			m["cumQty"] = raw(`"0.0000000001"`)
			m["leavesQty"] = raw(`"1234567890123456789012345678.9012345677"`)
		}, nil},
		{"fractional quantities with carries", func(m map[string]json.RawMessage) {
			m["orderQty"], m["cumQty"], m["leavesQty"] = raw(`"10"`), raw(`"9.99999999"`), raw(`"0.00000001"`)
		}, nil},
		{"largest seq", func(m map[string]json.RawMessage) { m["seq"] = raw(`9999999999`) },
			func(t *testing.T, r *ExecutionReport) {
				if r.Seq != MaxSeq {
					t.Errorf("Seq = %d, want %d", r.Seq, int64(MaxSeq))
				}
			}},
		{"64-char orderId and 16-char symbol", func(m map[string]json.RawMessage) {
			m["orderId"] = raw(`"` + strings.Repeat("a", 64) + `"`)
			m["symbol"] = raw(`"BRK.B/USD-2026.1"`)
		}, nil},
		{"heartbeat fields of any type are unknown fields of a report", func(m map[string]json.RawMessage) {
			m["region"], m["sentAt"] = raw(`5`), raw(`{"at":1}`)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := baseDetail()
			tt.mutate(m)
			d, err := Decode(reportEvent(t, m), testNow)
			if err != nil {
				t.Fatalf("Decode error = %v, want nil", err)
			}
			if d.Report == nil {
				t.Fatal("Decode.Report = nil, want a report")
			}
			if err := Validate(d.Report, testNow); err != nil {
				t.Errorf("Validate(decoded) = %v, want nil", err)
			}
			if tt.check != nil {
				tt.check(t, d.Report)
			}
		})
	}
}

func wantUnset(t *testing.T, field string, d Decimal) {
	t.Helper()
	if d.IsSet() {
		t.Errorf("%s = %q, want unset", field, d)
	}
}

// detailRejections is one case per way a detail field breaks the contract.
// The coverage test below checks every Reason appears somewhere.
var detailRejections = []struct {
	name   string
	mutate func(m map[string]json.RawMessage)
	reason Reason
	field  string
}{
	{"eventId absent", del("eventId"), ReasonMissingField, "eventId"},
	{"eventId null", set("eventId", `null`), ReasonMissingField, "eventId"},
	{"eventId empty", set("eventId", `""`), ReasonMissingField, "eventId"},
	{"eventId not a UUID", set("eventId", `"evt-42"`), ReasonInvalidEventID, "eventId"},
	{"eventId dashes misplaced", set("eventId", `"3f2b8c1e9-a4d-4e6f-b1c2-7d8e9f0a1b2c"`), ReasonInvalidEventID, "eventId"},
	{"eventId non-hex", set("eventId", `"3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2g"`), ReasonInvalidEventID, "eventId"},
	{"eventId braced", set("eventId", `"{3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2c}"`), ReasonInvalidEventID, "eventId"},
	{"eventId without dashes", set("eventId", `"3f2b8c1e9a4d4e6fb1c27d8e9f0a1b2c"`), ReasonInvalidEventID, "eventId"},
	{"eventId a number", set("eventId", `42`), ReasonInvalidEventID, "eventId"},
	{"orderId absent", del("orderId"), ReasonMissingField, "orderId"},
	{"orderId 65 chars", set("orderId", `"`+strings.Repeat("a", 65)+`"`), ReasonInvalidID, "orderId"},
	{"orderId with space", set("orderId", `"ORD 1"`), ReasonInvalidID, "orderId"},
	{"orderId non-ASCII", set("orderId", `"ordé"`), ReasonInvalidID, "orderId"},
	{"orderId with slash", set("orderId", `"ORD/1"`), ReasonInvalidID, "orderId"},
	{"orderId an object", set("orderId", `{"id":"x"}`), ReasonInvalidID, "orderId"},
	{"accountId absent", del("accountId"), ReasonMissingField, "accountId"},
	{"accountId with hash", set("accountId", `"ACC#1"`), ReasonInvalidID, "accountId"},
	{"seq absent", del("seq"), ReasonMissingField, "seq"},
	{"seq null", set("seq", `null`), ReasonMissingField, "seq"},
	{"seq zero", set("seq", `0`), ReasonInvalidSeq, "seq"},
	{"seq negative", set("seq", `-1`), ReasonInvalidSeq, "seq"},
	{"seq negative zero", set("seq", `-0`), ReasonInvalidSeq, "seq"},
	{"seq fraction", set("seq", `1.5`), ReasonInvalidSeq, "seq"},
	{"seq integral float", set("seq", `1.0`), ReasonInvalidSeq, "seq"},
	{"seq exponent", set("seq", `1e3`), ReasonInvalidSeq, "seq"},
	{"seq string", set("seq", `"5"`), ReasonInvalidSeq, "seq"},
	{"seq overflow", set("seq", `9223372036854775808`), ReasonInvalidSeq, "seq"},
	{"seq over 10 digits", set("seq", `10000000000`), ReasonInvalidSeq, "seq"},
	{"seq huge", set("seq", `123456789012345678901234567890`), ReasonInvalidSeq, "seq"},
	{"seq bool", set("seq", `true`), ReasonInvalidSeq, "seq"},
	{"seq array", set("seq", `[1]`), ReasonInvalidSeq, "seq"},
	{"execType absent", del("execType"), ReasonMissingField, "execType"},
	{"execType lower case", set("execType", `"partial_fill"`), ReasonInvalidExecType, "execType"},
	{"execType unknown", set("execType", `"TRADE"`), ReasonInvalidExecType, "execType"},
	{"execType a number", set("execType", `1`), ReasonInvalidExecType, "execType"},
	{"symbol absent", del("symbol"), ReasonMissingField, "symbol"},
	{"symbol lower case", set("symbol", `"aapl"`), ReasonInvalidSymbol, "symbol"},
	{"symbol 17 chars", set("symbol", `"ABCDEFGHIJKLMNOPQ"`), ReasonInvalidSymbol, "symbol"},
	{"symbol with colon", set("symbol", `"NYSE:IBM"`), ReasonInvalidSymbol, "symbol"},
	{"side absent", del("side"), ReasonMissingField, "side"},
	{"side lower case", set("side", `"buy"`), ReasonInvalidSide, "side"},
	{"side unknown", set("side", `"SHORT"`), ReasonInvalidSide, "side"},
	{"side bool", set("side", `false`), ReasonInvalidSide, "side"},
	{"orderQty absent", del("orderQty"), ReasonMissingField, "orderQty"},
	{"orderQty empty", set("orderQty", `""`), ReasonMissingField, "orderQty"},
	{"orderQty JSON number", set("orderQty", `100`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty exponent", set("orderQty", `"1e2"`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty upper-case exponent", set("orderQty", `"1E2"`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty leading plus", set("orderQty", `"+100"`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty leading space", set("orderQty", `" 100"`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty trailing space", set("orderQty", `"100 "`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty trailing dot", set("orderQty", `"100."`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty leading dot", set("orderQty", `".5"`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty thousands separator", set("orderQty", `"1,000"`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty NaN", set("orderQty", `"NaN"`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty Infinity", set("orderQty", `"Infinity"`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty hex", set("orderQty", `"0x64"`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty two dots", set("orderQty", `"1.0.0"`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty double minus", set("orderQty", `"--1"`), ReasonInvalidDecimal, "orderQty"},
	{"orderQty 39 digits", set("orderQty", `"123456789012345678901234567890123456789"`), ReasonDecimalPrecision, "orderQty"},
	{"orderQty 39 digits with point", set("orderQty", `"1234567890123456789.01234567890123456789"`), ReasonDecimalPrecision, "orderQty"},
	{"orderQty over 64 chars", set("orderQty", `"`+strings.Repeat("0", 64)+`1"`), ReasonDecimalPrecision, "orderQty"},
	{"orderQty negative", set("orderQty", `"-100"`), ReasonNegativeQty, "orderQty"},
	{"cumQty absent", del("cumQty"), ReasonMissingField, "cumQty"},
	{"cumQty negative", set("cumQty", `"-0.5"`), ReasonNegativeQty, "cumQty"},
	{"leavesQty absent", del("leavesQty"), ReasonMissingField, "leavesQty"},
	{"leavesQty negative", set("leavesQty", `"-60"`), ReasonNegativeQty, "leavesQty"},
	{"lastQty absent", del("lastQty"), ReasonMissingField, "lastQty"},
	{"lastQty negative", set("lastQty", `"-1"`), ReasonNegativeQty, "lastQty"},
	{"lastQty a number", set("lastQty", `40.0`), ReasonInvalidDecimal, "lastQty"},
	{"cumQty exceeds orderQty", set("cumQty", `"100.00000001"`), ReasonCumExceedsOrder, "cumQty"},
	{"leavesQty off by a fraction", set("leavesQty", `"59.9999"`), ReasonLeavesMismatch, "leavesQty"},
	{"leavesQty equals orderQty", set("leavesQty", `"100"`), ReasonLeavesMismatch, "leavesQty"},
	{"NEW with leavesQty 0", set("execType", `"NEW"`, "leavesQty", `"0"`, "cumQty", `"0"`), ReasonLeavesMismatch, "leavesQty"},
	{"CANCELED with leaves", set("execType", `"CANCELED"`), ReasonTerminalLeaves, "leavesQty"},
	{"REJECTED with leaves", set("execType", `"REJECTED"`), ReasonTerminalLeaves, "leavesQty"},
	{"EXPIRED with leaves", set("execType", `"EXPIRED"`), ReasonTerminalLeaves, "leavesQty"},
	{"FILL with leaves", set("execType", `"FILL"`), ReasonTerminalLeaves, "leavesQty"},
	{"FILL short of orderQty", set("execType", `"FILL"`, "leavesQty", `"0"`), ReasonFillIncomplete, "cumQty"},
	{"price zero", set("price", `"0"`), ReasonInvalidPrice, "price"},
	{"price negative zero", set("price", `"-0.00"`), ReasonInvalidPrice, "price"},
	{"price negative", set("price", `"-101.25"`), ReasonInvalidPrice, "price"},
	{"price 9 places", set("price", `"101.123456789"`), ReasonTooManyDecimals, "price"},
	{"price exponent", set("price", `"1.0125e2"`), ReasonInvalidDecimal, "price"},
	{"price a number", set("price", `101.25`), ReasonInvalidDecimal, "price"},
	{"lastPx zero", set("lastPx", `"0"`), ReasonInvalidPrice, "lastPx"},
	{"lastPx 9 places", set("lastPx", `"0.000000001"`), ReasonTooManyDecimals, "lastPx"},
	{"avgPx absent", del("avgPx"), ReasonMissingField, "avgPx"},
	{"avgPx negative", set("avgPx", `"-0.01"`), ReasonInvalidPrice, "avgPx"},
	{"avgPx 9 places", set("avgPx", `"101.200000001"`), ReasonTooManyDecimals, "avgPx"},
	{"transactTime absent", del("transactTime"), ReasonMissingField, "transactTime"},
	{"transactTime without zone", set("transactTime", `"2026-03-02T15:00:00"`), ReasonInvalidTime, "transactTime"},
	{"transactTime with space", set("transactTime", `"2026-03-02 15:00:00Z"`), ReasonInvalidTime, "transactTime"},
	{"transactTime date only", set("transactTime", `"2026-03-02"`), ReasonInvalidTime, "transactTime"},
	{"transactTime epoch number", set("transactTime", `1772463600`), ReasonInvalidTime, "transactTime"},
	{"transactTime Feb 30", set("transactTime", `"2026-02-30T15:00:00Z"`), ReasonInvalidTime, "transactTime"},
	{"transactTime just over 5 minutes ahead", set("transactTime", `"2026-03-02T15:09:05.000000001Z"`), ReasonFutureTime, "transactTime"},
	{"transactTime next year", set("transactTime", `"2027-03-02T15:00:00Z"`), ReasonFutureTime, "transactTime"},
	// Rules apply in contract order: the earlier field is reported.
	{"first violation wins", set("orderId", `"bad id"`, "symbol", `"bad"`), ReasonInvalidID, "orderId"},
}

// set returns a mutation setting pairs of key, JSON text.
func set(kv ...string) func(map[string]json.RawMessage) {
	return func(m map[string]json.RawMessage) {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = raw(kv[i+1])
		}
	}
}

func del(key string) func(map[string]json.RawMessage) {
	return func(m map[string]json.RawMessage) { delete(m, key) }
}

func TestDecodeRejectsDetail(t *testing.T) {
	for _, tt := range detailRejections {
		t.Run(tt.name, func(t *testing.T) {
			m := baseDetail()
			tt.mutate(m)
			d, err := Decode(reportEvent(t, m), testNow)
			wantReason(t, err, tt.reason, tt.field)
			if d.Report != nil || d.Heartbeat != nil {
				t.Errorf("Decode(invalid) = report %v, heartbeat %v; want neither", d.Report, d.Heartbeat)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name the field %q", err, tt.field)
			}
			if d.Envelope.Source != schema.Source {
				t.Errorf("Decode(invalid).Envelope.Source = %q, want it decoded for the logs", d.Envelope.Source)
			}
		})
	}
}

// TestDecodeMessageNamesValue checks the human message repeats the offending
// value and the rule, which is what an operator reads in the dead-letter queue.
func TestDecodeMessageNamesValue(t *testing.T) {
	tests := []struct {
		mutate func(map[string]json.RawMessage)
		want   []string
	}{
		{set("orderQty", `"1e3"`), []string{"orderQty", `"1e3"`, "exponent"}},
		{set("seq", `1.5`), []string{"seq", "1.5", "integer"}},
		{set("cumQty", `"101"`), []string{"cumQty 101", "orderQty 100", "≤"}},
		{set("leavesQty", `"59"`), []string{"leavesQty 59", "orderQty 100", "cumQty 40", "orderQty − cumQty"}},
		{set("symbol", `"aapl"`), []string{"symbol", `"aapl"`, "[A-Z0-9./-]"}},
		{set("transactTime", `"2026-03-02T16:00:00Z"`), []string{"transactTime", "2026-03-02T16:00:00Z", "55m55s", "5m0s"}},
		{set("orderId", `"`+strings.Repeat("x", 200)+`"`), []string{"orderId", strings.Repeat("x", maxQuoted) + `"…`}},
	}
	for _, tt := range tests {
		m := baseDetail()
		tt.mutate(m)
		_, err := Decode(reportEvent(t, m), testNow)
		if err == nil {
			t.Fatalf("Decode(%v) error = nil, want a rejection", tt.want)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
	}
}

func TestDecodeRejectsEnvelope(t *testing.T) {
	validDetail := detailBytes(t, baseDetail())
	env := func(fields string) []byte { return []byte(`{"version":"0",` + fields + `}`) }
	tests := []struct {
		name   string
		raw    []byte
		reason Reason
		field  string
	}{
		{"empty input", []byte(``), ReasonMalformedJSON, ""},
		{"whitespace only", []byte(" \n\t"), ReasonMalformedJSON, ""},
		{"truncated", []byte(`{"source":"tap.trading"`), ReasonMalformedJSON, ""},
		{"not JSON", []byte(`source=tap.trading`), ReasonMalformedJSON, ""},
		{"trailing garbage", append(wrap(schema.DetailTypeExecutionReport, validDetail), 'x'), ReasonMalformedJSON, ""},
		{"two objects", append(wrap(schema.DetailTypeExecutionReport, validDetail), []byte(`{}`)...), ReasonMalformedJSON, ""},
		{"single quotes", []byte(`{'source':'tap.trading'}`), ReasonMalformedJSON, ""},
		{"too deep", []byte(strings.Repeat("[", 20000) + strings.Repeat("]", 20000)), ReasonMalformedJSON, ""},
		{"array", []byte(`[1,2]`), ReasonInvalidEnvelope, ""},
		{"string", []byte(`"tap.trading"`), ReasonInvalidEnvelope, ""},
		{"null", []byte(`null`), ReasonMissingField, "source"},
		{"source a number", env(`"source":7,"detail-type":"ExecutionReport"`), ReasonInvalidEnvelope, "source"},
		{"detail a string", env(`"source":"tap.trading","detail-type":"ExecutionReport","detail":"{}"`), ReasonInvalidEnvelope, "detail"},
		{"detail an array", env(`"source":"tap.trading","detail-type":"ExecutionReport","detail":[]`), ReasonInvalidEnvelope, "detail"},
		{"time not RFC 3339", env(`"source":"tap.trading","detail-type":"ExecutionReport","time":"now","detail":` + string(validDetail)), ReasonInvalidEnvelope, "time"},
		{"source absent", env(`"detail-type":"ExecutionReport","detail":` + string(validDetail)), ReasonMissingField, "source"},
		{"source unknown", env(`"source":"aws.events","detail-type":"ExecutionReport","detail":` + string(validDetail)), ReasonUnknownSource, "source"},
		{"source unknown wins over a bad detail", env(`"source":"other","detail-type":"ExecutionReport","detail":{"seq":"x","orderQty":1}`), ReasonUnknownSource, "source"},
		{"detail-type absent", env(`"source":"tap.trading","detail":` + string(validDetail)), ReasonMissingField, "detail-type"},
		{"detail-type unknown", env(`"source":"tap.trading","detail-type":"OrderCreated","detail":` + string(validDetail)), ReasonUnknownDetailType, "detail-type"},
		{"detail-type wrong case", env(`"source":"tap.trading","detail-type":"executionreport","detail":` + string(validDetail)), ReasonUnknownDetailType, "detail-type"},
		{"detail absent", env(`"source":"tap.trading","detail-type":"ExecutionReport"`), ReasonMissingField, "detail"},
		{"detail null", env(`"source":"tap.trading","detail-type":"ExecutionReport","detail":null`), ReasonMissingField, "detail"},
		{"detail empty", env(`"source":"tap.trading","detail-type":"ExecutionReport","detail":{}`), ReasonMissingField, "detail"},
		{"too large", padded(t, MaxEventBytes+1), ReasonTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Decode(tt.raw, testNow)
			wantReason(t, err, tt.reason, tt.field)
			if d.Report != nil || d.Heartbeat != nil {
				t.Errorf("Decode(invalid) = report %v, heartbeat %v; want neither", d.Report, d.Heartbeat)
			}
		})
	}
}

// padded returns a valid ExecutionReport event of exactly n bytes, padded
// with an unknown detail field.
func padded(t *testing.T, n int) []byte {
	t.Helper()
	m := baseDetail()
	m["padding"] = raw(`""`)
	short := len(reportEvent(t, m))
	m["padding"] = raw(`"` + strings.Repeat("p", n-short) + `"`)
	b := reportEvent(t, m)
	if len(b) != n {
		t.Fatalf("padded event is %d bytes, want %d", len(b), n)
	}
	return b
}

func TestDecodeSizeLimitIsInclusive(t *testing.T) {
	if _, err := Decode(padded(t, MaxEventBytes), testNow); err != nil {
		t.Errorf("Decode(%d-byte event) error = %v, want nil", MaxEventBytes, err)
	}
}

func TestDecodeEnvelopeUnknownFieldsTolerated(t *testing.T) {
	b := bytes.Replace(reportEvent(t, baseDetail()), []byte(`"version":"0"`),
		[]byte(`"version":"0","resources":["arn:aws:events:eu-west-1:111122223333:rule/x"],"replay-name":"r1"`), 1)
	if _, err := Decode(b, testNow); err != nil {
		t.Errorf("Decode(envelope with extra fields) error = %v, want nil", err)
	}
}

// An archive replay is told from a live event by its replay-name, which
// EventBridge adds to the envelope of every replayed event.
func TestDecodeReplayName(t *testing.T) {
	live := reportEvent(t, baseDetail())
	replayed := bytes.Replace(live, []byte(`"version":"0"`), []byte(`"version":"0","replay-name":"tap-dev-fix-1"`), 1)
	for _, tt := range []struct {
		name string
		raw  []byte
		want string
	}{{"live", live, ""}, {"replayed", replayed, "tap-dev-fix-1"}} {
		d, err := Decode(tt.raw, testNow)
		if err != nil || d.Envelope.ReplayName != tt.want {
			t.Errorf("Decode(%s).Envelope.ReplayName = %q, %v; want %q, nil", tt.name, d.Envelope.ReplayName, err, tt.want)
		}
		e, err := DecodeEnvelope(tt.raw)
		if err != nil || e.ReplayName != tt.want {
			t.Errorf("DecodeEnvelope(%s).ReplayName = %q, %v; want %q, nil", tt.name, e.ReplayName, err, tt.want)
		}
	}
}

// TestDecodeDuplicateKeys pins encoding/json's behaviour the doc comment of
// wireEvent promises: the last of duplicate keys wins, keys match any case.
func TestDecodeDuplicateKeys(t *testing.T) {
	b := bytes.Replace(reportEvent(t, baseDetail()), []byte(`"symbol":"AAPL"`), []byte(`"symbol":"MSFT","SYMBOL":"IBM"`), 1)
	d, err := Decode(b, testNow)
	if err != nil {
		t.Fatalf("Decode error = %v, want nil", err)
	}
	if d.Report.Symbol != "IBM" {
		t.Errorf("Symbol = %q, want the last of duplicate keys, %q", d.Report.Symbol, "IBM")
	}
}

func TestDecodeHeartbeat(t *testing.T) {
	detail := func(s string) []byte { return wrap(schema.DetailTypeHeartbeat, []byte(s)) }
	t.Run("valid", func(t *testing.T) {
		d, err := Decode(detail(`{"region":"eu-west-1","sentAt":"2026-03-02T16:04:00+01:00","extra":1}`), testNow)
		if err != nil {
			t.Fatalf("Decode(heartbeat) error = %v, want nil", err)
		}
		want := Heartbeat{Region: "eu-west-1", SentAt: time.Date(2026, 3, 2, 15, 4, 0, 0, time.UTC)}
		if d.Report != nil || d.Heartbeat == nil || *d.Heartbeat != want {
			t.Errorf("Decode(heartbeat) = report %v, heartbeat %v; want heartbeat %v", d.Report, d.Heartbeat, want)
		}
	})
	tests := []struct {
		name   string
		detail string
		reason Reason
		field  string
	}{
		{"region absent", `{"sentAt":"2026-03-02T15:04:00Z"}`, ReasonMissingField, "region"},
		{"region upper case", `{"region":"EU-WEST-1","sentAt":"2026-03-02T15:04:00Z"}`, ReasonInvalidRegion, "region"},
		{"region with key separator", `{"region":"eu-west-1#x","sentAt":"2026-03-02T15:04:00Z"}`, ReasonInvalidRegion, "region"},
		{"region too long", `{"region":"` + strings.Repeat("a", 33) + `","sentAt":"2026-03-02T15:04:00Z"}`, ReasonInvalidRegion, "region"},
		{"region a number", `{"region":1,"sentAt":"2026-03-02T15:04:00Z"}`, ReasonInvalidRegion, "region"},
		{"sentAt absent", `{"region":"eu-west-1"}`, ReasonMissingField, "sentAt"},
		{"sentAt not RFC 3339", `{"region":"eu-west-1","sentAt":"Mon Mar 2 15:04:00 2026"}`, ReasonInvalidTime, "sentAt"},
		{"sentAt in the future", `{"region":"eu-west-1","sentAt":"2026-03-02T16:00:00Z"}`, ReasonFutureTime, "sentAt"},
		{"empty", `{}`, ReasonMissingField, "detail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Decode(detail(tt.detail), testNow)
			wantReason(t, err, tt.reason, tt.field)
			if d.Heartbeat != nil {
				t.Errorf("Decode(invalid heartbeat).Heartbeat = %v, want nil", d.Heartbeat)
			}
		})
	}
}

func TestDecodeEnvelope(t *testing.T) {
	detail := detailBytes(t, baseDetail())
	e, err := DecodeEnvelope(wrap("Anything", detail))
	if err != nil {
		t.Fatalf("DecodeEnvelope error = %v, want nil", err)
	}
	want := Envelope{
		ID: "6a7e8feb-b491-4cf7-a9f1-bf3703467718", Source: schema.Source, DetailType: "Anything",
		Account: "111122223333", Region: "eu-west-1", Time: time.Date(2026, 3, 2, 15, 0, 1, 0, time.UTC), Detail: detail,
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("DecodeEnvelope = %+v, want %+v", e, want)
	}

	tests := []struct {
		name   string
		raw    string
		reason Reason
		field  string
	}{
		{"malformed", `{"id":`, ReasonMalformedJSON, ""},
		{"array", `[]`, ReasonInvalidEnvelope, ""},
		{"id a number", `{"id":1}`, ReasonInvalidEnvelope, "id"},
		{"detail a string", `{"detail":"x"}`, ReasonInvalidEnvelope, "detail"},
		{"bad time", `{"time":"2026-13-01T00:00:00Z"}`, ReasonInvalidEnvelope, "time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeEnvelope([]byte(tt.raw))
			wantReason(t, err, tt.reason, tt.field)
		})
	}
	if _, err := DecodeEnvelope(make([]byte, MaxEventBytes+1)); ReasonOf(err) != ReasonTooLarge {
		t.Errorf("DecodeEnvelope(oversize) reason = %q, want %q", ReasonOf(err), ReasonTooLarge)
	}
	if e, err := DecodeEnvelope([]byte(`{"source":"s","detail":null}`)); err != nil || e.Detail != nil {
		t.Errorf("DecodeEnvelope(detail null) = %+v, %v; want nil detail, no error", e, err)
	}
}

// TestEveryReasonIsProduced proves each exported reason code is reachable
// through Decode by some case in this file's tables.
func TestEveryReasonIsProduced(t *testing.T) {
	seen := map[Reason]bool{}
	for _, tt := range detailRejections {
		seen[tt.reason] = true
	}
	cases := [][]byte{
		padded(t, MaxEventBytes+1),
		[]byte(`{`),
		[]byte(`[]`),
		[]byte(`{"source":"x","detail-type":"ExecutionReport"}`),
		[]byte(`{"source":"tap.trading","detail-type":"x"}`),
		wrap(schema.DetailTypeHeartbeat, []byte(`{"region":"X","sentAt":"2026-03-02T15:04:00Z"}`)),
	}
	for _, c := range cases {
		_, err := Decode(c, testNow)
		seen[ReasonOf(err)] = true
	}
	for _, r := range Reasons() {
		if !seen[r] {
			t.Errorf("reason %s is never produced by the decode tests", r)
		}
	}
}

func TestValidationErrorAPI(t *testing.T) {
	v := &ValidationError{Reason: ReasonInvalidSeq, Field: "seq", Message: "seq 0 is invalid"}
	if got, want := v.Error(), "INVALID_SEQ: seq 0 is invalid"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := ReasonOf(v); got != ReasonInvalidSeq {
		t.Errorf("ReasonOf(v) = %q, want %q", got, ReasonInvalidSeq)
	}
	if got := ReasonOf(nil); got != "" {
		t.Errorf("ReasonOf(nil) = %q, want empty", got)
	}
	wrapped := &wrapErr{v}
	if got := ReasonOf(wrapped); got != ReasonInvalidSeq {
		t.Errorf("ReasonOf(wrapped) = %q, want %q", got, ReasonInvalidSeq)
	}
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if seen[r] || r == "" || strings.ToUpper(string(r)) != string(r) {
			t.Errorf("reason %q is duplicated, empty or not upper case", r)
		}
		seen[r] = true
	}
}

type wrapErr struct{ err error }

func (w *wrapErr) Error() string { return "wrapped: " + w.err.Error() }
func (w *wrapErr) Unwrap() error { return w.err }

// TestDecodeReturnsNilInterface guards against returning a typed nil
// *ValidationError as a non-nil error.
func TestDecodeReturnsNilInterface(t *testing.T) {
	_, err := Decode(reportEvent(t, baseDetail()), testNow)
	if err != nil {
		t.Fatalf("Decode(valid) error = %#v, want untyped nil", err)
	}
	if err := Validate(baseReport(), testNow); err != nil {
		t.Fatalf("Validate(valid) error = %#v, want untyped nil", err)
	}
	if err := ValidateHeartbeat(Heartbeat{Region: "eu-west-1", SentAt: testNow}, testNow); err != nil {
		t.Fatalf("ValidateHeartbeat(valid) error = %#v, want untyped nil", err)
	}
}
