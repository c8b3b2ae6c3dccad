package contract

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/schema"
)

// The probes are events one change away from a valid one, at every boundary
// of every rule: the fuzz corpus has one seed per reason code, the probes
// walk each rule's edges (lengths at and past the decoder's limits, every
// JSON type, null and "", each spelling of a decimal). The decoder's limits
// come from its exported constants, so a limit changed there and not in the
// schema shows up as a disagreement.

// baseReport is a valid PARTIAL_FILL detail.
func baseReport() map[string]json.RawMessage {
	return map[string]json.RawMessage{
		"eventId": raw(`"3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2c"`), "orderId": raw(`"ORD-2026-000042"`),
		"accountId": raw(`"ACC:eu.desk_7"`), "seq": raw(`2`), "execType": raw(`"PARTIAL_FILL"`),
		"symbol": raw(`"AAPL"`), "side": raw(`"BUY"`), "orderQty": raw(`"100"`), "cumQty": raw(`"40"`),
		"leavesQty": raw(`"60"`), "lastQty": raw(`"40"`), "price": raw(`"101.25"`), "lastPx": raw(`"101.2"`),
		"avgPx": raw(`"101.2"`), "transactTime": raw(`"2026-03-02T15:00:00.123456789Z"`),
	}
}

// baseHeartbeat is a valid Heartbeat detail.
func baseHeartbeat() map[string]json.RawMessage {
	return map[string]json.RawMessage{"region": raw(`"eu-west-1"`), "sentAt": raw(`"2026-03-02T15:04:00Z"`)}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// str is s as a JSON string.
func str(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func strs(ss ...string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = str(s)
	}
	return out
}

func marshal(m map[string]json.RawMessage) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// anyType are values of every JSON type, for fields that take one.
var anyType = []string{`null`, `""`, `5`, `-1.5`, `true`, `{}`, `[]`, `"x"`, `{"a":1}`, `["x"]`}

// decimals are spellings of a decimal, valid and not, at the decoder's
// precision limits (MaxDecimalDigits significant digits, 64 characters).
func decimals() []string {
	d := event.MaxDecimalDigits
	return strs("0", "-0", "-0.000", "00", "1", "0100.00", "1.5", "0.5", "12.3400", "-1", "-0.5", "1.", ".5",
		"+1", "1e3", "1E3", " 1", "1 ", "1,5", "1.2.3", "NaN", "Infinity", "0x10", "١", "--1", "-",
		strings.Repeat("9", d), strings.Repeat("9", d+1), "0."+strings.Repeat("0", 20)+strings.Repeat("9", d),
		strings.Repeat("0", 64-d)+strings.Repeat("9", d), strings.Repeat("0", 65-d)+strings.Repeat("9", d),
		"1."+strings.Repeat("0", 62), "1."+strings.Repeat("0", 63), strings.Repeat("9", 30)+"."+strings.Repeat("9", 8),
		strings.Repeat("9", 31)+"."+strings.Repeat("9", 8))
}

// prices are decimals around the price rules (> 0, at most MaxPriceScale
// places once trailing zeros are dropped).
func prices() []string {
	s := event.MaxPriceScale
	return append(decimals(), strs("0.0", "0."+strings.Repeat("0", s-1)+"1", "0."+strings.Repeat("0", s)+"1",
		"0."+strings.Repeat("0", s)+"10", "1."+strings.Repeat("5", s), "1."+strings.Repeat("5", s+1),
		"1."+strings.Repeat("5", s)+"000", "1."+strings.Repeat("0", s)+"5", "7."+strings.Repeat("0", 40))...)
}

// times are RFC 3339 times the decoder and the schema judge alike (the ones
// they do not are in divergence_test.go).
var times = strs("2026-03-02T15:00:00Z", "2026-03-02T15:00:00.5Z", "2026-03-02T16:00:00+01:00", "2026-03-02T10:00:00-05:30",
	"2026-03-02T15:00:00-00:00", "2026-03-02t15:00:00Z", "2026-03-02T15:00:00z", "2026-03-02 15:00:00Z", "2026-03-02T15:00Z",
	"2026-03-02T15:00:00", "2026-03-02", "2024-02-29T00:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
	"2026-03-02T24:00:00Z", "2026-03-02T23:59:60Z", "2026-03-02T15:00:00.Z", "2026-03-02T15:00:00+0100", "20260302T150000Z",
	"2026-03-02T15:00:00.123456789123Z", "1970-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "2026-3-2T15:00:00Z",
	"2026-03-02T15:00:00 Z", " 2026-03-02T15:00:00Z", "2026-03-02T15:00:00Z ", "1772463900")

// reportFields are the probe values of each ExecutionReport detail field.
func reportFields() map[string][]string {
	idLen := event.MaxIDLen
	ids := strs("A", strings.Repeat("A", idLen), strings.Repeat("A", idLen+1), "ORD:1._-z", "ORD 1", "ORD/1", "ORD#1", "ÖRD", "ORD\n")
	sym := event.MaxSymbolLen
	return map[string][]string{
		"eventId": strs("3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2c", "3F2B8C1E-9A4D-4E6F-B1C2-7D8E9F0A1B2C", "3f2b8c1e9a4d4e6fb1c27d8e9f0a1b2c",
			"3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2", "3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2cd", "3f2b8c1g-9a4d-4e6f-b1c2-7d8e9f0a1b2c",
			"{3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2c}", "3f2b8c1e-9a4d-4e6f-b1c2-7d8e9f0a1b2c\n", "evt-1"),
		"orderId":   ids,
		"accountId": ids,
		"seq": {`1`, `0`, `-1`, `2`, fmt.Sprint(event.MaxSeq), fmt.Sprint(event.MaxSeq + 1), `9223372036854775807`,
			`9223372036854775808`, `1.0`, `2.0`, `1e3`, `1E3`, `2.5`, `1e-3`, `-0`, `"5"`},
		"execType": strs("NEW", "PARTIAL_FILL", "FILL", "CANCELED", "REPLACED", "REJECTED", "EXPIRED", "new", "TRADE", "CANCELLED"),
		"symbol": strs("A", strings.Repeat("A", sym), strings.Repeat("A", sym+1), "BRK.B", "BRK/B", "BRK-B", "BRK_B",
			"aapl", "AAPL ", "ÄPL"),
		"side":         strs("BUY", "SELL", "SELL_SHORT", "buy", "SHORT"),
		"orderQty":     decimals(),
		"cumQty":       decimals(),
		"leavesQty":    decimals(),
		"lastQty":      decimals(),
		"price":        prices(),
		"lastPx":       prices(),
		"avgPx":        prices(),
		"transactTime": times,
	}
}

// heartbeatFields are the probe values of each Heartbeat detail field.
func heartbeatFields() map[string][]string {
	r := event.MaxRegionLen
	return map[string][]string{
		"region": strs("eu-west-1", "a", strings.Repeat("a", r), strings.Repeat("a", r+1), "EU-WEST-1", "eu_west_1", "eu west 1", "ëu"),
		"sentAt": times,
	}
}

// envelopeFields are the probe values of the envelope's fields.
var envelopeFields = map[string][]string{
	"source":      append(strs(schema.Source, "aws.ec2", "TAP.TRADING", "tap.trading "), `null`, `5`, `""`),
	"detail-type": append(strs("executionreport", "Heartbeat", "Order"), anyType...),
	"id":          anyType,
	"account":     anyType,
	"region":      anyType,
	"replay-name": anyType,
	"version":     anyType,
	"resources":   anyType,
	"time":        append(append([]string{}, anyType...), times...),
	"detail":      []string{`null`, `"{}"`, `[]`, `5`, `{}`, `true`, `{"venue":"XNAS"}`},
	"unknown":     anyType,
}

// sorted returns m's keys in order, so probes have a stable order.
func sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// probes returns every probe event.
func probes() []input {
	var out []input
	add := func(name string, raw []byte) { out = append(out, input{"probe " + name, raw}) }
	detailProbes := func(detailType string, base func() map[string]json.RawMessage, fields map[string][]string) {
		for _, f := range sorted(fields) {
			d := base()
			delete(d, f)
			add(fmt.Sprintf("%s detail without %s", detailType, f), wrap(detailType, marshal(d)))
			for _, v := range append(append([]string{}, fields[f]...), anyType...) {
				d := base()
				d[f] = raw(v)
				add(fmt.Sprintf("%s detail.%s = %s", detailType, f, v), wrap(detailType, marshal(d)))
			}
		}
	}
	detailProbes(schema.DetailTypeExecutionReport, baseReport, reportFields())
	detailProbes(schema.DetailTypeHeartbeat, baseHeartbeat, heartbeatFields())

	// The quantities as a consistent NEW (leavesQty = orderQty − 0), so a
	// value passes the cross-field rules and only its own are judged.
	for _, q := range decimals() {
		d := baseReport()
		d["execType"], d["orderQty"], d["cumQty"], d["leavesQty"] = raw(`"NEW"`), raw(q), raw(`"0"`), raw(q)
		add("ExecutionReport NEW with orderQty = leavesQty = "+q, wrap(schema.DetailTypeExecutionReport, marshal(d)))
	}
	// A field of the other detail type is unknown to this one, whatever its
	// type.
	for _, v := range anyType {
		d := baseReport()
		d["region"], d["sentAt"] = raw(v), raw(v)
		add("ExecutionReport detail with region = sentAt = "+v, wrap(schema.DetailTypeExecutionReport, marshal(d)))
		h := baseHeartbeat()
		h["price"], h["seq"], h["eventId"] = raw(v), raw(v), raw(v)
		add("Heartbeat detail with price = seq = eventId = "+v, wrap(schema.DetailTypeHeartbeat, marshal(h)))
	}
	// The processing clock's limit, 5 minutes ahead.
	for _, ahead := range []time.Duration{5*time.Minute - time.Second, 5 * time.Minute, 5*time.Minute + time.Second, 100 * 365 * 24 * time.Hour} {
		at := str(now.Add(ahead).Format(time.RFC3339))
		r, h := baseReport(), baseHeartbeat()
		r["transactTime"], h["sentAt"] = raw(at), raw(at)
		add(fmt.Sprintf("ExecutionReport transactTime now+%s", ahead), wrap(schema.DetailTypeExecutionReport, marshal(r)))
		add(fmt.Sprintf("Heartbeat sentAt now+%s", ahead), wrap(schema.DetailTypeHeartbeat, marshal(h)))
	}
	// The size limit, with an unknown field as padding.
	for _, size := range []int{event.MaxEventBytes - 512, event.MaxEventBytes + 1} {
		d := baseReport()
		d["padding"] = raw(str(strings.Repeat("x", size)))
		add(fmt.Sprintf("ExecutionReport padded past %d bytes", size), wrap(schema.DetailTypeExecutionReport, marshal(d)))
	}

	// The envelope: each field replaced or removed in a valid event.
	for _, dt := range []string{schema.DetailTypeExecutionReport, schema.DetailTypeHeartbeat} {
		detail := marshal(baseReport())
		if dt == schema.DetailTypeHeartbeat {
			detail = marshal(baseHeartbeat())
		}
		for _, f := range sorted(envelopeFields) {
			var env map[string]json.RawMessage
			if err := json.Unmarshal(wrap(dt, detail), &env); err != nil {
				panic(err)
			}
			delete(env, f)
			add(fmt.Sprintf("%s envelope without %s", dt, f), marshal(env))
			for _, v := range envelopeFields[f] {
				env[f] = raw(v)
				add(fmt.Sprintf("%s envelope %s = %s", dt, f, v), marshal(env))
			}
		}
	}
	for _, doc := range []string{``, ` `, `null`, `5`, `"x"`, `[]`, `{}`, `[{"source":"tap.trading"}]`, `{`, `{"source":"tap.trading"} x`} {
		add("whole event "+doc, []byte(doc))
	}
	add("whole event with surrounding whitespace", []byte(" \n"+string(wrap(schema.DetailTypeHeartbeat, marshal(baseHeartbeat())))+"\n "))
	return out
}
