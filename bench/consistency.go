package bench

import (
	"fmt"

	"github.com/tap-trading/tap/internal/twin"
)

// TableOps are the DynamoDB requests both regions' processors made in a
// drill, by kind (twin.OpWrite, twin.OpCondFailed, twin.OpQuery,
// twin.OpRead), and the events the endpoint accepted.
type TableOps struct {
	Ops    map[string]int
	Events int
	// Strong: the table is multi-Region strongly consistent (MRSC), whose
	// processor reads are strongly consistent.
	Strong bool
}

// TableBill is the DynamoDB part of the bill per million events, from the
// operations a drill counted: what changes between the table's two modes
// (EventBridge, Lambda and the logs are the same in both).
type TableBill struct {
	// WRU: every write request, applied or failed on its condition (a
	// failed conditional write is billed; TAP's items are under 1 KB: 1
	// WRU each). RRU: each Query or GetItem of at most 4 KB, 1 RRU strongly
	// consistent, ½ eventually — MRSC's processor reads are all strongly
	// consistent; MREC's are mostly the read-first's eventually consistent
	// Query (its repair's consistent Query costs 1: counted at ½ here, a
	// lower bound). RWRU: every applied write replicated to the other
	// replica (a witness "does not incur storage or write costs"; MRSC's
	// replicated writes are assumed priced as MREC's rWRU, no page says).
	WRU, RRU, RWRU float64
	// Dollars per million events.
	Dollars float64
}

// PriceTable prices ops with p, per million events.
func PriceTable(p Prices, ops TableOps) (TableBill, error) {
	if ops.Events <= 0 {
		return TableBill{}, fmt.Errorf("bench: no events to price the table's operations by")
	}
	per := func(n int) float64 { return float64(n) / float64(ops.Events) }
	readUnit := 0.5
	if ops.Strong {
		readUnit = 1
	}
	b := TableBill{
		WRU:  per(ops.Ops[twin.OpWrite] + ops.Ops[twin.OpCondFailed]),
		RRU:  per(ops.Ops[twin.OpQuery]+ops.Ops[twin.OpRead]) * readUnit,
		RWRU: per(ops.Ops[twin.OpWrite]),
	}
	b.Dollars = b.WRU*p.WRUPerM + b.RRU*p.RRUPerM + b.RWRU*p.RWRUPerM
	return b, nil
}
