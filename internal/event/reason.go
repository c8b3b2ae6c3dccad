package event

import (
	"errors"
	"strconv"
)

// Reason is a machine-readable code for why an event was rejected. It travels
// with the event to the processing dead-letter queue and into logs and metrics,
// so the values are stable API: add new ones, never rename.
type Reason string

// Reasons, one per rule of the contract (DESIGN §2). Validation reports the
// first rule an event breaks, so an event carries exactly one reason.
const (
	// ReasonTooLarge: the raw event is longer than MaxEventBytes.
	ReasonTooLarge Reason = "TOO_LARGE"
	// ReasonMalformedJSON: the event is not syntactically valid JSON.
	ReasonMalformedJSON Reason = "MALFORMED_JSON"
	// ReasonInvalidEnvelope: an envelope field has the wrong JSON type, the
	// envelope time is not RFC 3339, or detail is not an object.
	ReasonInvalidEnvelope Reason = "INVALID_ENVELOPE"
	// ReasonUnknownSource: source is not tap.trading.
	ReasonUnknownSource Reason = "UNKNOWN_SOURCE"
	// ReasonUnknownDetailType: detail-type is neither ExecutionReport nor Heartbeat.
	ReasonUnknownDetailType Reason = "UNKNOWN_DETAIL_TYPE"
	// ReasonMissingField: a required field is absent, null or "".
	ReasonMissingField Reason = "MISSING_FIELD"
	// ReasonInvalidEventID: eventId is not a UUID in 8-4-4-4-12 hex form.
	ReasonInvalidEventID Reason = "INVALID_EVENT_ID"
	// ReasonInvalidID: orderId or accountId is not 1–64 chars of [A-Za-z0-9._:-].
	ReasonInvalidID Reason = "INVALID_ID"
	// ReasonInvalidSeq: seq is not a JSON integer in 1..MaxSeq (10 digits, the width of the EXEC# sort key).
	ReasonInvalidSeq Reason = "INVALID_SEQ"
	// ReasonInvalidExecType: execType is not one of the contract's types.
	ReasonInvalidExecType Reason = "INVALID_EXEC_TYPE"
	// ReasonInvalidSymbol: symbol is not 1–16 chars of [A-Z0-9./-].
	ReasonInvalidSymbol Reason = "INVALID_SYMBOL"
	// ReasonInvalidSide: side is not BUY, SELL or SELL_SHORT.
	ReasonInvalidSide Reason = "INVALID_SIDE"
	// ReasonInvalidDecimal: a decimal is not a JSON string of plain decimal
	// text (no exponent, '+', whitespace, NaN or Infinity).
	ReasonInvalidDecimal Reason = "INVALID_DECIMAL"
	// ReasonDecimalPrecision: a decimal has more than 38 significant digits
	// (MaxDecimalDigits), which DynamoDB cannot store exactly.
	ReasonDecimalPrecision Reason = "DECIMAL_PRECISION"
	// ReasonNegativeQty: a quantity is below zero.
	ReasonNegativeQty Reason = "NEGATIVE_QTY"
	// ReasonCumExceedsOrder: cumQty > orderQty.
	ReasonCumExceedsOrder Reason = "CUM_EXCEEDS_ORDER"
	// ReasonLeavesMismatch: a non-terminal event has leavesQty != orderQty − cumQty.
	ReasonLeavesMismatch Reason = "LEAVES_MISMATCH"
	// ReasonTerminalLeaves: a terminal event (FILL, CANCELED, REJECTED,
	// EXPIRED) has leavesQty != 0.
	ReasonTerminalLeaves Reason = "TERMINAL_LEAVES"
	// ReasonFillIncomplete: a FILL has cumQty != orderQty. FILL is terminal,
	// but unlike a cancel nothing is left unfilled, so orderQty − cumQty must
	// be the leavesQty of 0 (an interpretation of DESIGN §2, see Validate).
	ReasonFillIncomplete Reason = "FILL_INCOMPLETE"
	// ReasonInvalidPrice: price or lastPx present and not > 0, or avgPx < 0.
	ReasonInvalidPrice Reason = "INVALID_PRICE"
	// ReasonTooManyDecimals: a price has more than 8 decimal places
	// (MaxPriceScale) after trailing zeros are dropped.
	ReasonTooManyDecimals Reason = "TOO_MANY_DECIMALS"
	// ReasonInvalidTime: transactTime or sentAt is not an RFC 3339 time.
	ReasonInvalidTime Reason = "INVALID_TIME"
	// ReasonFutureTime: transactTime or sentAt is more than MaxClockSkew
	// after the processing time.
	ReasonFutureTime Reason = "FUTURE_TIME"
	// ReasonInvalidRegion: a heartbeat's region is not 1–32 chars of [a-z0-9-].
	ReasonInvalidRegion Reason = "INVALID_REGION"
)

// Reasons returns every reason code, for dashboards and exhaustive tests.
func Reasons() []Reason {
	return []Reason{
		ReasonTooLarge, ReasonMalformedJSON, ReasonInvalidEnvelope,
		ReasonUnknownSource, ReasonUnknownDetailType, ReasonMissingField,
		ReasonInvalidEventID, ReasonInvalidID, ReasonInvalidSeq,
		ReasonInvalidExecType, ReasonInvalidSymbol, ReasonInvalidSide,
		ReasonInvalidDecimal, ReasonDecimalPrecision, ReasonNegativeQty,
		ReasonCumExceedsOrder, ReasonLeavesMismatch, ReasonTerminalLeaves,
		ReasonFillIncomplete, ReasonInvalidPrice, ReasonTooManyDecimals,
		ReasonInvalidTime, ReasonFutureTime, ReasonInvalidRegion,
	}
}

// ValidationError is a permanent rejection of an event: retrying cannot fix
// it, so the processor dead-letters the event with Reason and Message.
type ValidationError struct {
	// Reason is the machine-readable code.
	Reason Reason
	// Field is the JSON name of the offending field: a detail field bare
	// ("orderQty"), an envelope field by its envelope name ("source",
	// "detail-type", "detail", "time"), or "" when the event as a whole is at
	// fault (too large, not JSON, not an object).
	Field string
	// Message is for humans: it names the field, the value and the rule.
	Message string
}

// Error returns "REASON: message".
func (e *ValidationError) Error() string { return string(e.Reason) + ": " + e.Message }

// ReasonOf returns the reason code of a *ValidationError in err's chain, or ""
// if err is nil or not a validation error.
func ReasonOf(err error) Reason {
	var v *ValidationError
	if errors.As(err, &v) {
		return v.Reason
	}
	return ""
}

// maxQuoted bounds how much of an offending value a message repeats: enough to
// recognise it, never a 256 KiB log line.
const maxQuoted = 48

// quote renders a value for a message, Go-quoted so control characters and
// invalid UTF-8 stay visible, and truncated.
func quote(v string) string {
	if len(v) > maxQuoted {
		return strconv.Quote(v[:maxQuoted]) + "…"
	}
	return strconv.Quote(v)
}

// invalid builds a ValidationError. Messages are formatted only on this
// rejection path, so the valid path pays nothing for them.
func invalid(reason Reason, field, message string) *ValidationError {
	return &ValidationError{Reason: reason, Field: field, Message: message}
}
