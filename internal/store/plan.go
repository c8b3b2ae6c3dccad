package store

import (
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/schema"
)

// Key prefixes and fixed sort keys of the orders table (DESIGN §3).
const (
	orderPrefix     = "ORDER#"
	execPrefix      = "EXEC#"
	accountPrefix   = "ACCOUNT#"
	heartbeatPrefix = "HEARTBEAT#"
	stateSK         = "STATE"
	// seqDigits pads execution sort keys so they sort by seq as strings.
	// Seqs above 9 999 999 999 would still be stored, but out of order.
	seqDigits = 10
)

// TimeLayout is how every time is stored: RFC 3339 in UTC with a fixed nine-digit
// fraction, so that string order is time order. GSI1SK and the heartbeat's
// sentAt condition rely on that; time.RFC3339Nano trims zeros and would not.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// Attribute names of execution, state and heartbeat items.
const (
	attrEventID         = "eventId"
	attrOrderID         = "orderId"
	attrAccountID       = "accountId"
	attrSeq             = "seq"
	attrExecType        = "execType"
	attrSymbol          = "symbol"
	attrSide            = "side"
	attrOrderQty        = "orderQty"
	attrCumQty          = "cumQty"
	attrLeavesQty       = "leavesQty"
	attrLastQty         = "lastQty"
	attrPrice           = "price"
	attrLastPx          = "lastPx"
	attrAvgPx           = "avgPx"
	attrTransactTime    = "transactTime"
	attrReceivedAt      = "receivedAt"
	attrProcessedRegion = "processedRegion"
	attrLastSeq         = "lastSeq"
	attrLastEventID     = "lastEventId"
	attrStatus          = "status"
	attrUpdatedAt       = "updatedAt"
	attrRegion          = "region"
	attrSentAt          = "sentAt"
	attrProcessedAt     = "processedAt"
)

// Condition and update expressions. Every attribute goes through a #name
// placeholder: status is a DynamoDB reserved word, and one rule for all is
// simpler than knowing which others are.
const (
	condExecNew = "attribute_not_exists(PK)"
	// condExecDisplace lets an event overwrite exactly the execution it was
	// compared with — same eventId, recorded by this region — and nothing
	// else (see Store.Apply, conflicts).
	condExecDisplace = "#eventId = :displaced AND #processedRegion = :region"
	// condExecDisplaceStrong is condExecDisplace for a table with
	// multi-Region strong consistency, where any region may displace (see
	// Store.Apply): the eventId alone names the execution.
	condExecDisplaceStrong = "#eventId = :displaced"
	// condStateNew orders states by seq, then by the lower eventId at equal
	// seq: the order in which the lowest eventId of an (orderId, seq) wins it
	// (DESIGN §3, conflicts).
	condStateNew = "attribute_not_exists(PK) OR #lastSeq < :seq OR (#lastSeq = :seq AND #lastEventId > :eventId)"
	condHBNewer  = "attribute_not_exists(PK) OR #sentAt < :sentAt"

	stateSet = "SET #orderId = :orderId, #accountId = :accountId, #symbol = :symbol, #side = :side, " +
		"#orderQty = :orderQty, #cumQty = :cumQty, #leavesQty = :leavesQty, #avgPx = :avgPx, " +
		"#lastSeq = :seq, #lastEventId = :eventId, #execType = :execType, #status = :status, " +
		"#transactTime = :transactTime, #updatedAt = :updatedAt, #processedRegion = :region, " +
		"#GSI1PK = :gsi1pk, #GSI1SK = if_not_exists(#GSI1SK, :gsi1sk)"
	// The four shapes of the state update: price and lastPx are set when the
	// event has them and removed when it does not, so the state item is exactly
	// the highest seq's event and never keeps a field from an older one.
	updateStateBoth    = stateSet + ", #price = :price, #lastPx = :lastPx"
	updateStatePrice   = stateSet + ", #price = :price REMOVE #lastPx"
	updateStateLastPx  = stateSet + ", #lastPx = :lastPx REMOVE #price"
	updateStateNeither = stateSet + " REMOVE #price, #lastPx"
	updateHeartbeat    = "SET #region = :region, #sentAt = :sentAt, #processedRegion = :processedRegion, #processedAt = :processedAt"
	stateValueCount    = 19 // values in stateSet (17) + price + lastPx
	executionAttrCount = 19 // keys + every event field + metadata
)

// OrderPK is the partition key of an order's items.
func OrderPK(orderID string) string { return orderPrefix + orderID }

// ExecSK is the sort key of an execution: EXEC# and the seq zero-padded to 10 digits.
func ExecSK(seq int64) string {
	var buf [len(execPrefix) + 20]byte
	b := append(buf[:0], execPrefix...)
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], seq, 10)
	for i := len(d); i < seqDigits; i++ {
		b = append(b, '0')
	}
	return string(append(b, d...))
}

// HeartbeatPK is the partition key of the heartbeat of the region it was sent to.
func HeartbeatPK(region string) string { return heartbeatPrefix + region }

// AccountGSI1PK is the byAccount partition key of an account.
func AccountGSI1PK(accountID string) string { return accountPrefix + accountID }

// openedGSI1SK is the byAccount sort key of an order opened at transactTime:
// the time first, so the index sorts by it, then the orderId, so two orders
// opened in the same nanosecond still have distinct keys.
func openedGSI1SK(transactTime, orderID string) string { return transactTime + "#" + orderID }

// FormatTime formats t in TimeLayout (UTC).
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// PlanExecution builds the conditional put of an execution item: the event's
// fields (decimals as numbers), its eventId, when it was received and by which
// region. The put only succeeds if no execution has this (orderId, seq) yet, and
// on failure DynamoDB returns the existing item, so a duplicate (same eventId)
// is told from a conflict (another eventId) without a read. The existing item
// holds every field of its event, so a displaced one can be dead-lettered
// from it (PlanDisplacement).
//
// TableName is left nil: the plan is the item, the Store says where it goes.
func PlanExecution(r *event.ExecutionReport, region string, receivedAt time.Time) *dynamodb.PutItemInput {
	av := newSlab(11, 8)
	item := make(map[string]types.AttributeValue, executionAttrCount)
	item[schema.AttrPK] = av.str(OrderPK(r.OrderID))
	item[schema.AttrSK] = av.str(ExecSK(r.Seq))
	item[attrEventID] = av.str(r.EventID)
	item[attrOrderID] = av.str(r.OrderID)
	item[attrAccountID] = av.str(r.AccountID)
	item[attrSeq] = av.num(strconv.FormatInt(r.Seq, 10))
	item[attrExecType] = av.str(string(r.ExecType))
	item[attrSymbol] = av.str(r.Symbol)
	item[attrSide] = av.str(string(r.Side))
	item[attrOrderQty] = av.num(r.OrderQty.String())
	item[attrCumQty] = av.num(r.CumQty.String())
	item[attrLeavesQty] = av.num(r.LeavesQty.String())
	item[attrLastQty] = av.num(r.LastQty.String())
	item[attrAvgPx] = av.num(r.AvgPx.String())
	if r.Price.IsSet() {
		item[attrPrice] = av.num(r.Price.String())
	}
	if r.LastPx.IsSet() {
		item[attrLastPx] = av.num(r.LastPx.String())
	}
	item[attrTransactTime] = av.str(FormatTime(r.TransactTime))
	item[attrReceivedAt] = av.str(FormatTime(receivedAt))
	item[attrProcessedRegion] = av.str(region)
	return &dynamodb.PutItemInput{
		Item:                                item,
		ConditionExpression:                 strPtr(condExecNew),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// PlanDisplacement builds the put that overwrites the execution of the same
// (orderId, seq) recorded by this region under displacedEventID, a higher
// eventId than the event's: the lowest eventId wins an (orderId, seq) (DESIGN
// §3, conflicts). The condition names that exact execution, so a put never
// overwrites one its caller has not seen (and dead-lettered), nor one the
// other region recorded; on failure DynamoDB returns the item as it now is.
// It is for tables with multi-Region eventual consistency. TableName is left
// nil.
func PlanDisplacement(r *event.ExecutionReport, region string, receivedAt time.Time, displacedEventID string) *dynamodb.PutItemInput {
	in := PlanExecution(r, region, receivedAt)
	in.ConditionExpression = strPtr(condExecDisplace)
	in.ExpressionAttributeNames = map[string]string{"#eventId": attrEventID, "#processedRegion": attrProcessedRegion}
	in.ExpressionAttributeValues = map[string]types.AttributeValue{
		":displaced": str(displacedEventID),
		":region":    str(region),
	}
	return in
}

// PlanStrongDisplacement is PlanDisplacement for a table with multi-Region
// strong consistency: the condition names the execution by its eventId
// alone, whichever region recorded it, because there every region evaluates
// it against the latest version and no replication can bring the overwritten
// item back (see Store.Apply). TableName is left nil.
func PlanStrongDisplacement(r *event.ExecutionReport, region string, receivedAt time.Time, displacedEventID string) *dynamodb.PutItemInput {
	in := PlanExecution(r, region, receivedAt)
	in.ConditionExpression = strPtr(condExecDisplaceStrong)
	in.ExpressionAttributeNames = map[string]string{"#eventId": attrEventID}
	in.ExpressionAttributeValues = map[string]types.AttributeValue{":displaced": str(displacedEventID)}
	return in
}

// PlanState builds the conditional update of the order's state item to the
// event: it succeeds only if there is no state yet, or the state's lastSeq is
// lower, or it is the same seq under a higher eventId (the event outranks it,
// DESIGN §3 conflicts), so a late or repeated event never rolls state back
// (I1) and every region orders states alike.
//
// The byAccount index keys are set so that an ordinary update writes nothing
// to the index (DESIGN §3, the account index): GSI1PK is the account, which
// does not change, and GSI1SK — when the order opened, the transactTime of the
// first event applied to it, then its orderId — only if the item has none yet
// (if_not_exists). With a KEYS_ONLY projection, DynamoDB writes to an index
// only when an index key attribute is added, changed or removed
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes):
// once per order.
//
// Every business attribute is a function of the event alone; only updatedAt,
// processedRegion and GSI1SK depend on who wrote it first or when. That is what lets
// last-writer-wins replication converge (I3): two regions applying the same
// event write the same business content.
//
// It asks for the updated attributes' old values, so Store can see whether the
// write replaced another region's state (see Store.Apply, repair), and on a
// failed condition for the item as it is, so Store can tell "a newer seq owns
// the state" from "this very event already does" (an earlier attempt whose
// response was lost). TableName is left nil.
func PlanState(r *event.ExecutionReport, region string, updatedAt time.Time) *dynamodb.UpdateItemInput {
	// Every placeholder is listed, including #price and #lastPx, which each
	// shape of the update uses (in SET or in REMOVE).
	names := map[string]string{
		"#orderId": attrOrderID, "#accountId": attrAccountID, "#symbol": attrSymbol, "#side": attrSide,
		"#orderQty": attrOrderQty, "#cumQty": attrCumQty, "#leavesQty": attrLeavesQty, "#avgPx": attrAvgPx,
		"#lastSeq": attrLastSeq, "#lastEventId": attrLastEventID, "#execType": attrExecType, "#status": attrStatus,
		"#transactTime": attrTransactTime, "#updatedAt": attrUpdatedAt, "#processedRegion": attrProcessedRegion,
		"#GSI1PK": schema.AttrGSI1PK, "#GSI1SK": schema.AttrGSI1SK, "#price": attrPrice, "#lastPx": attrLastPx,
	}
	av := newSlab(14, 7)
	transactTime := FormatTime(r.TransactTime)
	values := make(map[string]types.AttributeValue, stateValueCount)
	values[":orderId"] = av.str(r.OrderID)
	values[":accountId"] = av.str(r.AccountID)
	values[":symbol"] = av.str(r.Symbol)
	values[":side"] = av.str(string(r.Side))
	values[":orderQty"] = av.num(r.OrderQty.String())
	values[":cumQty"] = av.num(r.CumQty.String())
	values[":leavesQty"] = av.num(r.LeavesQty.String())
	values[":avgPx"] = av.num(r.AvgPx.String())
	values[":seq"] = av.num(strconv.FormatInt(r.Seq, 10))
	values[":eventId"] = av.str(r.EventID)
	values[":execType"] = av.str(string(r.ExecType))
	values[":status"] = av.str(string(r.ExecType.Status()))
	values[":transactTime"] = av.str(transactTime)
	values[":updatedAt"] = av.str(FormatTime(updatedAt))
	values[":region"] = av.str(region)
	values[":gsi1pk"] = av.str(AccountGSI1PK(r.AccountID))
	values[":gsi1sk"] = av.str(openedGSI1SK(transactTime, r.OrderID))
	var update string
	switch price, lastPx := r.Price.IsSet(), r.LastPx.IsSet(); {
	case price && lastPx:
		update = updateStateBoth
	case price:
		update = updateStatePrice
	case lastPx:
		update = updateStateLastPx
	default:
		update = updateStateNeither
	}
	if r.Price.IsSet() {
		values[":price"] = av.num(r.Price.String())
	}
	if r.LastPx.IsSet() {
		values[":lastPx"] = av.num(r.LastPx.String())
	}
	return &dynamodb.UpdateItemInput{
		Key: map[string]types.AttributeValue{
			schema.AttrPK: av.str(OrderPK(r.OrderID)),
			schema.AttrSK: av.str(stateSK),
		},
		UpdateExpression:          strPtr(update),
		ConditionExpression:       strPtr(condStateNew),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueUpdatedOld,
		// Returned with the failure at no extra capacity cost.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// PlanHeartbeat builds the conditional update that records a heartbeat under
// the region it was sent to, only if it is newer than the one recorded, with the
// region that processed it and when (the gap shows replication lag and which
// region's processor is alive). TableName is left nil.
func PlanHeartbeat(h event.Heartbeat, processedRegion string, processedAt time.Time) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		Key: map[string]types.AttributeValue{
			schema.AttrPK: str(HeartbeatPK(h.Region)),
			schema.AttrSK: str(stateSK),
		},
		UpdateExpression:    strPtr(updateHeartbeat),
		ConditionExpression: strPtr(condHBNewer),
		ExpressionAttributeNames: map[string]string{
			"#region": attrRegion, "#sentAt": attrSentAt,
			"#processedRegion": attrProcessedRegion, "#processedAt": attrProcessedAt,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":region":          str(h.Region),
			":sentAt":          str(FormatTime(h.SentAt)),
			":processedRegion": str(processedRegion),
			":processedAt":     str(FormatTime(processedAt)),
		},
	}
}

func stateKey(orderID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		schema.AttrPK: str(OrderPK(orderID)),
		schema.AttrSK: str(stateSK),
	}
}

// slab hands out attribute values from two preallocated arrays: one
// allocation per type instead of one per attribute on the per-event path.
// Capacities are exact upper bounds, so append never moves values already
// handed out (and those are never modified).
type slab struct {
	s []types.AttributeValueMemberS
	n []types.AttributeValueMemberN
}

func newSlab(strs, nums int) *slab {
	return &slab{s: make([]types.AttributeValueMemberS, 0, strs), n: make([]types.AttributeValueMemberN, 0, nums)}
}

func (a *slab) str(v string) types.AttributeValue {
	if len(a.s) == cap(a.s) {
		return str(v)
	}
	a.s = append(a.s, types.AttributeValueMemberS{Value: v})
	return &a.s[len(a.s)-1]
}

func (a *slab) num(v string) types.AttributeValue {
	if len(a.n) == cap(a.n) {
		return num(v)
	}
	a.n = append(a.n, types.AttributeValueMemberN{Value: v})
	return &a.n[len(a.n)-1]
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(s string) types.AttributeValue { return &types.AttributeValueMemberN{Value: s} }

// strPtr returns a pointer to a copy of s; the expressions are constants, and a
// pointer to a shared variable could be modified by a caller of the plan.
func strPtr(s string) *string { return &s }
