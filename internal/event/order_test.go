package event

import (
	"encoding/json"
	"errors"
	"testing"
)

// violation breaks one field of a valid detail (nil value: remove it) and
// names the first error that alone causes.
type violation struct {
	name   string
	field  string
	value  json.RawMessage
	reason Reason
}

// reportOrder is DESIGN §2's "One reason per event" for an ExecutionReport
// detail, after the envelope and the JSON types: first the parse pass (seq's
// presence and integer form, each decimal's text in the order orderQty,
// cumQty, leavesQty, lastQty, price, lastPx, avgPx, then transactTime's
// format), then the rules in the table's order, then the cross-field rules.
var reportOrder = []violation{
	{"seq missing", "seq", nil, ReasonMissingField},
	{"seq a string", "seq", raw(`"2"`), ReasonInvalidSeq},
	{"orderQty not a decimal", "orderQty", raw(`"ten"`), ReasonInvalidDecimal},
	{"cumQty not a decimal", "cumQty", raw(`"ten"`), ReasonInvalidDecimal},
	{"leavesQty not a decimal", "leavesQty", raw(`"ten"`), ReasonInvalidDecimal},
	{"lastQty not a decimal", "lastQty", raw(`"ten"`), ReasonInvalidDecimal},
	{"price not a decimal", "price", raw(`"ten"`), ReasonInvalidDecimal},
	{"lastPx not a decimal", "lastPx", raw(`"ten"`), ReasonInvalidDecimal},
	{"avgPx not a decimal", "avgPx", raw(`"ten"`), ReasonInvalidDecimal},
	{"transactTime not RFC 3339", "transactTime", raw(`"yesterday"`), ReasonInvalidTime},
	{"eventId missing", "eventId", nil, ReasonMissingField},
	{"orderId invalid", "orderId", raw(`"ORD 1"`), ReasonInvalidID},
	{"accountId invalid", "accountId", raw(`"ACC 1"`), ReasonInvalidID},
	{"seq zero", "seq", raw(`0`), ReasonInvalidSeq},
	{"execType unknown", "execType", raw(`"TRADE"`), ReasonInvalidExecType},
	{"symbol lower case", "symbol", raw(`"aapl"`), ReasonInvalidSymbol},
	{"side unknown", "side", raw(`"UP"`), ReasonInvalidSide},
	{"orderQty negative", "orderQty", raw(`"-1"`), ReasonNegativeQty},
	{"lastQty negative", "lastQty", raw(`"-1"`), ReasonNegativeQty},
	{"price zero", "price", raw(`"0"`), ReasonInvalidPrice},
	{"lastPx zero", "lastPx", raw(`"0"`), ReasonInvalidPrice},
	{"avgPx with 9 decimals", "avgPx", raw(`"101.123456789"`), ReasonTooManyDecimals},
	{"transactTime in the future", "transactTime", raw(`"2027-03-02T15:00:00Z"`), ReasonFutureTime},
	{"cumQty over orderQty", "cumQty", raw(`"150"`), ReasonCumExceedsOrder},
}

// TestFirstViolationFollowsDesignOrder holds DESIGN §2's order to the
// decoder: alone, each violation is reported as listed; with any later one
// on another field, the earlier one is reported.
func TestFirstViolationFollowsDesignOrder(t *testing.T) {
	decodeWith := func(vs ...violation) *ValidationError {
		d := baseDetail()
		for _, v := range vs {
			if v.value == nil {
				delete(d, v.field)
			} else {
				d[v.field] = v.value
			}
		}
		_, err := Decode(wrap("ExecutionReport", detailBytes(t, d)), testNow)
		var verr *ValidationError
		if !errors.As(err, &verr) {
			t.Fatalf("%v: error %v, want a ValidationError", vs, err)
		}
		return verr
	}
	for i, first := range reportOrder {
		if got := decodeWith(first); got.Reason != first.reason || got.Field != first.field {
			t.Errorf("%s alone: %s on %q, want %s on %q", first.name, got.Reason, got.Field, first.reason, first.field)
			continue
		}
		for _, later := range reportOrder[i+1:] {
			if later.field == first.field {
				continue
			}
			if got := decodeWith(first, later); got.Reason != first.reason || got.Field != first.field {
				t.Errorf("%s with %s: %s on %q, want %s's %s", first.name, later.name, got.Reason, got.Field, first.name, first.reason)
			}
		}
	}
}
