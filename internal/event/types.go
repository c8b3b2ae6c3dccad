// Package event is TAP's event contract (DESIGN §2): the EventBridge envelope,
// the ExecutionReport and Heartbeat details, their decoding with exact decimals,
// and validation with machine-readable reason codes.
//
// Decisions the contract leaves open, made here once for every consumer:
//   - Decode takes the processing clock as a parameter; nothing reads a global
//     clock.
//   - Events over MaxEventBytes (256 KiB) are rejected before parsing.
//   - Unknown fields are ignored, in the envelope and the detail (FIX style).
//   - The first violation is reported, in a fixed order (see Decode), as one
//     *ValidationError: the dead-letter record carries one reason code.
//   - Decimals are JSON strings of plain decimal text; seq is a JSON integer.
//   - Values are normalized: decimals to canonical text, eventId to lower
//     case, times to UTC; so equal events encode to equal bytes.
//   - A FILL needs cumQty == orderQty as well as leavesQty 0 (see Validate).
//   - No float64 anywhere: comparisons and the leavesQty sum are exact.
package event

import "time"

// ExecType is the FIX execution type of a report.
type ExecType string

// Execution types (DESIGN §2).
const (
	ExecNew         ExecType = "NEW"
	ExecPartialFill ExecType = "PARTIAL_FILL"
	ExecFill        ExecType = "FILL"
	ExecCanceled    ExecType = "CANCELED"
	ExecReplaced    ExecType = "REPLACED"
	ExecRejected    ExecType = "REJECTED"
	ExecExpired     ExecType = "EXPIRED"
)

// Side is the order side.
type Side string

// Sides (DESIGN §2).
const (
	SideBuy       Side = "BUY"
	SideSell      Side = "SELL"
	SideSellShort Side = "SELL_SHORT"
)

// ExecutionReport is a decoded and validated ExecutionReport detail. Every
// decimal is held exactly, in canonical form (see Decimal).
type ExecutionReport struct {
	EventID      string
	OrderID      string
	AccountID    string
	Seq          int64
	ExecType     ExecType
	Symbol       string
	Side         Side
	OrderQty     Decimal
	CumQty       Decimal
	LeavesQty    Decimal
	LastQty      Decimal
	Price        Decimal // optional: Decimal.IsSet reports presence
	LastPx       Decimal // optional
	AvgPx        Decimal
	TransactTime time.Time
}

// Heartbeat is a decoded Heartbeat detail (DESIGN §1, §2).
type Heartbeat struct {
	// Region is the region whose bus the heartbeat was sent to.
	Region string
	SentAt time.Time
}
