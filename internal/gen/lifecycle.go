// Package gen generates realistic, deterministic order lifecycles — NEW, partial
// fills, an optional replace, and an end (FILL, CANCELED, EXPIRED, REJECTED, or
// a replace that leaves the order working) — and delivery streams made from
// them with duplicates, reordering, conflicts and invalid events. tapctl's demo
// and load commands, the store's invariant tests and the benchmarks use it.
//
// Everything is a function of the seed: the same seed gives the same orders,
// eventIds and times, so a run can be repeated and its events recognised as
// duplicates by the store.
package gen

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/tap-trading/tap/internal/event"
)

// Options shape generated lifecycles. The zero value gives the defaults.
type Options struct {
	// Start is the transactTime of the first order's NEW. Default:
	// 2026-01-05T14:30:00Z, a fixed instant in the past, so generated events
	// are never "in the future" for validation.
	Start time.Time
	// Spacing is the time between the NEWs of consecutive orders. Default: 20 ms.
	Spacing time.Duration
	// Accounts is how many accounts the orders are spread over. Default: 20.
	Accounts int
	// MaxFills is the most fills an order gets. Default: 4.
	MaxFills int
}

func (o Options) withDefaults() Options {
	if o.Start.IsZero() {
		o.Start = time.Date(2026, time.January, 5, 14, 30, 0, 0, time.UTC)
	}
	if o.Spacing <= 0 {
		o.Spacing = 20 * time.Millisecond
	}
	if o.Accounts <= 0 {
		o.Accounts = 20
	}
	if o.MaxFills <= 0 {
		o.MaxFills = 4
	}
	return o
}

// Lifecycle is one order's execution reports, seq 1..n, in transactTime order.
// Every event is valid per DESIGN §2.
type Lifecycle struct {
	OrderID   string
	AccountID string
	Events    []event.ExecutionReport
}

// Last is the lifecycle's highest-seq event: what the order's state must end as.
func (l Lifecycle) Last() event.ExecutionReport { return l.Events[len(l.Events)-1] }

// Events flattens lifecycles into one slice, order by order.
func Events(ls []Lifecycle) []event.ExecutionReport {
	var n int
	for _, l := range ls {
		n += len(l.Events)
	}
	all := make([]event.ExecutionReport, 0, n)
	for _, l := range ls {
		all = append(all, l.Events...)
	}
	return all
}

// WithEvents returns the first of seed's first 50 lifecycles with at least n
// events, for a test or a scenario that needs an order that long; false if
// none is.
func WithEvents(seed uint64, n int) (Lifecycle, bool) {
	for _, l := range Lifecycles(seed, 50, Options{}) {
		if len(l.Events) >= n {
			return l, true
		}
	}
	return Lifecycle{}, false
}

// Lifecycles generates orders lifecycles from seed. Order i depends only on
// seed and i, so a smaller count gives a prefix of a larger one. Order IDs
// embed the seed: two seeds never share an order.
func Lifecycles(seed uint64, orders int, opts Options) []Lifecycle {
	opts = opts.withDefaults()
	ls := make([]Lifecycle, orders)
	for i := range ls {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		start := opts.Start.Add(time.Duration(i) * opts.Spacing)
		ls[i] = lifecycle(rng, fmt.Sprintf("ord-%016x-%06d", seed, i), start, opts)
	}
	return ls
}

// instrument is a tradable symbol: a reference price and the decimal places
// its prices and quantities use.
type instrument struct {
	symbol   string
	refPx    string // reference price
	pxScale  int    // decimal places of its prices (≤ 8)
	qtyScale int    // decimal places of its quantities
	minQty   int64  // in units of 10^-qtyScale
	maxQty   int64
}

// instruments is the generator's market: equities, a future, FX and crypto,
// so prices and quantities exercise from 0 to 8 decimal places.
func instruments() [9]instrument {
	return [...]instrument{
		{"AAPL", "189.25", 2, 0, 1, 2000},
		{"MSFT", "412.5", 2, 0, 1, 1500},
		{"BRK.B", "455.1", 2, 0, 1, 500},
		{"ESZ6", "5850.25", 2, 0, 1, 50},
		{"7203.T", "2850", 0, 0, 100, 10000},
		{"VOD.L", "0.7125", 4, 0, 100, 100000},
		{"EUR/USD", "1.08431", 5, 0, 1000, 1000000},
		{"BTC-USD", "67250.5", 2, 4, 10, 50000},      // 0.001 to 5 BTC
		{"ETH/BTC", "0.05123456", 8, 3, 100, 200000}, // 0.1 to 200 ETH
	}
}

// pxUnit is the scale prices are computed in: 8 places, the contract's limit.
const pxUnit = 8

// order is the mutable state of an order while its lifecycle is generated,
// quantities and prices as integers in their instrument's units.
type order struct {
	rng      *rand.Rand
	ins      instrument
	base     event.ExecutionReport // ids, symbol, side: copied into every event
	orderQty int64                 // 10^-qtyScale units
	cumQty   int64
	limit    int64    // price in 10^-8 units, 0 for a market order
	notional *big.Int // Σ lastQty·lastPx in 10^-(qtyScale+8) units
	t        time.Time
	events   []event.ExecutionReport
}

func lifecycle(rng *rand.Rand, orderID string, start time.Time, opts Options) Lifecycle {
	market := instruments()
	ins := market[rng.IntN(len(market))]
	side := event.SideBuy
	switch p := rng.Float64(); {
	case p < 0.45:
		side = event.SideSell
	case p < 0.55:
		side = event.SideSellShort
	}
	o := &order{
		rng: rng,
		ins: ins,
		base: event.ExecutionReport{
			OrderID:   orderID,
			AccountID: fmt.Sprintf("acct-%03d", rng.IntN(opts.Accounts)),
			Symbol:    ins.symbol,
			Side:      side,
		},
		orderQty: ins.minQty + rng.Int64N(ins.maxQty-ins.minQty+1),
		notional: new(big.Int),
		t:        start,
	}
	if rng.Float64() < 0.8 { // limit order
		o.limit = o.jitter(0.02)
	}
	o.emit(event.ExecNew, 0, 0)

	end := rng.Float64()
	switch {
	case end < 0.15:
		o.emit(event.ExecRejected, 0, 0)
		return o.done()
	case end < 0.25:
		// Amended and still working when the stream ends.
		o.fills(rng.IntN(opts.MaxFills))
		o.replace()
		return o.done()
	}
	fills := rng.IntN(opts.MaxFills + 1)
	replaceAt := -1
	if rng.Float64() < 0.15 {
		replaceAt = rng.IntN(fills + 1)
	}
	for i := 0; i < fills; i++ {
		if i == replaceAt {
			o.replace()
		}
		o.fills(1)
	}
	if replaceAt == fills {
		o.replace()
	}
	switch {
	case end < 0.70:
		o.fillRest()
	case end < 0.88:
		o.emit(event.ExecCanceled, 0, 0)
	default:
		o.emit(event.ExecExpired, 0, 0)
	}
	return o.done()
}

// fills emits up to n partial fills; each leaves something working, so it
// stops early when too little is left to split.
func (o *order) fills(n int) {
	for range n {
		leaves := o.orderQty - o.cumQty
		if leaves < 2 {
			return
		}
		qty := 1 + o.rng.Int64N(leaves/2) // 1..leaves/2: fills chip away at the order
		o.emit(event.ExecPartialFill, qty, o.fillPx())
	}
}

// fillRest fills what is left; an order with nothing left is canceled
// instead (a FILL of zero would be meaningless).
func (o *order) fillRest() {
	if leaves := o.orderQty - o.cumQty; leaves > 0 {
		o.emit(event.ExecFill, leaves, o.fillPx())
		return
	}
	o.emit(event.ExecCanceled, 0, 0)
}

// replace amends the order: a new quantity (never below what is filled plus
// one) and, for a limit order, a new price.
func (o *order) replace() {
	leaves := o.orderQty - o.cumQty
	newLeaves := max(1, leaves/2+o.rng.Int64N(leaves+1))
	o.orderQty = o.cumQty + newLeaves
	if o.limit != 0 {
		o.limit = o.jitter(0.02)
	}
	o.emit(event.ExecReplaced, 0, 0)
}

// jitter is a price within ±frac of the reference, on the instrument's tick,
// in 10^-8 units.
func (o *order) jitter(frac float64) int64 {
	ref := units(o.ins.refPx, pxUnit)
	tick := pow10(pxUnit - o.ins.pxScale)
	px := ref + int64(float64(ref)*frac*(2*o.rng.Float64()-1))
	px = px / tick * tick
	return max(px, tick)
}

// fillPx is a fill price: at the limit or better for a limit order, near the
// reference for a market order.
func (o *order) fillPx() int64 {
	if o.limit == 0 {
		return o.jitter(0.005)
	}
	tick := pow10(pxUnit - o.ins.pxScale)
	improve := o.rng.Int64N(3) * tick
	if o.base.Side == event.SideBuy {
		return max(o.limit-improve, tick)
	}
	return o.limit + improve
}

// emit appends the next event after a fill of lastQty at lastPx (0, 0 for
// none), updating cumQty and the average price.
func (o *order) emit(t event.ExecType, lastQty, lastPx int64) {
	o.cumQty += lastQty
	if lastQty > 0 {
		o.notional.Add(o.notional, new(big.Int).Mul(big.NewInt(lastQty), big.NewInt(lastPx)))
	}
	leaves := o.orderQty - o.cumQty
	if t.Terminal() {
		leaves = 0
	}
	if len(o.events) > 0 {
		o.t = o.t.Add(time.Millisecond + time.Duration(o.rng.Int64N(int64(2*time.Second))))
	}
	r := o.base
	r.EventID = newUUID(o.rng)
	r.Seq = int64(len(o.events) + 1)
	r.ExecType = t
	r.OrderQty = decimal(o.orderQty, o.ins.qtyScale)
	r.CumQty = decimal(o.cumQty, o.ins.qtyScale)
	r.LeavesQty = decimal(leaves, o.ins.qtyScale)
	r.LastQty = decimal(lastQty, o.ins.qtyScale)
	if o.limit != 0 {
		r.Price = decimal(o.limit, pxUnit)
	}
	if lastQty > 0 {
		r.LastPx = decimal(lastPx, pxUnit)
	}
	r.AvgPx = o.avgPx()
	r.TransactTime = o.t
	o.events = append(o.events, r)
}

// avgPx is Σ lastQty·lastPx / cumQty rounded half up to 8 places, or 0
// before the first fill.
func (o *order) avgPx() event.Decimal {
	if o.cumQty == 0 {
		return event.MustDecimal("0")
	}
	// notional is in 10^-(qtyScale+8) units and cumQty in 10^-qtyScale, so
	// their quotient is in 10^-8 units.
	q, r := new(big.Int).QuoRem(o.notional, big.NewInt(o.cumQty), new(big.Int))
	if r.Lsh(r, 1).Cmp(big.NewInt(o.cumQty)) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	return decimal(q.Int64(), pxUnit)
}

func (o *order) done() Lifecycle {
	return Lifecycle{OrderID: o.base.OrderID, AccountID: o.base.AccountID, Events: o.events}
}

// decimal is v·10^-scale as a canonical Decimal.
func decimal(v int64, scale int) event.Decimal {
	s := fmt.Sprintf("%0*d", scale+1, v)
	if scale > 0 {
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	return event.MustDecimal(s)
}

// units is decimal text s in 10^-scale units; s has at most scale places.
func units(s string, scale int) int64 {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("gen: bad decimal constant " + s)
	}
	r.Mul(r, new(big.Rat).SetInt64(pow10(scale)))
	return r.Num().Int64()
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// newUUID is a version 4 UUID drawn from rng, so eventIds are deterministic.
func newUUID(rng *rand.Rand) string {
	var u uuid.UUID
	for i := 0; i < len(u); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			u[i+j] = byte(v >> (8 * j))
		}
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}
