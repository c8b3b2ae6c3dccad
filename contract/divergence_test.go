package contract

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/schema"
)

// The decoder and a schema faithful to DESIGN §2 judge some events
// differently because of the decoder's JSON and time parsing (Go's
// encoding/json and time.Parse), not because of a rule: these are decoder
// bugs, reported, and internal/event is not this package's to fix. Each is
// pinned here so it is known, and so the fix is noticed: when the decoder
// is fixed, its test fails and the divergence is to be removed.

// divergence is one known kind of divergence, with events that show it.
type divergence struct {
	name, why string
	// events are delivered events; the decoder accepts each and the
	// schemas reject it, unless decoderRejects.
	events         [][]byte
	decoderRejects bool
	// matches says whether an arbitrary event may show this divergence, for
	// FuzzSchemaMatchesDecoder.
	matches func(env map[string]json.RawMessage, detail map[string]json.RawMessage, detailType string) bool
}

var envelopeKeys = []string{"id", "source", "detail-type", "account", "region", "time", "replay-name", "detail"}

var reportKeys = []string{"eventId", "orderId", "accountId", "seq", "execType", "symbol", "side", "orderQty",
	"cumQty", "leavesQty", "lastQty", "price", "lastPx", "avgPx", "transactTime"}

var heartbeatKeys = []string{"region", "sentAt"}

// caseVariant reports whether m has a key that is one of keys in another case.
func caseVariant(m map[string]json.RawMessage, keys []string) bool {
	for k := range m {
		for _, want := range keys {
			if k != want && strings.EqualFold(k, want) {
				return true
			}
		}
	}
	return false
}

// reportEvent is a delivered ExecutionReport whose detail is the valid base
// with the fields of change set (raw JSON texts), appended in order after
// the base's fields so they are read last.
func reportEvent(change ...string) []byte {
	d := string(marshal(baseReport()))
	return wrap(schema.DetailTypeExecutionReport, []byte(d[:len(d)-1]+","+strings.Join(change, ",")+"}"))
}

func withTime(t string) []byte {
	d := baseReport()
	d["transactTime"] = raw(str(t))
	return wrap(schema.DetailTypeExecutionReport, marshal(d))
}

var divergences = []divergence{
	{
		name: "keys matched in any case",
		why: "encoding/json matches object keys to fields without regard to case, keeping the last; " +
			"JSON Schema's property names are exact, so EventId is not eventId",
		events: [][]byte{
			func() []byte {
				d := baseReport()
				d["EventId"] = d["eventId"]
				delete(d, "eventId")
				return wrap(schema.DetailTypeExecutionReport, marshal(d))
			}(),
			[]byte(`{"SOURCE":"tap.trading","Detail-Type":"Heartbeat","DETAIL":{"Region":"eu-west-1","SentAt":"2026-03-02T15:04:00Z"}}`),
		},
		matches: func(env, detail map[string]json.RawMessage, _ string) bool {
			return caseVariant(env, envelopeKeys) || caseVariant(detail, reportKeys) || caseVariant(detail, heartbeatKeys)
		},
	},
	{
		name: "a key in another case overrides the field",
		why:  "the same case-insensitive matching: a later EVENTID replaces eventId, so the decoder rejects an event whose eventId is valid",
		events: [][]byte{
			reportEvent(`"EVENTID":"not-a-uuid"`),
			reportEvent(`"Seq":0`),
		},
		decoderRejects: true,
	},
}

// TestKnownDivergences pins each known divergence: its events are still
// judged differently, in the way it says.
func TestKnownDivergences(t *testing.T) {
	v := schemas(t)
	for _, d := range divergences {
		for i, raw := range d.events {
			dec, sch := decoderSays(raw, now), v.says(raw)
			want := "the decoder accepts and the schema rejects"
			got := !sch.ok && dec.ok
			if d.decoderRejects {
				want, got = "the decoder rejects and the schema accepts", sch.ok && !dec.ok
			}
			if !got {
				t.Errorf("%s, event %d: no longer diverges (%s): decoder %s; schema %s.\n"+
					"If the decoder was fixed, remove the divergence from divergences (and its report); else fix the schema.\n\tevent: %s",
					d.name, i, want, dec, sch, raw)
			}
		}
	}
}

// knownDivergence returns the name of the known divergence raw may show, or "".
func knownDivergence(raw []byte) string {
	var env map[string]json.RawMessage
	if json.Unmarshal(raw, &env) != nil {
		return ""
	}
	var detail map[string]json.RawMessage
	var detailType string
	for k, v := range env {
		switch {
		case strings.EqualFold(k, "detail"):
			_ = json.Unmarshal(v, &detail)
		case strings.EqualFold(k, "detail-type"):
			_ = json.Unmarshal(v, &detailType)
		}
	}
	for _, d := range divergences {
		if d.matches != nil && d.matches(env, detail, detailType) {
			return d.name
		}
	}
	return ""
}

// TestTimeSyntaxAgreesWithDecoder compares the schemas' time pattern with the
// decoder's time parsing on every combination of the parts of a time, valid
// and not: they agree on every one (the decoder checks RFC 3339's syntax
// before time.Parse, whose fallback takes more). The clock is far in the
// future, so only the syntax is judged.
func TestTimeSyntaxAgreesWithDecoder(t *testing.T) {
	v := schemas(t)
	far := time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC)
	var tried int
	check := func(s string) {
		tried++
		h := baseHeartbeat()
		h["sentAt"] = raw(str(s))
		ev := wrap(schema.DetailTypeHeartbeat, marshal(h))
		dec, sch := decoderSays(ev, far), v.says(ev)
		if dec.ok != sch.ok {
			t.Errorf("sentAt %q: decoder %s; schema %s", s, dec, sch)
		}
	}
	for _, y := range []string{"0000", "0004", "1900", "2000", "2024", "2026", "2100", "2400", "9999", "999", "+2026"} {
		for _, m := range []string{"00", "01", "02", "04", "06", "09", "11", "12", "13", "1"} {
			for _, d := range []string{"00", "01", "28", "29", "30", "31", "32", "1"} {
				for _, sep := range []string{"T", "t", " "} {
					check(y + "-" + m + "-" + d + sep + "12:00:00Z")
				}
			}
		}
	}
	for _, h := range []string{"00", "09", "9", "23", "24", "99"} {
		for _, mi := range []string{"00", "59", "60", "5"} {
			for _, s := range []string{"00", "59", "60", "5", ""} {
				clock := h + ":" + mi
				if s != "" {
					clock += ":" + s
				}
				for _, frac := range []string{"", ".5", ".123456789", ".1234567891234", ",5", ".", ".5.5", ".a"} {
					for _, off := range []string{"Z", "z", "+00:00", "-00:00", "+23:59", "+24:00", "-24:00", "+23:60",
						"+25:00", "+2:00", "+0200", "+01:00:00", "", " Z", "UTC"} {
						check("2026-03-02T" + clock + frac + off)
					}
				}
			}
		}
	}
	t.Logf("%d times: the schema and the decoder agree on each", tried)
}
