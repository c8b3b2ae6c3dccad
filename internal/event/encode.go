package event

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The encoders write the wire form by hand: the field set is fixed and small,
// and tapctl's load generator and the benchmarks call them per event.

// EncodeDetail returns the ExecutionReport detail JSON of r: the inverse of
// Decode, which gives r back for a valid r. Decimals are JSON strings in
// canonical form; unset decimals (optional price and lastPx, or a deliberately
// incomplete report) are omitted, as is a zero transactTime; transactTime is
// RFC 3339 in UTC with nanoseconds as needed. r is not validated, so tools can
// also build invalid events on purpose.
func EncodeDetail(r *ExecutionReport) []byte {
	b := make([]byte, 0, 384)
	b = append(b, `{"eventId":`...)
	b = appendString(b, r.EventID)
	b = append(b, `,"orderId":`...)
	b = appendString(b, r.OrderID)
	b = append(b, `,"accountId":`...)
	b = appendString(b, r.AccountID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, r.Seq, 10)
	b = append(b, `,"execType":`...)
	b = appendString(b, string(r.ExecType))
	b = append(b, `,"symbol":`...)
	b = appendString(b, r.Symbol)
	b = append(b, `,"side":`...)
	b = appendString(b, string(r.Side))
	b = appendDecimal(b, fieldOrderQty, r.OrderQty)
	b = appendDecimal(b, fieldCumQty, r.CumQty)
	b = appendDecimal(b, fieldLeavesQty, r.LeavesQty)
	b = appendDecimal(b, fieldLastQty, r.LastQty)
	b = appendDecimal(b, fieldPrice, r.Price)
	b = appendDecimal(b, fieldLastPx, r.LastPx)
	b = appendDecimal(b, fieldAvgPx, r.AvgPx)
	b = appendTime(b, fieldTransactTime, r.TransactTime)
	return append(b, '}')
}

// EncodeHeartbeat returns the Heartbeat detail JSON of h (DESIGN §2):
// {"region":"…","sentAt":"<RFC 3339, UTC>"}.
func EncodeHeartbeat(h Heartbeat) []byte {
	b := make([]byte, 0, 80)
	b = append(b, `{"region":`...)
	b = appendString(b, h.Region)
	b = appendTime(b, fieldSentAt, h.SentAt)
	return append(b, '}')
}

// EncodeEnvelope returns e as the JSON event EventBridge delivers to a target
// (version "0", empty resources), with e.Detail embedded as is: it must be a
// JSON object or nil (then detail is omitted). Tests and local invokers use it
// to hand the processor what Lambda would.
func EncodeEnvelope(e Envelope) []byte {
	b := make([]byte, 0, 256+len(e.Detail))
	b = append(b, `{"version":"0","id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"detail-type":`...)
	b = appendString(b, e.DetailType)
	b = append(b, `,"source":`...)
	b = appendString(b, e.Source)
	b = append(b, `,"account":`...)
	b = appendString(b, e.Account)
	b = appendTime(b, "time", e.Time)
	b = append(b, `,"region":`...)
	b = appendString(b, e.Region)
	b = append(b, `,"resources":[]`...)
	if e.Detail != nil {
		b = append(b, `,"detail":`...)
		b = append(b, e.Detail...)
	}
	return append(b, '}')
}

func appendDecimal(b []byte, field string, d Decimal) []byte {
	if !d.IsSet() {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, field...)
	b = append(b, `":`...)
	// Canonical decimal text is only '-', '.' and digits: nothing to escape.
	b = append(b, '"')
	b = append(b, d.text...)
	return append(b, '"')
}

// appendTime writes RFC 3339 with only the fractional digits needed; Go's
// RFC3339Nano layout trims trailing zeros, so Decode gets the same instant.
func appendTime(b []byte, field string, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, field...)
	b = append(b, `":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Valid events are ASCII, but
// EncodeDetail also serves deliberately invalid ones, so everything is
// escaped as encoding/json would read it back: quotes, backslashes, control
// characters and U+2028/U+2029, with invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
