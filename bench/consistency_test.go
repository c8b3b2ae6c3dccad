package bench

import (
	"math"
	"testing"

	"github.com/tap-trading/tap/internal/twin"
)

func TestPriceTable(t *testing.T) {
	p, _ := PublishedPrices()
	ops := map[string]int{twin.OpWrite: 300, twin.OpCondFailed: 100, twin.OpQuery: 80, twin.OpRead: 20}
	ev, err := PriceTable(p, TableOps{Ops: ops, Events: 100})
	if err != nil {
		t.Fatal(err)
	}
	st, err := PriceTable(p, TableOps{Ops: ops, Events: 100, Strong: true})
	if err != nil {
		t.Fatal(err)
	}
	// 4 WRU, 3 rWRU and 1 read (½ or 1 RRU) per event.
	if ev.WRU != 4 || ev.RWRU != 3 || ev.RRU != 0.5 || st.RRU != 1 {
		t.Errorf("units eventual %+v, strong %+v: want 4 WRU, 3 rWRU, 0.5 and 1 RRU", ev, st)
	}
	want := 4*p.WRUPerM + 0.5*p.RRUPerM + 3*p.RWRUPerM
	if math.Abs(ev.Dollars-want) > 1e-9 || st.Dollars <= ev.Dollars {
		t.Errorf("dollars eventual %g (want %g), strong %g (want more: reads cost double)", ev.Dollars, want, st.Dollars)
	}
	if _, err := PriceTable(p, TableOps{Ops: ops}); err == nil {
		t.Error("priced operations of no events; want an error")
	}
}
