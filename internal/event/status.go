package event

// OrderStatus is the status the state item records after an event is applied
// (DESIGN §3).
type OrderStatus string

// Order statuses (DESIGN §3), one per execution type.
const (
	StatusNew             OrderStatus = "NEW"
	StatusPartiallyFilled OrderStatus = "PARTIALLY_FILLED"
	StatusFilled          OrderStatus = "FILLED"
	StatusCanceled        OrderStatus = "CANCELED"
	StatusReplaced        OrderStatus = "REPLACED"
	StatusRejected        OrderStatus = "REJECTED"
	StatusExpired         OrderStatus = "EXPIRED"
)

// Status is the order status an execution of type t leaves the order in, or ""
// for a type outside the contract (which validation rejects first).
func (t ExecType) Status() OrderStatus {
	switch t {
	case ExecNew:
		return StatusNew
	case ExecPartialFill:
		return StatusPartiallyFilled
	case ExecFill:
		return StatusFilled
	case ExecCanceled:
		return StatusCanceled
	case ExecReplaced:
		return StatusReplaced
	case ExecRejected:
		return StatusRejected
	case ExecExpired:
		return StatusExpired
	}
	return ""
}

// Terminal reports whether t ends the order: no quantity is left working, so
// the contract requires leavesQty == 0 (DESIGN §2).
func (t ExecType) Terminal() bool {
	switch t {
	case ExecFill, ExecCanceled, ExecRejected, ExecExpired:
		return true
	}
	return false
}

// Valid reports whether t is one of the contract's execution types.
func (t ExecType) Valid() bool { return t.Status() != "" }

// Valid reports whether s is one of the contract's sides.
func (s Side) Valid() bool {
	switch s {
	case SideBuy, SideSell, SideSellShort:
		return true
	}
	return false
}
