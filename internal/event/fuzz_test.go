package event

import (
	"bytes"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/schema"
)

// FuzzDecodeValidate feeds arbitrary bytes to Decode. It must never panic; a
// rejection must be a *ValidationError with a known reason; an acceptance must
// be a report (or heartbeat) that an independent oracle, written with regexp
// and math/big rather than the package's own checks, finds valid, and that
// survives EncodeDetail → Decode unchanged. The committed corpus in
// testdata/fuzz/FuzzDecodeValidate runs as part of go test.
func FuzzDecodeValidate(f *testing.F) {
	f.Add(reportEvent(f, baseDetail()))
	f.Add(wrap(schema.DetailTypeHeartbeat, []byte(`{"region":"eu-west-1","sentAt":"2026-03-02T15:04:00Z"}`)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := Decode(raw, testNow)
		if err != nil {
			var v *ValidationError
			if !errors.As(err, &v) {
				t.Fatalf("Decode error %v is %T, want *ValidationError", err, err)
			}
			if !slices.Contains(Reasons(), v.Reason) || v.Message == "" {
				t.Fatalf("Decode error %+v: unknown reason or empty message", v)
			}
			if d.Report != nil || d.Heartbeat != nil {
				t.Fatalf("Decode returned %v and a payload", err)
			}
			return
		}
		switch {
		case d.Report != nil && d.Heartbeat == nil:
			oracleReport(t, d.Report)
			if err := Validate(d.Report, testNow); err != nil {
				t.Fatalf("Validate(decoded report) = %v, want nil", err)
			}
			enc := EncodeDetail(d.Report)
			again, err := Decode(wrap(schema.DetailTypeExecutionReport, enc), testNow)
			if err != nil {
				t.Fatalf("Decode(EncodeDetail(r)) error = %v for %s", err, enc)
			}
			if !reflect.DeepEqual(*again.Report, *d.Report) {
				t.Fatalf("round trip changed the report:\n got %+v\nwant %+v", *again.Report, *d.Report)
			}
			if enc2 := EncodeDetail(again.Report); !bytes.Equal(enc2, enc) {
				t.Fatalf("EncodeDetail not stable:\n%s\n%s", enc, enc2)
			}
		case d.Heartbeat != nil && d.Report == nil:
			h := *d.Heartbeat
			if !reRegion.MatchString(h.Region) || h.SentAt.After(testNow.Add(5*time.Minute)) || h.SentAt.Location() != time.UTC {
				t.Fatalf("accepted invalid heartbeat %+v", h)
			}
			again, err := Decode(wrap(schema.DetailTypeHeartbeat, EncodeHeartbeat(h)), testNow)
			if err != nil || *again.Heartbeat != h {
				t.Fatalf("heartbeat round trip = %v, %v; want %+v", again.Heartbeat, err, h)
			}
		default:
			t.Fatalf("Decode = %+v with no error: want exactly one of report and heartbeat", d)
		}
	})
}

// The oracle restates DESIGN §2 independently of validate.go.
var (
	reUUID      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	reID        = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	reSymbol    = regexp.MustCompile(`^[A-Z0-9./-]{1,16}$`)
	reRegion    = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
	reCanonical = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$`)
)

func oracleReport(t *testing.T, r *ExecutionReport) {
	t.Helper()
	fail := func(rule string) { t.Fatalf("accepted report breaking %q: %+v", rule, *r) }
	if !reUUID.MatchString(r.EventID) {
		fail("eventId lower-case UUID")
	}
	if !reID.MatchString(r.OrderID) || !reID.MatchString(r.AccountID) {
		fail("orderId/accountId charset")
	}
	if r.Seq < 1 || r.Seq > MaxSeq {
		fail("1 ≤ seq ≤ MaxSeq")
	}
	if !slices.Contains([]ExecType{"NEW", "PARTIAL_FILL", "FILL", "CANCELED", "REPLACED", "REJECTED", "EXPIRED"}, r.ExecType) {
		fail("execType enum")
	}
	if !reSymbol.MatchString(r.Symbol) {
		fail("symbol charset")
	}
	if !slices.Contains([]Side{"BUY", "SELL", "SELL_SHORT"}, r.Side) {
		fail("side enum")
	}
	num := func(name string, d Decimal, optional bool) *big.Rat {
		if !d.IsSet() {
			if !optional {
				fail(name + " present")
			}
			return nil
		}
		s := d.String()
		if !reCanonical.MatchString(s) || s == "-0" {
			fail(name + " canonical")
		}
		significant := strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(s), "0")
		if len(significant) > 38 {
			fail(name + " ≤ 38 significant digits")
		}
		v, ok := new(big.Rat).SetString(s)
		if !ok {
			fail(name + " numeric")
		}
		return v
	}
	zero := new(big.Rat)
	order, cum := num("orderQty", r.OrderQty, false), num("cumQty", r.CumQty, false)
	leaves, last := num("leavesQty", r.LeavesQty, false), num("lastQty", r.LastQty, false)
	for _, q := range []*big.Rat{order, cum, leaves, last} {
		if q.Sign() < 0 {
			fail("quantities ≥ 0")
		}
	}
	if cum.Cmp(order) > 0 {
		fail("cumQty ≤ orderQty")
	}
	terminal := slices.Contains([]ExecType{"FILL", "CANCELED", "REJECTED", "EXPIRED"}, r.ExecType)
	diff := new(big.Rat).Sub(order, cum)
	switch {
	case terminal && leaves.Sign() != 0:
		fail("terminal leavesQty = 0")
	case r.ExecType == ExecFill && diff.Sign() != 0:
		fail("FILL cumQty = orderQty")
	case !terminal && diff.Cmp(leaves) != 0:
		fail("leavesQty = orderQty − cumQty")
	}
	for name, p := range map[string]Decimal{"price": r.Price, "lastPx": r.LastPx} {
		if v := num(name, p, true); v != nil && (v.Cmp(zero) <= 0 || p.Scale() > 8) {
			fail(name + " > 0, ≤ 8 places")
		}
	}
	if v := num("avgPx", r.AvgPx, false); v.Sign() < 0 || r.AvgPx.Scale() > 8 {
		fail("avgPx ≥ 0, ≤ 8 places")
	}
	if r.TransactTime.IsZero() || r.TransactTime.After(testNow.Add(5*time.Minute)) || r.TransactTime.Location() != time.UTC {
		fail("transactTime set, UTC, ≤ now + 5 min")
	}
}

// TestFuzzCorpusCoversEachKind keeps the committed seed corpus honest: each
// seed's name says what it is, and it must still decode to that outcome, so
// the fuzzer starts from every kind of valid and invalid event.
func TestFuzzCorpusCoversEachKind(t *testing.T) {
	want := map[string]Reason{
		"valid_partial_fill": "", "valid_new_no_prices": "", "valid_fill": "", "valid_canceled": "",
		"valid_normalized": "", "valid_huge_decimals": "", "valid_heartbeat": "",
		"heartbeat_bad_region":    ReasonInvalidRegion,
		"malformed_truncated":     ReasonMalformedJSON,
		"malformed_empty":         ReasonMalformedJSON,
		"envelope_array":          ReasonInvalidEnvelope,
		"envelope_detail_string":  ReasonInvalidEnvelope,
		"unknown_source":          ReasonUnknownSource,
		"unknown_detail_type":     ReasonUnknownDetailType,
		"missing_event_id":        ReasonMissingField,
		"invalid_event_id":        ReasonInvalidEventID,
		"invalid_order_id":        ReasonInvalidID,
		"seq_float":               ReasonInvalidSeq,
		"seq_string":              ReasonInvalidSeq,
		"seq_overflow":            ReasonInvalidSeq,
		"invalid_exec_type":       ReasonInvalidExecType,
		"invalid_symbol":          ReasonInvalidSymbol,
		"invalid_side":            ReasonInvalidSide,
		"decimal_exponent":        ReasonInvalidDecimal,
		"decimal_json_number":     ReasonInvalidDecimal,
		"decimal_whitespace_plus": ReasonInvalidDecimal,
		"decimal_39_digits":       ReasonDecimalPrecision,
		"negative_qty":            ReasonNegativeQty,
		"cum_exceeds_order":       ReasonCumExceedsOrder,
		"leaves_mismatch":         ReasonLeavesMismatch,
		"terminal_leaves":         ReasonTerminalLeaves,
		"fill_incomplete":         ReasonFillIncomplete,
		"price_zero":              ReasonInvalidPrice,
		"price_too_many_decimals": ReasonTooManyDecimals,
		"invalid_time":            ReasonInvalidTime,
		"future_time":             ReasonFutureTime,
	}
	for name, reason := range want {
		t.Run(name, func(t *testing.T) {
			raw := readCorpusFile(t, filepath.Join("testdata", "fuzz", "FuzzDecodeValidate", name))
			_, err := Decode(raw, testNow)
			if got := ReasonOf(err); got != reason {
				t.Errorf("Decode(seed %s) reason = %q (%v), want %q", name, got, err, reason)
			}
		})
	}
}

// readCorpusFile reads a one-value []byte seed in the "go test fuzz v1" format.
func readCorpusFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read seed: %v", err)
	}
	header, body, _ := strings.Cut(string(b), "\n")
	body = strings.TrimSpace(body)
	if header != "go test fuzz v1" || !strings.HasPrefix(body, "[]byte(") || !strings.HasSuffix(body, ")") {
		t.Fatalf("seed %s is not a go test fuzz v1 []byte file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(body, "[]byte("), ")"))
	if err != nil {
		t.Fatalf("seed %s: %v", path, err)
	}
	return []byte(s)
}
