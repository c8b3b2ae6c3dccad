package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cockroachdb/apd/v3"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/schema"
)

// ErrNotFound is returned by the single-item reads when the item does not exist.
var ErrNotFound = errors.New("store: not found")

// OrderState is an order's state item: the business fields of the highest seq
// applied, and who wrote it when.
type OrderState struct {
	OrderID      string
	AccountID    string
	Symbol       string
	Side         event.Side
	OrderQty     event.Decimal
	CumQty       event.Decimal
	LeavesQty    event.Decimal
	AvgPx        event.Decimal
	Price        event.Decimal // not set when the last event had none
	LastPx       event.Decimal // not set when the last event had none
	LastSeq      int64
	LastEventID  string
	ExecType     event.ExecType
	Status       event.OrderStatus
	TransactTime time.Time
	// UpdatedAt and ProcessedRegion are write metadata: they differ between
	// regions applying the same event, so replicas are compared on the rest
	// (see Business).
	UpdatedAt       time.Time
	ProcessedRegion string
}

// Business returns the state without its write metadata (UpdatedAt,
// ProcessedRegion): the part that is a function of the last event alone and on
// which replicas must agree (I3).
func (o OrderState) Business() OrderState {
	o.UpdatedAt, o.ProcessedRegion = time.Time{}, ""
	return o
}

// Execution is a recorded execution item: the event as applied, and when and
// where it was received.
type Execution struct {
	event.ExecutionReport
	ReceivedAt      time.Time
	ProcessedRegion string
}

// HeartbeatState is the recorded heartbeat of one region.
type HeartbeatState struct {
	// Region is the region the heartbeat was sent to.
	Region string
	SentAt time.Time
	// ProcessedRegion and ProcessedAt say which processor recorded it and when;
	// ProcessedAt − SentAt is the pipeline's lag.
	ProcessedRegion string
	ProcessedAt     time.Time
}

// GetOrder reads an order's state (strongly consistent). It returns ErrNotFound
// if the order has no state.
func (s *Store) GetOrder(ctx context.Context, orderID string) (*OrderState, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            stateKey(orderID),
		ConsistentRead: boolPtr(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: get order %s: %w", orderID, err)
	}
	if len(out.Item) == 0 {
		return nil, fmt.Errorf("order %s: %w", orderID, ErrNotFound)
	}
	o, err := stateFromItem(out.Item)
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// Executions reads every execution of an order in seq order (strongly
// consistent, all pages).
func (s *Store) Executions(ctx context.Context, orderID string) ([]Execution, error) {
	in := &dynamodb.QueryInput{
		TableName:                &s.table,
		KeyConditionExpression:   strPtr("#pk = :pk AND begins_with(#sk, :exec)"),
		ExpressionAttributeNames: map[string]string{"#pk": schema.AttrPK, "#sk": schema.AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(OrderPK(orderID)), ":exec": str(execPrefix),
		},
		ConsistentRead: boolPtr(true),
	}
	var execs []Execution
	err := s.query(ctx, in, func(item map[string]types.AttributeValue) error {
		e, err := executionFromItem(item)
		execs = append(execs, e)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: executions of %s: %w", orderID, err)
	}
	return execs, nil
}

// GetHeartbeat reads the heartbeat recorded for region, or ErrNotFound.
func (s *Store) GetHeartbeat(ctx context.Context, region string) (*HeartbeatState, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table,
		Key: map[string]types.AttributeValue{
			schema.AttrPK: str(HeartbeatPK(region)),
			schema.AttrSK: str(stateSK),
		},
		ConsistentRead: boolPtr(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: get heartbeat of %s: %w", region, err)
	}
	if len(out.Item) == 0 {
		return nil, fmt.Errorf("heartbeat of %s: %w", region, ErrNotFound)
	}
	d := decoder{item: out.Item}
	h := HeartbeatState{
		Region:          d.str(attrRegion),
		SentAt:          d.time(attrSentAt),
		ProcessedRegion: d.str(attrProcessedRegion),
		ProcessedAt:     d.time(attrProcessedAt),
	}
	if d.err != nil {
		return nil, d.err
	}
	return &h, nil
}

// Heartbeats reads the heartbeats of the given regions, skipping regions with
// none yet. The regions are named by the caller (from config) because the
// store's narrow Client has no Scan.
func (s *Store) Heartbeats(ctx context.Context, regions ...string) ([]HeartbeatState, error) {
	var hs []HeartbeatState
	for _, r := range regions {
		h, err := s.GetHeartbeat(ctx, r)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		hs = append(hs, *h)
	}
	return hs, nil
}

// query runs in page by page, calling each for every item.
func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput, each func(map[string]types.AttributeValue) error) error {
	if s.pageSize > 0 {
		in.Limit = &s.pageSize
	}
	for {
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return err
		}
		for _, item := range out.Items {
			if err := each(item); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func stateFromItem(item map[string]types.AttributeValue) (OrderState, error) {
	d := decoder{item: item}
	o := OrderState{
		OrderID:         d.str(attrOrderID),
		AccountID:       d.str(attrAccountID),
		Symbol:          d.str(attrSymbol),
		Side:            event.Side(d.str(attrSide)),
		OrderQty:        d.decimal(attrOrderQty),
		CumQty:          d.decimal(attrCumQty),
		LeavesQty:       d.decimal(attrLeavesQty),
		AvgPx:           d.decimal(attrAvgPx),
		Price:           d.optDecimal(attrPrice),
		LastPx:          d.optDecimal(attrLastPx),
		LastSeq:         d.int(attrLastSeq),
		LastEventID:     d.str(attrLastEventID),
		ExecType:        event.ExecType(d.str(attrExecType)),
		Status:          event.OrderStatus(d.str(attrStatus)),
		TransactTime:    d.time(attrTransactTime),
		UpdatedAt:       d.time(attrUpdatedAt),
		ProcessedRegion: d.str(attrProcessedRegion),
	}
	return o, d.err
}

func executionFromItem(item map[string]types.AttributeValue) (Execution, error) {
	d := decoder{item: item}
	e := Execution{
		ExecutionReport: event.ExecutionReport{
			EventID:      d.str(attrEventID),
			OrderID:      d.str(attrOrderID),
			AccountID:    d.str(attrAccountID),
			Seq:          d.int(attrSeq),
			ExecType:     event.ExecType(d.str(attrExecType)),
			Symbol:       d.str(attrSymbol),
			Side:         event.Side(d.str(attrSide)),
			OrderQty:     d.decimal(attrOrderQty),
			CumQty:       d.decimal(attrCumQty),
			LeavesQty:    d.decimal(attrLeavesQty),
			LastQty:      d.decimal(attrLastQty),
			Price:        d.optDecimal(attrPrice),
			LastPx:       d.optDecimal(attrLastPx),
			AvgPx:        d.decimal(attrAvgPx),
			TransactTime: d.time(attrTransactTime),
		},
		ReceivedAt:      d.time(attrReceivedAt),
		ProcessedRegion: d.str(attrProcessedRegion),
	}
	return e, d.err
}

// decoder reads typed attributes from an item, keeping the first error so a
// whole struct can be filled before checking.
type decoder struct {
	item map[string]types.AttributeValue
	err  error
}

func (d *decoder) fail(name, want string) {
	if d.err == nil {
		d.err = fmt.Errorf("store: item %v: attribute %s is missing or not %s", d.key(), name, want)
	}
}

func (d *decoder) key() string {
	pk, _ := d.item[schema.AttrPK].(*types.AttributeValueMemberS)
	sk, _ := d.item[schema.AttrSK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return "?"
	}
	return pk.Value + "/" + sk.Value
}

func (d *decoder) str(name string) string {
	v, ok := d.item[name].(*types.AttributeValueMemberS)
	if !ok {
		d.fail(name, "a string")
		return ""
	}
	return v.Value
}

func (d *decoder) number(name string) (string, bool) {
	v, ok := d.item[name].(*types.AttributeValueMemberN)
	if !ok {
		return "", false
	}
	return v.Value, true
}

func (d *decoder) decimal(name string) event.Decimal {
	n, ok := d.number(name)
	if !ok {
		d.fail(name, "a number")
		return event.Decimal{}
	}
	v, err := decimalFromNumber(n)
	if err != nil {
		d.fail(name, "a decimal ("+err.Error()+")")
	}
	return v
}

func (d *decoder) optDecimal(name string) event.Decimal {
	if _, ok := d.item[name]; !ok {
		return event.Decimal{}
	}
	return d.decimal(name)
}

func (d *decoder) int(name string) int64 {
	n, ok := d.number(name)
	if !ok {
		d.fail(name, "a number")
		return 0
	}
	var v apd.Decimal
	if _, _, err := v.SetString(n); err != nil {
		d.fail(name, "an integer")
		return 0
	}
	i, err := v.Int64()
	if err != nil {
		d.fail(name, "an integer")
	}
	return i
}

func (d *decoder) time(name string) time.Time {
	s := d.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.fail(name, "an RFC 3339 time")
	}
	return t
}

// decimalFromNumber turns a DynamoDB number into a Decimal. Numbers come back
// as plain decimals; a server is free to answer with an exponent, which the
// contract's parser rejects, so those are rewritten as plain text first.
func decimalFromNumber(n string) (event.Decimal, error) {
	if v, err := event.ParseDecimal(n); err == nil {
		return v, nil
	}
	var v apd.Decimal
	if _, _, err := v.SetString(n); err != nil {
		return event.Decimal{}, err
	}
	return event.ParseDecimal(v.Text('f'))
}
