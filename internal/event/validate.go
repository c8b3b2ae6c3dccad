package event

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Limits of the contract (DESIGN §2).
const (
	// MaxIDLen is the longest orderId or accountId.
	MaxIDLen = 64
	// MaxSymbolLen is the longest symbol.
	MaxSymbolLen = 16
	// MaxPriceScale is the most decimal places a price (price, lastPx, avgPx)
	// may have, counted on the canonical value: "1.500000000" is 1.5 and passes.
	MaxPriceScale = 8
	// MaxClockSkew is how far in the future transactTime (and a heartbeat's
	// sentAt) may be relative to the processing clock.
	MaxClockSkew = 5 * time.Minute
	// MaxRegionLen is the longest heartbeat region name.
	MaxRegionLen = 32
)

// Detail field names, as they appear in the JSON and in ValidationError.Field.
const (
	fieldEventID      = "eventId"
	fieldOrderID      = "orderId"
	fieldAccountID    = "accountId"
	fieldSeq          = "seq"
	fieldExecType     = "execType"
	fieldSymbol       = "symbol"
	fieldSide         = "side"
	fieldOrderQty     = "orderQty"
	fieldCumQty       = "cumQty"
	fieldLeavesQty    = "leavesQty"
	fieldLastQty      = "lastQty"
	fieldPrice        = "price"
	fieldLastPx       = "lastPx"
	fieldAvgPx        = "avgPx"
	fieldTransactTime = "transactTime"
	fieldRegion       = "region"
	fieldSentAt       = "sentAt"
)

// Validate checks r against every rule of DESIGN §2 and returns the first
// violation as a *ValidationError, or nil. Rules are checked field by field in
// the contract's order (eventId, orderId, accountId, seq, execType, symbol,
// side, orderQty, cumQty, leavesQty, lastQty, price, lastPx, avgPx,
// transactTime), then across fields (cumQty ≤ orderQty, then leavesQty).
// now is the processing clock for the future-time rule.
//
// One rule goes beyond the letter of §2, which says only that terminal events
// have leavesQty 0: a FILL must also have cumQty == orderQty
// (ReasonFillIncomplete). Cancels, rejects and expiries end an order with
// quantity left unfilled, which is why §2 exempts terminal events from
// leavesQty = orderQty − cumQty; a fill leaves nothing unfilled, so for it the
// equation still holds, and without the rule the state item could say FILLED
// with cumQty < orderQty.
//
// Validate accepts an eventId in either hex case; Decode also lowercases it.
func Validate(r *ExecutionReport, now time.Time) error {
	if v := validateReport(r, now); v != nil {
		return v
	}
	return nil
}

// ValidateHeartbeat checks a heartbeat: region is 1–32 chars of [a-z0-9-] (an
// AWS region name; it becomes part of a table key), and sentAt is set and not
// more than MaxClockSkew in the future. DESIGN §2 states no rules for
// heartbeats; these exist because the heartbeat item keeps the newest sentAt,
// so one far-future heartbeat would freeze it.
func ValidateHeartbeat(h Heartbeat, now time.Time) error {
	if v := validateHeartbeat(h, now); v != nil {
		return v
	}
	return nil
}

func validateReport(r *ExecutionReport, now time.Time) *ValidationError {
	if r.EventID == "" {
		return missing(fieldEventID)
	}
	if !isUUID(r.EventID) {
		return badEventID(r.EventID)
	}
	if v := checkID(fieldOrderID, r.OrderID); v != nil {
		return v
	}
	if v := checkID(fieldAccountID, r.AccountID); v != nil {
		return v
	}
	if v := checkSeq(r.Seq); v != nil {
		return v
	}
	if v := checkExecType(r.ExecType); v != nil {
		return v
	}
	if v := checkSymbol(r.Symbol); v != nil {
		return v
	}
	if v := checkSide(r.Side); v != nil {
		return v
	}
	for _, q := range [...]struct {
		field string
		d     Decimal
	}{{fieldOrderQty, r.OrderQty}, {fieldCumQty, r.CumQty}, {fieldLeavesQty, r.LeavesQty}, {fieldLastQty, r.LastQty}} {
		if v := checkQty(q.field, q.d); v != nil {
			return v
		}
	}
	if v := checkPrice(fieldPrice, r.Price, true); v != nil {
		return v
	}
	if v := checkPrice(fieldLastPx, r.LastPx, true); v != nil {
		return v
	}
	if v := checkAvgPx(r.AvgPx); v != nil {
		return v
	}
	if v := checkTime(fieldTransactTime, r.TransactTime, now); v != nil {
		return v
	}
	return checkQuantities(r)
}

func validateHeartbeat(h Heartbeat, now time.Time) *ValidationError {
	if h.Region == "" {
		return missing(fieldRegion)
	}
	if !isRegion(h.Region) {
		return invalid(ReasonInvalidRegion, fieldRegion, fmt.Sprintf(
			"region %s is invalid: want 1–%d characters of [a-z0-9-]", quote(h.Region), MaxRegionLen))
	}
	return checkTime(fieldSentAt, h.SentAt, now)
}

func missing(field string) *ValidationError {
	return invalid(ReasonMissingField, field, field+" is missing: it is required and must not be null or empty")
}

func badEventID(v string) *ValidationError {
	return invalid(ReasonInvalidEventID, fieldEventID, fmt.Sprintf(
		"eventId %s is invalid: want a UUID, 8-4-4-4-12 hex digits", quote(v)))
}

func checkID(field, v string) *ValidationError {
	if v == "" {
		return missing(field)
	}
	if !isID(v) {
		return invalid(ReasonInvalidID, field, fmt.Sprintf(
			"%s %s is invalid: want 1–%d characters of [A-Za-z0-9._:-]", field, quote(v), MaxIDLen))
	}
	return nil
}

// MaxSeq is the highest seq: execution sort keys carry seq as 10 zero-padded
// digits (DESIGN §3), and a longer seq would sort before shorter ones.
const MaxSeq = 9_999_999_999

func checkSeq(seq int64) *ValidationError {
	if seq < 1 || seq > MaxSeq {
		return badSeq(strconv.FormatInt(seq, 10))
	}
	return nil
}

func badSeq(text string) *ValidationError {
	return invalid(ReasonInvalidSeq, fieldSeq, fmt.Sprintf(
		"seq %s is invalid: want a JSON integer from 1 to 9999999999", text))
}

func checkExecType(t ExecType) *ValidationError {
	if t == "" {
		return missing(fieldExecType)
	}
	if !t.Valid() {
		return invalid(ReasonInvalidExecType, fieldExecType, fmt.Sprintf(
			"execType %s is invalid: want NEW, PARTIAL_FILL, FILL, CANCELED, REPLACED, REJECTED or EXPIRED", quote(string(t))))
	}
	return nil
}

func checkSymbol(s string) *ValidationError {
	if s == "" {
		return missing(fieldSymbol)
	}
	if !isSymbol(s) {
		return invalid(ReasonInvalidSymbol, fieldSymbol, fmt.Sprintf(
			"symbol %s is invalid: want 1–%d characters of [A-Z0-9./-]", quote(s), MaxSymbolLen))
	}
	return nil
}

func checkSide(s Side) *ValidationError {
	if s == "" {
		return missing(fieldSide)
	}
	if !s.Valid() {
		return invalid(ReasonInvalidSide, fieldSide, fmt.Sprintf(
			"side %s is invalid: want BUY, SELL or SELL_SHORT", quote(string(s))))
	}
	return nil
}

func checkQty(field string, d Decimal) *ValidationError {
	if !d.IsSet() {
		return missing(field)
	}
	if d.IsNegative() {
		return invalid(ReasonNegativeQty, field, fmt.Sprintf("%s %s is negative: want ≥ 0", field, d))
	}
	return nil
}

// checkPrice checks price and lastPx: optional, and > 0 with at most
// MaxPriceScale places when present.
func checkPrice(field string, d Decimal, optional bool) *ValidationError {
	if !d.IsSet() {
		if optional {
			return nil
		}
		return missing(field)
	}
	if d.IsNegative() || d.IsZero() {
		return invalid(ReasonInvalidPrice, field, fmt.Sprintf("%s %s is invalid: want > 0 when present", field, d))
	}
	return checkScale(field, d)
}

// checkAvgPx checks avgPx: required, ≥ 0 (it is 0 before the first fill),
// at most MaxPriceScale places.
func checkAvgPx(d Decimal) *ValidationError {
	if !d.IsSet() {
		return missing(fieldAvgPx)
	}
	if d.IsNegative() {
		return invalid(ReasonInvalidPrice, fieldAvgPx, fmt.Sprintf("avgPx %s is invalid: want ≥ 0", d))
	}
	return checkScale(fieldAvgPx, d)
}

func checkScale(field string, d Decimal) *ValidationError {
	if s := d.Scale(); s > MaxPriceScale {
		return invalid(ReasonTooManyDecimals, field, fmt.Sprintf(
			"%s %s has %d decimal places: want at most %d", field, d, s, MaxPriceScale))
	}
	return nil
}

func checkTime(field string, t, now time.Time) *ValidationError {
	if t.IsZero() {
		return missing(field)
	}
	if limit := now.Add(MaxClockSkew); t.After(limit) {
		return invalid(ReasonFutureTime, field, fmt.Sprintf(
			"%s %s is %s ahead of the processing clock %s: want at most %s in the future",
			field, t.UTC().Format(time.RFC3339Nano), aheadOf(t, now), now.UTC().Format(time.RFC3339Nano), MaxClockSkew))
	}
	return nil
}

// aheadOf says how far t is past now. time.Sub saturates at about 292 years,
// which would print as a meaningless "2562047h47m16.85s".
func aheadOf(t, now time.Time) string {
	if d := t.Sub(now); d < time.Duration(math.MaxInt64) {
		return d.String()
	}
	return "more than 292 years"
}

// checkQuantities applies the cross-field rules once every quantity is known
// to be present and non-negative.
func checkQuantities(r *ExecutionReport) *ValidationError {
	if r.CumQty.Cmp(r.OrderQty) > 0 {
		return invalid(ReasonCumExceedsOrder, fieldCumQty, fmt.Sprintf(
			"cumQty %s exceeds orderQty %s: want cumQty ≤ orderQty", r.CumQty, r.OrderQty))
	}
	if r.ExecType.Terminal() {
		if !r.LeavesQty.IsZero() {
			return invalid(ReasonTerminalLeaves, fieldLeavesQty, fmt.Sprintf(
				"leavesQty %s on a terminal %s: want 0", r.LeavesQty, r.ExecType))
		}
		if r.ExecType == ExecFill && r.CumQty.Cmp(r.OrderQty) != 0 {
			return invalid(ReasonFillIncomplete, fieldCumQty, fmt.Sprintf(
				"cumQty %s on a FILL with orderQty %s: want cumQty == orderQty", r.CumQty, r.OrderQty))
		}
		return nil
	}
	if !sumEquals(r.CumQty, r.LeavesQty, r.OrderQty) {
		return invalid(ReasonLeavesMismatch, fieldLeavesQty, fmt.Sprintf(
			"leavesQty %s with orderQty %s and cumQty %s on %s: want leavesQty = orderQty − cumQty",
			r.LeavesQty, r.OrderQty, r.CumQty, r.ExecType))
	}
	return nil
}

// Character classes are checked by hand: a regexp would cost more than the
// rest of validation together on every event.

// isUUID reports whether s is 8-4-4-4-12 hex digits (either case).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// lowerUUID returns a UUID in lower case, allocating only when it has upper
// case digits: UUIDs compare case-insensitively (RFC 9562), and eventId is the
// idempotency key, so one event must have one key.
func lowerUUID(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'F' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'F' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// isID reports whether s is 1–64 characters of [A-Za-z0-9._:-].
func isID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// isSymbol reports whether s is 1–16 characters of [A-Z0-9./-].
func isSymbol(s string) bool {
	if len(s) == 0 || len(s) > MaxSymbolLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '/' || c == '-') {
			return false
		}
	}
	return true
}

// isRegion reports whether s is 1–32 characters of [a-z0-9-].
func isRegion(s string) bool {
	if len(s) == 0 || len(s) > MaxRegionLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
