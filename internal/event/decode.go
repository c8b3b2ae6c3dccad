package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tap-trading/tap/internal/schema"
)

// MaxEventBytes is the largest raw event Decode accepts: 256 KiB, EventBridge's
// PutEvents entry limit. The delivered envelope is a few hundred bytes larger
// than the entry, so an entry at the very limit would be refused here; a valid
// ExecutionReport is under 2 KiB, and only an event padded with ~254 KiB of
// unknown fields could reach it. The limit bounds the work an event can cost
// before it is rejected.
const MaxEventBytes = 256 << 10

// Envelope is the EventBridge envelope of an event.
type Envelope struct {
	ID         string
	Source     string
	DetailType string
	Account    string
	Region     string
	// Time is the envelope's time (when EventBridge received the event); zero
	// when the envelope has none.
	Time time.Time
	// ReplayName is the name of the archive replay that sent the event again
	// ("replay-name", which EventBridge adds to replayed events); empty for a
	// live event. A replayed event keeps its original time.
	ReplayName string
	// Detail is the raw detail object. Decode leaves it nil: it decodes the
	// detail in the same pass, and the caller still holds the raw event.
	Detail json.RawMessage
}

// Decoded is one decoded and validated event: exactly one of Report and
// Heartbeat is set when Decode returns no error.
type Decoded struct {
	// Envelope holds the envelope fields, as far as they decoded even when
	// Decode fails, for logs and the dead-letter record.
	Envelope Envelope
	// Report is the execution report of an ExecutionReport event.
	Report *ExecutionReport
	// Heartbeat is the detail of a Heartbeat event.
	Heartbeat *Heartbeat
	// EventID and OrderID are the detail's eventId and orderId exactly as
	// sent, also when Decode fails (then unvalidated: for logs only).
	EventID, OrderID string
}

// wireEvent is the event as JSON: one flat set of strings so one
// encoding/json pass decodes envelope and detail together. Unknown fields, in
// the envelope and in the detail, are ignored: as in FIX, a producer may add
// fields before consumers know them. encoding/json matches keys without regard
// to case and keeps the last of duplicate keys; both regions run this same
// decoder, so that choice is at least the same everywhere.
type wireEvent struct {
	ID         string     `json:"id"`
	Source     string     `json:"source"`
	DetailType string     `json:"detail-type"`
	Account    string     `json:"account"`
	Region     string     `json:"region"`
	Time       string     `json:"time"`
	ReplayName string     `json:"replay-name"`
	Detail     wireDetail `json:"detail"`
}

// wireDetail is the union of the ExecutionReport and Heartbeat details.
// Decimals are JSON strings (a JSON number would lose exactness in most
// producers' encoders), so they decode as strings and a number is a type error.
type wireDetail struct {
	EventID      string  `json:"eventId"`
	OrderID      string  `json:"orderId"`
	AccountID    string  `json:"accountId"`
	Seq          wireSeq `json:"seq"`
	ExecType     string  `json:"execType"`
	Symbol       string  `json:"symbol"`
	Side         string  `json:"side"`
	OrderQty     string  `json:"orderQty"`
	CumQty       string  `json:"cumQty"`
	LeavesQty    string  `json:"leavesQty"`
	LastQty      string  `json:"lastQty"`
	Price        string  `json:"price"`
	LastPx       string  `json:"lastPx"`
	AvgPx        string  `json:"avgPx"`
	TransactTime string  `json:"transactTime"`
	Region       string  `json:"region"`
	SentAt       string  `json:"sentAt"`
}

// wireSeq decodes seq itself: json.Number would also accept the string "5",
// 1.0 and 1e3, and int64 would fail the whole decode on one bad value instead
// of naming the field. It records a bad value rather than failing, so the
// rejection carries ReasonInvalidSeq.
type wireSeq struct {
	n     int64
	state seqState
	bad   string // the offending JSON text, truncated
}

type seqState uint8

const (
	seqAbsent seqState = iota
	seqOK
	seqBad
)

// UnmarshalJSON accepts only a JSON integer of plain digits that fits an
// int64. Negative numbers are kept as bad text: the rule is seq ≥ 1 anyway.
func (s *wireSeq) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = wireSeq{}
		return nil
	}
	var n int64
	ok := len(b) > 0
	for _, c := range b {
		if c < '0' || c > '9' || n > (1<<63-1-int64(c-'0'))/10 {
			ok = false
			break
		}
		n = n*10 + int64(c-'0')
	}
	if !ok {
		*s = wireSeq{state: seqBad, bad: string(b[:min(len(b), maxQuoted)])}
		return nil
	}
	*s = wireSeq{n: n, state: seqOK}
	return nil
}

// Decode decodes and validates one EventBridge event (the raw JSON Lambda
// receives). On success exactly one of Decoded.Report and Decoded.Heartbeat
// is set. Otherwise the error is a *ValidationError (a permanent rejection);
// Decode never panics, whatever the input.
//
// The first violation is reported, checked in this order: size
// (MaxEventBytes), JSON syntax, envelope shape (field types, RFC 3339 time,
// detail an object), source, detail-type, JSON types of detail fields, the
// text of seq, decimals and times in contract order, then the rules of
// Validate (or ValidateHeartbeat) in contract order. now is the processing
// clock for the future-time rule.
//
// Decoding normalizes: decimals to canonical text, eventId to lower case, times
// to UTC. Optional price and lastPx are absent when missing, null or "".
func Decode(raw []byte, now time.Time) (Decoded, error) {
	var d Decoded
	if v := decode(raw, now, &d); v != nil {
		return d, v
	}
	return d, nil
}

func decode(raw []byte, now time.Time, d *Decoded) *ValidationError {
	if len(raw) > MaxEventBytes {
		return tooLarge(len(raw))
	}
	var w wireEvent
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(raw, &w); err != nil {
		if te = asTypeError(err); te == nil {
			return malformed(err)
		}
	}
	// encoding/json keeps decoding after a type error, so the rest of the
	// event is usable for the logs and for a better-placed report.
	d.Envelope = Envelope{ID: w.ID, Source: w.Source, DetailType: w.DetailType, Account: w.Account, Region: w.Region, ReplayName: w.ReplayName}
	d.EventID, d.OrderID = w.Detail.EventID, w.Detail.OrderID
	var detailTypeErr *json.UnmarshalTypeError
	if te != nil {
		if !strings.HasPrefix(te.Field, "detail.") {
			return envelopeTypeError(te)
		}
		detailTypeErr = te
	}
	if w.Time != "" {
		t, err := parseRFC3339(w.Time)
		if err != nil {
			return invalid(ReasonInvalidEnvelope, "time", fmt.Sprintf("envelope time %s is not an RFC 3339 time", quote(w.Time)))
		}
		d.Envelope.Time = t.UTC()
	}
	switch w.Source {
	case schema.Source:
	case "":
		return missing("source")
	default:
		return invalid(ReasonUnknownSource, "source", fmt.Sprintf("source %s is unknown: want %s", quote(w.Source), schema.Source))
	}
	switch w.DetailType {
	case schema.DetailTypeExecutionReport, schema.DetailTypeHeartbeat:
	case "":
		return missing("detail-type")
	default:
		return invalid(ReasonUnknownDetailType, "detail-type", fmt.Sprintf("detail-type %s is unknown: want %s or %s",
			quote(w.DetailType), schema.DetailTypeExecutionReport, schema.DetailTypeHeartbeat))
	}
	if detailTypeErr != nil {
		if isHeartbeatField(detailTypeErr.Field) == (w.DetailType == schema.DetailTypeHeartbeat) {
			return detailTypeError(detailTypeErr)
		}
		// A wrong type on a field of the other detail-type is an unknown
		// field of this one, and unknown fields are ignored. But
		// encoding/json reports only the first type error, so this one may
		// hide another: decode again with this type's fields alone.
		if te := typeErrorOf(raw, w.DetailType); te != nil {
			if !strings.HasPrefix(te.Field, "detail.") {
				return envelopeTypeError(te)
			}
			return detailTypeError(te)
		}
	}
	if w.Detail == (wireDetail{}) {
		return invalid(ReasonMissingField, "detail", "detail is missing, null or empty: want the "+w.DetailType+" object")
	}
	if w.DetailType == schema.DetailTypeHeartbeat {
		h, v := toHeartbeat(&w.Detail, now)
		if v != nil {
			return v
		}
		d.Heartbeat = h
		return nil
	}
	r, v := toReport(&w.Detail, now)
	if v != nil {
		return v
	}
	d.Report = r
	return nil
}

// wireReportOnly is the ExecutionReport detail alone: the Heartbeat's
// fields, declared at this level, take any JSON value.
type wireReportOnly struct {
	wireDetail
	Region json.RawMessage `json:"region"`
	SentAt json.RawMessage `json:"sentAt"`
}

// wireHeartbeatOnly is the Heartbeat detail alone.
type wireHeartbeatOnly struct {
	Region string `json:"region"`
	SentAt string `json:"sentAt"`
}

// typeErrorOf returns the first JSON type error of raw decoded as an event
// of detailType alone, or nil. It runs only when a type error on the other
// detail type's field may hide one: its cost is on rejected input only.
func typeErrorOf(raw []byte, detailType string) *json.UnmarshalTypeError {
	var err error
	if detailType == schema.DetailTypeHeartbeat {
		err = json.Unmarshal(raw, &struct {
			wireEvent
			Detail wireHeartbeatOnly `json:"detail"`
		}{})
	} else {
		err = json.Unmarshal(raw, &struct {
			wireEvent
			Detail wireReportOnly `json:"detail"`
		}{})
	}
	te := asTypeError(err)
	// encoding/json names a field of an embedded struct with the struct's
	// type in its path (wireEvent.account, detail.wireDetail.price): keep
	// the JSON names.
	if te != nil && strings.HasPrefix(te.Field, "detail.") {
		te.Field = "detail." + te.Field[strings.LastIndex(te.Field, ".")+1:]
	} else if te != nil {
		te.Field = te.Field[strings.LastIndex(te.Field, ".")+1:]
	}
	return te
}

// toReport parses the text of the detail's fields, then applies the rules.
func toReport(w *wireDetail, now time.Time) (*ExecutionReport, *ValidationError) {
	r := &ExecutionReport{
		EventID:   w.EventID,
		OrderID:   w.OrderID,
		AccountID: w.AccountID,
		ExecType:  ExecType(w.ExecType),
		Symbol:    w.Symbol,
		Side:      Side(w.Side),
	}
	switch w.Seq.state {
	case seqOK:
		r.Seq = w.Seq.n
	case seqBad:
		return nil, badSeq(w.Seq.bad)
	default:
		return nil, missing(fieldSeq)
	}
	var v *ValidationError
	for _, f := range [...]struct {
		field string
		text  string
		dst   *Decimal
	}{
		{fieldOrderQty, w.OrderQty, &r.OrderQty},
		{fieldCumQty, w.CumQty, &r.CumQty},
		{fieldLeavesQty, w.LeavesQty, &r.LeavesQty},
		{fieldLastQty, w.LastQty, &r.LastQty},
		{fieldPrice, w.Price, &r.Price},
		{fieldLastPx, w.LastPx, &r.LastPx},
		{fieldAvgPx, w.AvgPx, &r.AvgPx},
	} {
		if *f.dst, v = parseDecimalField(f.field, f.text); v != nil {
			return nil, v
		}
	}
	if r.TransactTime, v = parseTimeField(fieldTransactTime, w.TransactTime); v != nil {
		return nil, v
	}
	if v := validateReport(r, now); v != nil {
		return nil, v
	}
	r.EventID = lowerUUID(r.EventID)
	return r, nil
}

func toHeartbeat(w *wireDetail, now time.Time) (*Heartbeat, *ValidationError) {
	h := Heartbeat{Region: w.Region}
	var v *ValidationError
	if h.SentAt, v = parseTimeField(fieldSentAt, w.SentAt); v != nil {
		return nil, v
	}
	if v := validateHeartbeat(h, now); v != nil {
		return nil, v
	}
	return &h, nil
}

// parseDecimalField parses a decimal field's text; "" stays unset, and the
// rules decide whether the field was required.
func parseDecimalField(field, text string) (Decimal, *ValidationError) {
	if text == "" {
		return Decimal{}, nil
	}
	d, err := ParseDecimal(text)
	switch {
	case err == nil:
		return d, nil
	case errors.Is(err, ErrDecimalPrecision):
		return Decimal{}, invalid(ReasonDecimalPrecision, field, fmt.Sprintf(
			"%s %s has more than %d significant digits (or %d characters): DynamoDB cannot store it exactly",
			field, quote(text), MaxDecimalDigits, maxDecimalText))
	default:
		return Decimal{}, invalid(ReasonInvalidDecimal, field, fmt.Sprintf(
			"%s %s is not a plain decimal: want digits with an optional leading '-' and one '.', no exponent, '+' or spaces",
			field, quote(text)))
	}
}

// parseTimeField parses an RFC 3339 time into UTC, so every stored time has
// one spelling and times sort as text (the byAccount index sorts on it); ""
// stays zero for the rules to report as missing.
func parseTimeField(field, text string) (time.Time, *ValidationError) {
	if text == "" {
		return time.Time{}, nil
	}
	t, err := parseRFC3339(text)
	if err != nil {
		return time.Time{}, invalid(ReasonInvalidTime, field, fmt.Sprintf(
			"%s %s is not an RFC 3339 time: want e.g. 2006-01-02T15:04:05.999Z", field, quote(text)))
	}
	return t.UTC(), nil
}

// DecodeEnvelope decodes the envelope only, keeping the detail raw: for tools
// (dead-letter listings, redrive) that handle any event. It checks size, JSON
// syntax and the envelope's shape, not source or detail-type. Errors are
// *ValidationError.
func DecodeEnvelope(raw []byte) (Envelope, error) {
	if len(raw) > MaxEventBytes {
		return Envelope{}, tooLarge(len(raw))
	}
	var w struct {
		ID         string          `json:"id"`
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Account    string          `json:"account"`
		Region     string          `json:"region"`
		Time       string          `json:"time"`
		ReplayName string          `json:"replay-name"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		if te := asTypeError(err); te != nil {
			return Envelope{}, envelopeTypeError(te)
		}
		return Envelope{}, malformed(err)
	}
	e := Envelope{ID: w.ID, Source: w.Source, DetailType: w.DetailType, Account: w.Account, Region: w.Region, ReplayName: w.ReplayName}
	if w.Time != "" {
		t, err := parseRFC3339(w.Time)
		if err != nil {
			return Envelope{}, invalid(ReasonInvalidEnvelope, "time", fmt.Sprintf("envelope time %s is not an RFC 3339 time", quote(w.Time)))
		}
		e.Time = t.UTC()
	}
	switch {
	case len(w.Detail) == 0 || string(w.Detail) == "null":
	case w.Detail[0] == '{':
		e.Detail = w.Detail
	default:
		return Envelope{}, invalid(ReasonInvalidEnvelope, "detail", "detail is not a JSON object")
	}
	return e, nil
}

// asTypeError returns err's *json.UnmarshalTypeError, or nil. It is a
// function so the errors.As target escapes to the heap only on this path.
func asTypeError(err error) *json.UnmarshalTypeError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te
	}
	return nil
}

func tooLarge(n int) *ValidationError {
	return invalid(ReasonTooLarge, "", fmt.Sprintf("event is %d bytes: want at most %d", n, MaxEventBytes))
}

func malformed(err error) *ValidationError {
	msg := "event is not valid JSON: " + err.Error()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		msg = fmt.Sprintf("event is not valid JSON at byte %d: %v", se.Offset, err)
	}
	return invalid(ReasonMalformedJSON, "", msg)
}

func envelopeTypeError(te *json.UnmarshalTypeError) *ValidationError {
	if te.Field == "" {
		return invalid(ReasonInvalidEnvelope, "", fmt.Sprintf("event is a JSON %s: want an object", te.Value))
	}
	what := "a string"
	if te.Field == "detail" {
		what = "an object"
	}
	return invalid(ReasonInvalidEnvelope, te.Field, fmt.Sprintf("%s is a JSON %s: want %s", te.Field, te.Value, what))
}

// isHeartbeatField reports whether the type error's field (as encoding/json
// names it, "detail.<field>") belongs to the Heartbeat detail.
func isHeartbeatField(jsonField string) bool {
	f := strings.TrimPrefix(jsonField, "detail.")
	return f == fieldRegion || f == fieldSentAt
}

// detailTypeError reports a detail field of the wrong JSON type under the
// reason of that field's rule; every detail field is a JSON string except seq,
// which decodes itself.
func detailTypeError(te *json.UnmarshalTypeError) *ValidationError {
	field := strings.TrimPrefix(te.Field, "detail.")
	reason := ReasonInvalidEnvelope
	switch field {
	case fieldEventID:
		reason = ReasonInvalidEventID
	case fieldOrderID, fieldAccountID:
		reason = ReasonInvalidID
	case fieldExecType:
		reason = ReasonInvalidExecType
	case fieldSymbol:
		reason = ReasonInvalidSymbol
	case fieldSide:
		reason = ReasonInvalidSide
	case fieldOrderQty, fieldCumQty, fieldLeavesQty, fieldLastQty, fieldPrice, fieldLastPx, fieldAvgPx:
		reason = ReasonInvalidDecimal
	case fieldTransactTime, fieldSentAt:
		reason = ReasonInvalidTime
	case fieldRegion:
		reason = ReasonInvalidRegion
	}
	return invalid(reason, field, fmt.Sprintf("%s is a JSON %s: want a JSON string", field, te.Value))
}
