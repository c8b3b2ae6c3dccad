package gen

import (
	"errors"
	"math/big"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/event"
)

// now is after every generated transactTime, as a processor's clock would be.
var now = time.Date(2027, time.January, 1, 0, 0, 0, 0, time.UTC)

func TestLifecyclesAreDeterministic(t *testing.T) {
	a := Lifecycles(42, 50, Options{})
	b := Lifecycles(42, 50, Options{})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Lifecycles(42, 50) differs between two calls")
	}
	prefix := Lifecycles(42, 10, Options{})
	if !reflect.DeepEqual(prefix, a[:10]) {
		t.Error("Lifecycles(42, 10) is not a prefix of Lifecycles(42, 50)")
	}
	other := Lifecycles(43, 50, Options{})
	if other[0].OrderID == a[0].OrderID || other[0].Events[0].EventID == a[0].Events[0].EventID {
		t.Errorf("seeds 42 and 43 share order %s or eventId %s", a[0].OrderID, a[0].Events[0].EventID)
	}
}

func TestLifecyclesAreValidAndConsistent(t *testing.T) {
	ls := Lifecycles(7, 2000, Options{})
	eventIDs := map[string]bool{}
	for _, l := range ls {
		for i, r := range l.Events {
			if err := event.Validate(&r, now); err != nil {
				t.Fatalf("%s seq %d: Validate = %v, want nil", l.OrderID, r.Seq, err)
			}
			if got, want := r.Seq, int64(i+1); got != want {
				t.Errorf("%s event %d: seq = %d, want %d", l.OrderID, i, got, want)
			}
			if r.OrderID != l.OrderID || r.AccountID != l.AccountID {
				t.Errorf("%s seq %d: ids %s/%s, want %s/%s", l.OrderID, r.Seq, r.OrderID, r.AccountID, l.OrderID, l.AccountID)
			}
			if eventIDs[r.EventID] {
				t.Errorf("%s seq %d: eventId %s repeats", l.OrderID, r.Seq, r.EventID)
			}
			eventIDs[r.EventID] = true
			if i == 0 {
				if r.ExecType != event.ExecNew {
					t.Errorf("%s: first event is %s, want NEW", l.OrderID, r.ExecType)
				}
				continue
			}
			prev := l.Events[i-1]
			if !r.TransactTime.After(prev.TransactTime) {
				t.Errorf("%s seq %d: transactTime %v not after seq %d's %v", l.OrderID, r.Seq, r.TransactTime, prev.Seq, prev.TransactTime)
			}
			if prev.ExecType.Terminal() {
				t.Errorf("%s seq %d follows terminal %s", l.OrderID, r.Seq, prev.ExecType)
			}
			if got, want := rat(r.CumQty), new(big.Rat).Add(rat(prev.CumQty), rat(r.LastQty)); got.Cmp(want) != 0 {
				t.Errorf("%s seq %d: cumQty %s, want previous %s + lastQty %s", l.OrderID, r.Seq, r.CumQty, prev.CumQty, r.LastQty)
			}
		}
		checkAvgPx(t, l)
	}
}

// checkAvgPx checks every event's avgPx is Σ lastQty·lastPx / cumQty within
// half a unit of the 8th place.
func checkAvgPx(t *testing.T, l Lifecycle) {
	t.Helper()
	notional := new(big.Rat)
	for _, r := range l.Events {
		if r.LastPx.IsSet() {
			notional.Add(notional, new(big.Rat).Mul(rat(r.LastQty), rat(r.LastPx)))
		}
		if r.CumQty.IsZero() {
			if !r.AvgPx.IsZero() {
				t.Errorf("%s seq %d: avgPx %s before any fill, want 0", l.OrderID, r.Seq, r.AvgPx)
			}
			continue
		}
		exact := new(big.Rat).Quo(notional, rat(r.CumQty))
		diff := new(big.Rat).Sub(rat(r.AvgPx), exact)
		if diff.Abs(diff).Cmp(big.NewRat(1, 2e8)) > 0 {
			t.Errorf("%s seq %d: avgPx %s, want %s rounded to 8 places", l.OrderID, r.Seq, r.AvgPx, exact.FloatString(10))
		}
	}
}

func TestLifecyclesCoverTheContract(t *testing.T) {
	ls := Lifecycles(1, 1000, Options{})
	types := map[event.ExecType]int{}
	ends := map[event.ExecType]int{}
	sides := map[event.Side]int{}
	maxScale, market := 0, 0
	for _, l := range ls {
		for _, r := range l.Events {
			types[r.ExecType]++
			sides[r.Side]++
			maxScale = max(maxScale, r.LastPx.Scale(), r.Price.Scale())
		}
		ends[l.Last().ExecType]++
		if !l.Events[0].Price.IsSet() {
			market++
		}
	}
	for _, et := range []event.ExecType{event.ExecNew, event.ExecPartialFill, event.ExecFill, event.ExecCanceled, event.ExecReplaced, event.ExecRejected, event.ExecExpired} {
		if types[et] == 0 {
			t.Errorf("no %s event in 1000 lifecycles", et)
		}
		if et != event.ExecNew && et != event.ExecPartialFill && ends[et] == 0 {
			t.Errorf("no lifecycle ends with %s", et)
		}
	}
	if len(sides) != 3 {
		t.Errorf("sides used = %v, want all three", sides)
	}
	if maxScale != 8 {
		t.Errorf("largest price scale = %d, want 8", maxScale)
	}
	if market == 0 || market == len(ls) {
		t.Errorf("%d of %d orders are market orders, want some but not all", market, len(ls))
	}
}

func TestStreamAccountsForEveryEvent(t *testing.T) {
	ls := Lifecycles(3, 300, Options{})
	events := Events(ls)
	for _, reorder := range []bool{false, true} {
		s := Stream(ls, StreamOptions{Seed: 9, Duplicates: 0.3, Reorder: reorder, Conflicts: 0.02, Invalid: 0.05})
		originals := map[string]int{} // eventId → index of first delivery
		bySeq := map[string]string{}  // orderId/seq → original eventId
		kinds := map[Kind]int{}
		for i, d := range s {
			kinds[d.Kind]++
			key := d.Report.OrderID + "/" + itoa(d.Report.Seq)
			switch d.Kind {
			case Original:
				if _, ok := originals[d.Report.EventID]; ok {
					t.Fatalf("reorder=%v: eventId %s is Original twice", reorder, d.Report.EventID)
				}
				originals[d.Report.EventID] = i
				bySeq[key] = d.Report.EventID
			case Duplicate:
				if _, ok := originals[d.Report.EventID]; !ok {
					t.Errorf("reorder=%v: delivery %d is a Duplicate before its original", reorder, i)
				}
			case Conflicting:
				orig, ok := bySeq[key]
				if !ok || orig == d.Report.EventID {
					t.Errorf("reorder=%v: conflict %d for %s comes before its original or reuses its eventId", reorder, i, key)
				}
				if err := event.Validate(&d.Report, now); err != nil {
					t.Errorf("reorder=%v: conflict %d is invalid: %v", reorder, i, err)
				}
			case Invalid:
				var ve *event.ValidationError
				if err := event.Validate(&d.Report, now); !errors.As(err, &ve) || ve.Reason != d.Reason {
					t.Errorf("reorder=%v: invalid delivery %d: Validate = %v, want reason %s", reorder, i, err, d.Reason)
				}
			}
		}
		if got, want := len(originals), len(events); got != want {
			t.Errorf("reorder=%v: %d originals, want one per event (%d)", reorder, got, want)
		}
		for _, k := range []Kind{Duplicate, Conflicting, Invalid} {
			if kinds[k] == 0 {
				t.Errorf("reorder=%v: no %s delivery", reorder, k)
			}
		}
		if got := inversions(s); reorder != (got > 0) {
			t.Errorf("reorder=%v: %d per-order seq inversions among originals", reorder, got)
		}
	}
}

// inversions counts originals delivered after a higher seq of their order.
func inversions(s []Delivery) int {
	high := map[string]int64{}
	n := 0
	for _, d := range s {
		if d.Kind != Original {
			continue
		}
		if d.Report.Seq < high[d.Report.OrderID] {
			n++
		}
		high[d.Report.OrderID] = max(high[d.Report.OrderID], d.Report.Seq)
	}
	return n
}

func TestConflictIsValidWithAnotherEventID(t *testing.T) {
	r := Lifecycles(5, 1, Options{})[0].Events[0]
	c := Conflict(r, 1)
	if c.OrderID != r.OrderID || c.Seq != r.Seq || c.EventID == r.EventID {
		t.Errorf("Conflict = %s/%d/%s, want %s/%d with another eventId", c.OrderID, c.Seq, c.EventID, r.OrderID, r.Seq)
	}
	if err := event.Validate(&c, now); err != nil {
		t.Errorf("Validate(Conflict) = %v, want nil", err)
	}
	if again := Conflict(r, 1); again.EventID != c.EventID {
		t.Errorf("Conflict(r, 1) eventId = %s then %s, want deterministic", c.EventID, again.EventID)
	}
}

func TestDecimal(t *testing.T) {
	tests := []struct {
		v     int64
		scale int
		want  string
	}{
		{0, 8, "0"}, {5, 0, "5"}, {5, 3, "0.005"}, {125000, 4, "12.5"}, {5123456, 8, "0.05123456"},
	}
	for _, tc := range tests {
		if got := decimal(tc.v, tc.scale).String(); got != tc.want {
			t.Errorf("decimal(%d, %d) = %s, want %s", tc.v, tc.scale, got, tc.want)
		}
	}
}

func rat(d event.Decimal) *big.Rat {
	r, ok := new(big.Rat).SetString(d.String())
	if !ok {
		panic("bad decimal " + d.String())
	}
	return r
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func TestWithEvents(t *testing.T) {
	l, ok := WithEvents(41, 5)
	if !ok || len(l.Events) < 5 {
		t.Errorf("WithEvents(41, 5) = %d events, %v; want at least 5, true", len(l.Events), ok)
	}
	if _, ok := WithEvents(41, 1000); ok {
		t.Error("WithEvents(41, 1000) found an order of 1000 events; want false")
	}
}
