// Package store is TAP's DynamoDB store: it applies execution reports to the
// orders table with the two idempotent writes of DESIGN §3 (execution first,
// then state), classifies each event's outcome, records heartbeats, and reads
// orders, executions and heartbeats back for tapctl and the tests.
//
// Write planning (PlanExecution, PlanState, PlanHeartbeat) is pure: attribute
// maps built by hand, no reflection, no I/O, so it is cheap and benchmarkable.
package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/schema"
)

// Client is the part of *dynamodb.Client the store uses; tests wrap it to
// observe or disturb calls.
type Client interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Store applies events to one region's replica of the orders table.
type Store struct {
	client Client
	table  string
	region string
	now    func() time.Time
	// pageSize caps the items of each Query page (0: DynamoDB's 1 MB pages);
	// tests set it to exercise pagination.
	pageSize int32
	// skipRepair turns the replication repair off; only a test sets it, to
	// show the rollback the repair exists for.
	skipRepair bool
}

// New returns a Store writing to table through client. region is the region
// this process runs in, recorded on every item it writes; now is the clock
// (time.Now in production, a fixed clock in tests).
func New(client Client, table, region string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{client: client, table: table, region: region, now: now}
}

// Outcome classifies what applying one delivery of an event did (DESIGN §3).
// Every delivery that returns no error has exactly one outcome; the processor
// adds "rejected" (invalid events) before the store is reached.
type Outcome string

// Outcomes of Apply.
const (
	// Applied: the execution was recorded by this call and the order's state
	// is now this event.
	Applied Outcome = "applied"
	// Duplicate: the execution was already recorded with the same eventId — a
	// redelivery, a retry whose first response was lost, or the other region's
	// copy arriving through replication. The state write is still attempted,
	// since an earlier attempt may have stopped between the two writes;
	// Result.StateApplied says whether it changed anything.
	Duplicate Outcome = "duplicate"
	// Stale: the execution was recorded by this call, but a higher seq of the
	// order owns the state — already, or again after this call's repair (see
	// Apply). Not an error: the event is fully accounted for.
	Stale Outcome = "stale"
	// Conflict: another event (another eventId) is already recorded under this
	// (orderId, seq). Nothing was written; the existing execution is intact and
	// the caller dead-letters the event as a permanent failure.
	Conflict Outcome = "conflict"
)

// Result is the outcome of Apply.
type Result struct {
	Outcome Outcome
	// StateApplied reports whether this call changed the order's state item
	// (to this event, or to a higher execution when RepairedSeq is set). An
	// update whose response was lost and whose SDK retry found this event
	// already in the state counts as applied by this call.
	StateApplied bool
	// RepairedSeq, when not zero, is the higher seq this call re-asserted as
	// the state after finding that replication had rolled the state back (see
	// Apply).
	RepairedSeq int64
	// ExistingEventID is, for a Conflict, the eventId recorded under the
	// (orderId, seq); for other outcomes it is empty.
	ExistingEventID string
	// ReadOnly reports that ApplyReplicated decided the outcome (Duplicate)
	// from one read and wrote nothing.
	ReadOnly bool
}

// Apply applies one delivery of a validated execution report: the conditional
// execution put, then, unless it is a conflict, the conditional state update.
// Any error it returns is to be treated as transient (the SDK has already
// retried it): the event must be delivered again, and redelivery is safe, as
// both writes are idempotent. A conflict is not an error but an outcome.
//
// Repair. With global tables, last-writer-wins replication can roll a
// region's state item back: the other region may write a lower seq later in
// time than this region wrote a higher one (it had not seen it yet), and that
// older-seq item then replaces ours. Execution items are never rolled back —
// each (orderId, seq) has one content. So whenever this region may be looking
// at rolled-back state — its state write replaced an item another region wrote,
// or the event is a Duplicate, whose earlier attempt may have stopped before a
// repair — Apply asks for the highest recorded execution above the event's seq
// (one Query, Limit 1) and, if there is one, re-asserts the state from that
// execution. The state is thus always planned from a single execution, and the
// last write in either region is the highest seq's, which is what makes the
// replicas converge on it (I3). Cost: a Duplicate makes one Query; a first
// delivery makes one only after replacing another region's state, so with a
// single active region it never does.
func (s *Store) Apply(ctx context.Context, r *event.ExecutionReport) (Result, error) {
	now := s.now()
	put := PlanExecution(r, s.region, now)
	put.TableName = &s.table
	res := Result{Outcome: Applied}
	if _, err := s.client.PutItem(ctx, put); err != nil {
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return Result{}, fmt.Errorf("store: put execution %s seq %d: %w", r.OrderID, r.Seq, err)
		}
		existing, err := s.existingEventID(ctx, r, ccf.Item)
		if err != nil {
			return Result{}, err
		}
		if existing != r.EventID {
			return Result{Outcome: Conflict, ExistingEventID: existing}, nil
		}
		res.Outcome = Duplicate
	}

	// target is the execution the state is planned from: the event, or a
	// higher execution when repairing (see above).
	target, verified := r, s.skipRepair
	if res.Outcome == Duplicate && !verified {
		higher, err := s.highestAbove(ctx, r.OrderID, r.Seq)
		if err != nil {
			return Result{}, err
		}
		if higher != nil {
			target = higher
		}
		verified = true
	}
	w, foreign, err := s.updateState(ctx, target, now)
	if err != nil {
		return Result{}, err
	}
	switch {
	case target != r:
		if w == stateWritten {
			res.StateApplied, res.RepairedSeq = true, target.Seq
		}
	case w == stateWritten:
		res.StateApplied = true
	case w == stateHeld && res.Outcome == Applied:
		// This call recorded the execution, and the state already is this
		// event: an earlier attempt of the update succeeded and its response
		// was lost (or a concurrent delivery of the same event got there).
		res.StateApplied = true
	case w == stateNewer && res.Outcome == Applied:
		res.Outcome = Stale
	}
	if foreign && !verified {
		higher, err := s.highestAbove(ctx, r.OrderID, r.Seq)
		if err != nil {
			return Result{}, err
		}
		if higher != nil {
			// The state is above this event either way: re-asserted now,
			// or already at or above higher.
			w, _, err := s.updateState(ctx, higher, now)
			if err != nil {
				return Result{}, err
			}
			if w == stateWritten {
				res.RepairedSeq = higher.Seq
			}
			if res.Outcome == Applied {
				res.Outcome = Stale
			}
		}
	}
	return res, nil
}

// existingEventID is the eventId of the execution that made the put fail. It
// comes with the failure (ReturnValuesOnConditionCheckFailure = ALL_OLD); the
// consistent read is a fallback for an emulator or proxy that drops it.
func (s *Store) existingEventID(ctx context.Context, r *event.ExecutionReport, old map[string]types.AttributeValue) (string, error) {
	if id, ok := old[attrEventID].(*types.AttributeValueMemberS); ok {
		return id.Value, nil
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table,
		Key: map[string]types.AttributeValue{
			schema.AttrPK: str(OrderPK(r.OrderID)),
			schema.AttrSK: str(ExecSK(r.Seq)),
		},
		ConsistentRead: boolPtr(true),
	})
	if err != nil {
		return "", fmt.Errorf("store: read existing execution %s seq %d: %w", r.OrderID, r.Seq, err)
	}
	id, ok := out.Item[attrEventID].(*types.AttributeValueMemberS)
	if !ok {
		return "", fmt.Errorf("store: execution %s seq %d exists but has no eventId", r.OrderID, r.Seq)
	}
	return id.Value, nil
}

// stateWrite is what a conditional state update did.
type stateWrite int

const (
	// stateWritten: the update succeeded.
	stateWritten stateWrite = iota
	// stateHeld: the condition failed because the state already is this
	// event (same lastEventId).
	stateHeld
	// stateNewer: the condition failed because a higher seq owns the state.
	stateNewer
)

// updateState runs the conditional state update for r. foreign reports that
// the write replaced a state item another region had written.
func (s *Store) updateState(ctx context.Context, r *event.ExecutionReport, now time.Time) (w stateWrite, foreign bool, err error) {
	upd := PlanState(r, s.region, now)
	upd.TableName = &s.table
	out, err := s.client.UpdateItem(ctx, upd)
	if err != nil {
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return 0, false, fmt.Errorf("store: update state %s seq %d: %w", r.OrderID, r.Seq, err)
		}
		if id, ok := ccf.Item[attrLastEventID].(*types.AttributeValueMemberS); ok && id.Value == r.EventID {
			return stateHeld, false, nil
		}
		return stateNewer, false, nil
	}
	// UPDATED_OLD carries processedRegion only if the item existed and (on
	// some servers, moto among them) only if its value changed: absent means
	// a new item or our own region, and both are not foreign.
	if old, ok := out.Attributes[attrProcessedRegion].(*types.AttributeValueMemberS); ok && old.Value != s.region {
		foreign = true
	}
	return stateWritten, foreign, nil
}

// highestAbove returns the highest execution of the order with a seq above
// seq, or nil if there is none.
func (s *Store) highestAbove(ctx context.Context, orderID string, seq int64) (*event.ExecutionReport, error) {
	if seq == math.MaxInt64 {
		return nil, nil // nothing is above, and seq+1 would wrap
	}
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:              &s.table,
		KeyConditionExpression: strPtr("#pk = :pk AND #sk BETWEEN :lo AND :hi"),
		ExpressionAttributeNames: map[string]string{
			"#pk": schema.AttrPK, "#sk": schema.AttrSK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(OrderPK(orderID)),
			":lo": str(ExecSK(seq + 1)),
			// '~' sorts after every digit, so this bounds all EXEC# keys
			// and excludes STATE.
			":hi": str(execPrefix + "~"),
		},
		ScanIndexForward: boolPtr(false),
		Limit:            int32Ptr(1),
		ConsistentRead:   boolPtr(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: query executions of %s above seq %d: %w", orderID, seq, err)
	}
	if len(out.Items) == 0 {
		return nil, nil
	}
	e, err := executionFromItem(out.Items[0])
	if err != nil {
		return nil, err
	}
	return &e.ExecutionReport, nil
}

// RecordHeartbeat records h under the region it was sent to if it is newer
// than the recorded one. It reports whether it was recorded; an older or
// repeated heartbeat is not an error.
func (s *Store) RecordHeartbeat(ctx context.Context, h event.Heartbeat) (bool, error) {
	upd := PlanHeartbeat(h, s.region, s.now())
	upd.TableName = &s.table
	if _, err := s.client.UpdateItem(ctx, upd); err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return false, nil
		}
		return false, fmt.Errorf("store: record heartbeat of %s: %w", h.Region, err)
	}
	return true, nil
}

func boolPtr(b bool) *bool    { return &b }
func int32Ptr(i int32) *int32 { return &i }
