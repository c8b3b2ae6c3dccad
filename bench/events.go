package bench

import (
	"bytes"
	"time"

	"github.com/google/uuid"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/schema"
)

// Events returns n EventBridge events (the JSON Lambda hands the function)
// made from generated order lifecycles, order by order, all valid: the one
// sequence both sides receive, byte for byte.
//
// Each detail also carries "id" = eventId. The seed's handler keys its item by
// detail.id and falls back to `event-${Date.now()}` — the millisecond clock —
// so without it two events handled in the same millisecond by different
// environments overwrite each other and the peer's item count could not be
// checked. TAP's decoder ignores unknown fields (event.Decode), so both sides
// still get identical bytes. orders is how many distinct orders they touch.
func Events(seed uint64, n int, region string) (events [][]byte, orders int) {
	events = make([][]byte, 0, n)
	// Lifecycles average a few events each; generate more orders until there are enough.
	for count := n/3 + 1; len(events) < n; count *= 2 {
		events, orders = events[:0], 0
		last := ""
		for _, r := range gen.Events(gen.Lifecycles(seed, count, gen.Options{})) {
			if len(events) == n {
				break
			}
			if r.OrderID != last {
				orders, last = orders+1, r.OrderID
			}
			events = append(events, envelope(&r, region))
		}
	}
	return events, orders
}

func envelope(r *event.ExecutionReport, region string) []byte {
	detail := event.EncodeDetail(r)
	withID := make([]byte, 0, len(detail)+len(r.EventID)+10)
	withID = append(withID, `{"id":"`...)
	withID = append(withID, r.EventID...) // a UUID: no escaping needed
	withID = append(withID, `",`...)
	withID = append(withID, detail[1:]...)
	return event.EncodeEnvelope(event.Envelope{
		// The envelope id is EventBridge's own; derive it so a run is repeatable.
		ID:         uuid.NewSHA1(uuid.NameSpaceOID, []byte(r.EventID)).String(),
		Source:     schema.Source,
		DetailType: schema.DetailTypeExecutionReport,
		Account:    awslocal.AccountID,
		Region:     region,
		Time:       r.TransactTime,
		Detail:     withID,
	})
}

// Restamp returns ev as if its trade happened and was published at now: the
// envelope's time (EventBridge's, whole seconds) and the detail's
// transactTime (milliseconds) are set to now. The generated times lie in the
// past (gen's fixed start), so without this every event of a run is days old
// and the processor measures what it does for late trades, not for live
// traffic: a TradeAge metric on every invocation and a pipeline latency of
// months. Fields ev does not have are left alone; within one order the
// restamped times still increase, as events are invoked in order.
func Restamp(ev []byte, now time.Time) []byte {
	now = now.UTC()
	out := restampField(ev, `"time":"`, now.Truncate(time.Second))
	return restampField(out, `"transactTime":"`, now.Truncate(time.Millisecond))
}

// restampField replaces the RFC 3339 value after the first key in ev.
func restampField(ev []byte, key string, t time.Time) []byte {
	i := bytes.Index(ev, []byte(key))
	if i < 0 {
		return ev
	}
	start := i + len(key)
	end := bytes.IndexByte(ev[start:], '"')
	if end < 0 {
		return ev
	}
	end += start
	out := make([]byte, 0, len(ev)+8)
	out = append(out, ev[:start]...)
	out = t.AppendFormat(out, time.RFC3339Nano)
	return append(out, ev[end:]...)
}
