package event

import (
	"strings"
	"testing"
	"time"
)

// TestValidate covers Validate on reports built in Go (generators, tapctl),
// where the zero values stand for missing fields.
func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *ExecutionReport)
		reason Reason // "" for valid
		field  string
	}{
		{"valid", func(r *ExecutionReport) {}, "", ""},
		{"upper-case eventId", func(r *ExecutionReport) { r.EventID = strings.ToUpper(r.EventID) }, "", ""},
		{"no optional prices", func(r *ExecutionReport) { r.Price, r.LastPx = Decimal{}, Decimal{} }, "", ""},
		{"SELL_SHORT", func(r *ExecutionReport) { r.Side = SideSellShort }, "", ""},
		{"EXPIRED with nothing filled", func(r *ExecutionReport) {
			r.ExecType, r.CumQty, r.LeavesQty, r.AvgPx = ExecExpired, MustDecimal("0"), MustDecimal("0"), MustDecimal("0")
		}, "", ""},
		{"transactTime in another zone", func(r *ExecutionReport) {
			r.TransactTime = testNow.Add(MaxClockSkew).In(time.FixedZone("X", -5*3600))
		}, "", ""},
		{"eventId empty", func(r *ExecutionReport) { r.EventID = "" }, ReasonMissingField, "eventId"},
		{"eventId bad", func(r *ExecutionReport) { r.EventID = "x" + r.EventID[1:] }, ReasonInvalidEventID, "eventId"},
		{"orderId empty", func(r *ExecutionReport) { r.OrderID = "" }, ReasonMissingField, "orderId"},
		{"accountId bad", func(r *ExecutionReport) { r.AccountID = "a\x00" }, ReasonInvalidID, "accountId"},
		{"seq zero", func(r *ExecutionReport) { r.Seq = 0 }, ReasonInvalidSeq, "seq"},
		{"seq negative", func(r *ExecutionReport) { r.Seq = -7 }, ReasonInvalidSeq, "seq"},
		{"seq wider than the EXEC# sort key", func(r *ExecutionReport) { r.Seq = MaxSeq + 1 }, ReasonInvalidSeq, "seq"},
		{"execType empty", func(r *ExecutionReport) { r.ExecType = "" }, ReasonMissingField, "execType"},
		{"execType bad", func(r *ExecutionReport) { r.ExecType = "PENDING_NEW" }, ReasonInvalidExecType, "execType"},
		{"symbol empty", func(r *ExecutionReport) { r.Symbol = "" }, ReasonMissingField, "symbol"},
		{"symbol bad", func(r *ExecutionReport) { r.Symbol = "A B" }, ReasonInvalidSymbol, "symbol"},
		{"side empty", func(r *ExecutionReport) { r.Side = "" }, ReasonMissingField, "side"},
		{"side bad", func(r *ExecutionReport) { r.Side = "SELL_PLUS" }, ReasonInvalidSide, "side"},
		{"orderQty unset", func(r *ExecutionReport) { r.OrderQty = Decimal{} }, ReasonMissingField, "orderQty"},
		{"cumQty unset", func(r *ExecutionReport) { r.CumQty = Decimal{} }, ReasonMissingField, "cumQty"},
		{"leavesQty unset", func(r *ExecutionReport) { r.LeavesQty = Decimal{} }, ReasonMissingField, "leavesQty"},
		{"lastQty unset", func(r *ExecutionReport) { r.LastQty = Decimal{} }, ReasonMissingField, "lastQty"},
		{"lastQty negative", func(r *ExecutionReport) { r.LastQty = MustDecimal("-0.1") }, ReasonNegativeQty, "lastQty"},
		{"avgPx unset", func(r *ExecutionReport) { r.AvgPx = Decimal{} }, ReasonMissingField, "avgPx"},
		{"price zero", func(r *ExecutionReport) { r.Price = MustDecimal("0") }, ReasonInvalidPrice, "price"},
		{"lastPx negative", func(r *ExecutionReport) { r.LastPx = MustDecimal("-1") }, ReasonInvalidPrice, "lastPx"},
		{"price 9 places", func(r *ExecutionReport) { r.Price = MustDecimal("1.000000001") }, ReasonTooManyDecimals, "price"},
		{"transactTime zero", func(r *ExecutionReport) { r.TransactTime = time.Time{} }, ReasonMissingField, "transactTime"},
		{"transactTime too far ahead", func(r *ExecutionReport) { r.TransactTime = testNow.Add(MaxClockSkew + time.Nanosecond) }, ReasonFutureTime, "transactTime"},
		{"cum over order", func(r *ExecutionReport) { r.CumQty = MustDecimal("100.5") }, ReasonCumExceedsOrder, "cumQty"},
		{"leaves mismatch", func(r *ExecutionReport) { r.LeavesQty = MustDecimal("60.000000000000000001") }, ReasonLeavesMismatch, "leavesQty"},
		{"terminal leaves", func(r *ExecutionReport) { r.ExecType = ExecRejected }, ReasonTerminalLeaves, "leavesQty"},
		{"fill incomplete", func(r *ExecutionReport) { r.ExecType, r.LeavesQty = ExecFill, MustDecimal("0") }, ReasonFillIncomplete, "cumQty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := baseReport()
			tt.mutate(r)
			err := Validate(r, testNow)
			if tt.reason == "" {
				if err != nil {
					t.Errorf("Validate error = %v, want nil", err)
				}
				return
			}
			wantReason(t, err, tt.reason, tt.field)
		})
	}
}

func TestValidateHeartbeat(t *testing.T) {
	tests := []struct {
		name   string
		h      Heartbeat
		reason Reason
		field  string
	}{
		{"valid", Heartbeat{Region: "us-east-1", SentAt: testNow}, "", ""},
		{"valid at the skew limit", Heartbeat{Region: "ap-southeast-2", SentAt: testNow.Add(MaxClockSkew)}, "", ""},
		{"region empty", Heartbeat{SentAt: testNow}, ReasonMissingField, "region"},
		{"region bad", Heartbeat{Region: "us_east_1", SentAt: testNow}, ReasonInvalidRegion, "region"},
		{"sentAt zero", Heartbeat{Region: "us-east-1"}, ReasonMissingField, "sentAt"},
		{"sentAt ahead", Heartbeat{Region: "us-east-1", SentAt: testNow.Add(MaxClockSkew + time.Second)}, ReasonFutureTime, "sentAt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateHeartbeat(tt.h, testNow)
			if tt.reason == "" {
				if err != nil {
					t.Errorf("ValidateHeartbeat error = %v, want nil", err)
				}
				return
			}
			wantReason(t, err, tt.reason, tt.field)
		})
	}
}

func TestCharClasses(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) bool
		ok   []string
		bad  []string
	}{
		{"isUUID", isUUID,
			[]string{"00000000-0000-0000-0000-000000000000", "ABCDEFab-cdef-0123-4567-89abcdefABCD"},
			[]string{"", "00000000-0000-0000-0000-00000000000", "00000000-0000-0000-0000-0000000000000",
				"00000000_0000-0000-0000-000000000000", "0000000-00000-0000-0000-000000000000", "urn:uuid:00000000-0000-0000-0000"}},
		{"isID", isID,
			[]string{"a", "A-z_0.9:x", strings.Repeat("Z", 64)},
			[]string{"", strings.Repeat("Z", 65), "a b", "a/b", "a#b", "a\tb", "é", "a\x00"}},
		{"isSymbol", isSymbol,
			[]string{"A", "BRK.B", "EUR/USD", "ES-2026", strings.Repeat("Q", 16)},
			[]string{"", "a", "AB C", "A_B", "A:B", strings.Repeat("Q", 17)}},
		{"isRegion", isRegion,
			[]string{"eu-west-1", "us-gov-west-1", "local"},
			[]string{"", "EU-WEST-1", "eu_west_1", "eu west", strings.Repeat("a", 33)}},
	}
	for _, tt := range tests {
		for _, s := range tt.ok {
			if !tt.fn(s) {
				t.Errorf("%s(%q) = false, want true", tt.name, s)
			}
		}
		for _, s := range tt.bad {
			if tt.fn(s) {
				t.Errorf("%s(%q) = true, want false", tt.name, s)
			}
		}
	}
}

func TestLowerUUID(t *testing.T) {
	for in, want := range map[string]string{
		"3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2c": "3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2c",
		"3F2B8C1E-9A4D-4E6F-B1C2-7D8E9F0A1B2C": "3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2c",
		"3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2C": "3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2c",
	} {
		if got := lowerUUID(in); got != want {
			t.Errorf("lowerUUID(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFutureTimeMessageFarAhead: a time beyond time.Sub's range is reported in
// words, not as the saturated duration.
func TestFutureTimeMessageFarAhead(t *testing.T) {
	far := time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)
	verr := checkTime("transactTime", far, testNow)
	if verr == nil || verr.Reason != ReasonFutureTime {
		t.Fatalf("checkTime(2999) = %v, want %s", verr, ReasonFutureTime)
	}
	if !strings.Contains(verr.Message, "more than 292 years ahead") || strings.Contains(verr.Message, "2562047h") {
		t.Errorf("message %q, want it to say more than 292 years ahead", verr.Message)
	}
	near := testNow.Add(MaxClockSkew + time.Hour)
	if verr := checkTime("transactTime", near, testNow); verr == nil || !strings.Contains(verr.Message, "1h5m0s ahead") {
		t.Errorf("checkTime(now+1h5m) = %v, want a message with 1h5m0s ahead", verr)
	}
}
