package gen

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tap-trading/tap/internal/event"
)

// Kind says what a delivery is, so a test or the demo can check the outcome
// the pipeline gave it.
type Kind int

// Kinds of delivery.
const (
	// Original is the first delivery of a valid event: the store must record
	// it (applied or stale).
	Original Kind = iota
	// Duplicate is a later delivery of an event already in the stream
	// (same eventId, same content).
	Duplicate
	// Conflicting is a valid event reusing the (orderId, seq) of an original
	// delivered before it, with another eventId: the store must report a
	// conflict and keep the original.
	Conflicting
	// Invalid breaks one rule of DESIGN §2; Delivery.Reason is the reason
	// validation must give.
	Invalid
)

// String names the kind for reports.
func (k Kind) String() string {
	switch k {
	case Original:
		return "original"
	case Duplicate:
		return "duplicate"
	case Conflicting:
		return "conflicting"
	case Invalid:
		return "invalid"
	}
	return "unknown"
}

// Delivery is one event as delivered to the pipeline.
type Delivery struct {
	Report event.ExecutionReport
	Kind   Kind
	// Reason is, for an Invalid delivery, the reason code validation must
	// report; empty otherwise.
	Reason event.Reason
}

// StreamOptions shape a delivery stream. The zero value delivers every event
// once, in transactTime order.
type StreamOptions struct {
	// Seed drives every random choice of the stream.
	Seed uint64
	// Duplicates is the probability that an event is delivered again; a
	// redelivered event may be redelivered again with the same probability.
	Duplicates float64
	// Reorder shuffles the whole stream, as if deliveries raced. Without it,
	// events come in transactTime order and each duplicate a few deliveries
	// after its first copy.
	Reorder bool
	// Conflicts is the number of conflicting events added, as a fraction of
	// the events. Each comes after the first delivery of the event it
	// conflicts with, so which one is the original is known.
	Conflicts float64
	// Invalid is the number of invalid events added, as a fraction of the
	// events; each is a copy of a valid event with a fresh eventId and one
	// rule broken.
	Invalid float64
}

// Stream builds a delivery sequence from lifecycles. Its kinds are exact:
// Original marks the first delivery of each valid event in the returned order.
func Stream(ls []Lifecycle, o StreamOptions) []Delivery {
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	events := Events(ls)
	// Time order interleaves orders the way a market does; ties keep seq order.
	slices.SortStableFunc(events, func(a, b event.ExecutionReport) int {
		return a.TransactTime.Compare(b.TransactTime)
	})

	// Each delivery gets a position; sorting by it gives the stream.
	type placed struct {
		d   Delivery
		pos float64
	}
	var out []placed
	pos := func(i int) float64 {
		if o.Reorder {
			return rng.Float64() * float64(len(events))
		}
		return float64(i)
	}
	for i, e := range events {
		p := pos(i)
		out = append(out, placed{Delivery{Report: e, Kind: Original}, p})
		for o.Duplicates > 0 && rng.Float64() < o.Duplicates {
			if o.Reorder {
				p = pos(i)
			} else {
				p += 1 + rng.Float64()*8 // a few deliveries later
			}
			out = append(out, placed{Delivery{Report: e, Kind: Duplicate}, p})
		}
	}
	// Conflicts go after the first delivery of their original, found once
	// the positions of all copies are known.
	first := make(map[string]float64, len(events))
	for _, p := range out {
		if f, ok := first[p.d.Report.EventID]; !ok || p.pos < f {
			first[p.d.Report.EventID] = p.pos
		}
	}
	end := float64(len(events) + 8)
	for range count(o.Conflicts, len(events)) {
		e := events[rng.IntN(len(events))]
		f := first[e.EventID]
		c := Conflict(e, rng.Uint64())
		out = append(out, placed{Delivery{Report: c, Kind: Conflicting}, f + (end-f)*rng.Float64() + 1e-9})
	}
	for range count(o.Invalid, len(events)) {
		e := events[rng.IntN(len(events))]
		bad, reason := invalidate(e, rng)
		out = append(out, placed{Delivery{Report: bad, Kind: Invalid, Reason: reason}, rng.Float64() * end})
	}

	slices.SortStableFunc(out, func(a, b placed) int {
		switch {
		case a.pos < b.pos:
			return -1
		case a.pos > b.pos:
			return 1
		}
		return 0
	})
	stream := make([]Delivery, len(out))
	seen := make(map[string]bool, len(events))
	for i, p := range out {
		d := p.d
		if d.Kind == Original || d.Kind == Duplicate {
			d.Kind = Original
			if seen[d.Report.EventID] {
				d.Kind = Duplicate
			}
			seen[d.Report.EventID] = true
		}
		stream[i] = d
	}
	return stream
}

func count(fraction float64, n int) int {
	if fraction <= 0 {
		return 0
	}
	return max(1, int(fraction*float64(n)+0.5))
}

// Conflict returns a valid event that reuses r's orderId and seq under another
// eventId (drawn from seed) and 1 ms later — a producer bug the store must
// detect, not apply.
func Conflict(r event.ExecutionReport, seed uint64) event.ExecutionReport {
	c := r
	c.EventID = newUUID(rand.New(rand.NewPCG(seed, 0xc0ff)))
	c.TransactTime = r.TransactTime.Add(time.Millisecond)
	return c
}

// defects are the ways invalidate breaks an event, each with the reason
// validation reports for it (the base event being valid, it is the only
// rule broken).
func defects() []struct {
	reason event.Reason
	apply  func(*event.ExecutionReport)
} {
	return []struct {
		reason event.Reason
		apply  func(*event.ExecutionReport)
	}{
		{event.ReasonNegativeQty, func(r *event.ExecutionReport) { r.OrderQty = event.MustDecimal("-" + r.OrderQty.String()) }},
		{event.ReasonInvalidSymbol, func(r *event.ExecutionReport) { r.Symbol = "not a symbol" }},
		{event.ReasonInvalidID, func(r *event.ExecutionReport) { r.OrderID = r.OrderID + " #bad" }},
		{event.ReasonInvalidSeq, func(r *event.ExecutionReport) { r.Seq = 0 }},
		{event.ReasonInvalidSide, func(r *event.ExecutionReport) { r.Side = "HOLD" }},
		{event.ReasonTooManyDecimals, func(r *event.ExecutionReport) { r.AvgPx = event.MustDecimal("1.123456789") }},
		{event.ReasonCumExceedsOrder, func(r *event.ExecutionReport) {
			r.CumQty = event.MustDecimal(r.OrderQty.String() + "1")
		}},
	}
}

// invalidate copies r with a fresh eventId and one rule broken.
func invalidate(r event.ExecutionReport, rng *rand.Rand) (event.ExecutionReport, event.Reason) {
	bad := r
	bad.EventID = newUUID(rng)
	ds := defects()
	d := ds[rng.IntN(len(ds))]
	if d.reason == event.ReasonNegativeQty && r.OrderQty.IsZero() {
		d = ds[1] // -0 is zero, not negative
	}
	d.apply(&bad)
	return bad, d.reason
}
