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
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
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
	// strong: the table has multi-Region strong consistency (see
	// WithConsistency and Apply).
	strong bool
}

// New returns a Store writing to table through client, a global table with
// multi-Region eventual consistency (for strong consistency, see
// WithConsistency). region is the region this process runs in, recorded on
// every item it writes; now is the clock (time.Now in production, a fixed
// clock in tests).
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
	// Applied: the event's execution was recorded by this call — over
	// nothing, or displacing one with a higher eventId (Result.Outranked) —
	// or is left for the other region to record (Result.Deferred), and the
	// order's state is now this event.
	Applied Outcome = "applied"
	// Duplicate: the execution was already recorded with the same eventId — a
	// redelivery, a retry whose first response was lost, or the other region's
	// copy arriving through replication. The state write is still attempted,
	// since an earlier attempt may have stopped between the two writes;
	// Result.StateApplied says whether it changed anything.
	Duplicate Outcome = "duplicate"
	// Stale: as Applied, but an event that outranks this one owns the state
	// (a higher seq, or the same seq under a lower eventId) — already, or
	// again after this call's repair (see Apply). Not an error: the event is
	// fully accounted for.
	Stale Outcome = "stale"
	// Conflict: an event with a lower eventId is recorded under this (orderId,
	// seq): it wins the seq and this event loses (see Apply, conflicts).
	// Nothing of this event is written; the caller dead-letters it as a
	// permanent failure.
	Conflict Outcome = "conflict"
)

// Result is the outcome of Apply.
type Result struct {
	Outcome Outcome
	// StateApplied reports whether this call changed the order's state item
	// (to this event, or to another execution when RepairedSeq is set). An
	// update whose response was lost and whose SDK retry found this event
	// already in the state counts as applied by this call.
	StateApplied bool
	// RepairedSeq, when not zero, is the seq whose recorded execution this
	// call re-asserted as the state after finding that replication had rolled
	// the state back (see Apply; eventual consistency only).
	RepairedSeq int64
	// ExistingEventID is, for a Conflict, the (lower) eventId recorded under
	// the (orderId, seq); for other outcomes it is empty.
	ExistingEventID string
	// Outranked is the execution recorded under this (orderId, seq) with a
	// higher eventId than this event's: the loser of the seq (see Apply,
	// conflicts). Apply passed it to the OnOutranked option, for the caller
	// to dead-letter, before overwriting it — or, when Deferred is set,
	// leaving it for the region that recorded it.
	Outranked *Execution
	// Deferred reports that Outranked was recorded by the other region, and
	// under eventual consistency only the region that recorded an execution
	// overwrites it, so this call did not record the event's execution: that
	// region records it when it processes the event (every event reaches
	// both regions). The state was updated from the event all the same.
	// Never set under strong consistency, where any region displaces.
	Deferred bool
	// ReadOnly reports that ApplyReplicated decided the outcome (Duplicate)
	// from one read and wrote nothing.
	ReadOnly bool
}

// Option changes one Apply (or ApplyReplicated) call.
type Option func(*options)

type options struct {
	outranked func(ctx context.Context, loser *Execution) error
}

// OnOutranked has Apply call f with every recorded execution the event
// outranks (Result.Outranked) before it overwrites it, or leaves it to the
// other region. The processor dead-letters the loser in f: sent before the
// overwrite, the dead letter cannot be lost to a crash or a failed invocation,
// because until the overwrite has happened a retry finds the loser still
// recorded and calls f again, and after it nothing is left to send. If f
// returns an error, Apply returns it having overwritten nothing.
func OnOutranked(f func(ctx context.Context, loser *Execution) error) Option {
	return func(o *options) { o.outranked = f }
}

// Apply applies one delivery of a validated execution report: the conditional
// execution put, then, unless it is a conflict, the conditional state update.
// Any error it returns is to be treated as transient (the SDK has already
// retried it): the event must be delivered again, and redelivery is safe, as
// both writes are idempotent. A conflict is not an error but an outcome.
// What Apply may rely on depends on the table's consistency mode (DESIGN §3;
// WithConsistency): the two arguments follow the rule they share.
//
// Conflicts. Two events under one (orderId, seq) with different eventIds (a
// producer bug) are settled by a rule every region computes alike: the lowest
// eventId wins the seq (eventIds are lower-cased UUIDs, compared as strings).
// A put that finds a lower eventId recorded is a Conflict: this event loses.
// A put that finds a higher one recorded displaces it: the loser goes to
// OnOutranked (the processor dead-letters it), then a put conditional on that
// very execution overwrites it (PlanDisplacement, PlanStrongDisplacement) —
// except, under eventual consistency, one recorded by the other region, which
// is left in place (Deferred). The state orders events by seq, then by the
// lower eventId (PlanState), so at equal seq the winner's state replaces a
// loser's in every region.
//
// Under multi-Region strong consistency, every write is conditional, and the
// table evaluates each condition against the item's latest version in every
// region (a concurrent write from another region is refused,
// ReplicatedWriteConflictException, and retried: see
// RetryReplicatedWriteConflicts), so the successful writes to an item form
// one history that both regions see. In it, an execution only ever moves to a
// lower eventId (it is created once, and a displacement requires a higher one
// recorded), and the state only ever moves up in the order of states. So the
// last execution is the lowest eventId delivered: a delivery of it that
// returns no error records it, finds it recorded, or finds a lower one. And
// the state ends at the highest seq's winner: such a delivery of that event
// attempts the state update after its put, and nothing outranks it. (A
// delivery that keeps failing ends in the processing DLQ, I2.) Nothing rolls
// an item back, so Apply never reads to repair: a Duplicate, a Conflict or a
// write over another region's state costs no Query.
//
// Any region may displace a loser: the put is conditional on the loser's
// eventId, and the history has a single order, so exactly one put overwrites
// each recorded loser, and its caller handed the loser to OnOutranked first.
// Every loser is therefore dead-lettered at least once: by the region that
// overwrote it, or, if it was never recorded, by every delivery of it (a
// Conflict). No winner ever is: only an event a lower eventId outranks is.
// (With concurrent displacers, both may dead-letter the same loser.)
//
// Under multi-Region eventual consistency, each region writes its own replica
// and replication settles each item last writer wins, so neither history
// holds across regions, and Apply does more.
//
// Repair. Last-writer-wins replication can roll a region's state item back:
// the other region may write a lower seq later in time than this region wrote
// a higher one (it had not seen it yet), and that older-seq item then
// replaces ours. Executions are never removed — a seq once recorded stays
// recorded (its eventId can change, see conflicts). So whenever this region
// may be looking at rolled-back state — its state write replaced an item
// another region wrote, or the event is a Duplicate, whose earlier attempt
// may have stopped before a repair, or a Conflict, whose seq the other region
// may have settled differently before — Apply asks for the highest recorded
// execution above the event's seq (one Query, Limit 1; at or above it for a
// Conflict) and, if there is one, re-asserts the state from that execution.
// The state is thus always planned from a single execution, and the last
// write in either region is the highest seq's, which is what makes the
// replicas converge on it (I3). Cost: a Duplicate or a Conflict makes one
// Query; a first delivery makes one only after replacing another region's
// state, so with a single active region it never does.
//
// Why only the region that recorded an execution displaces it: with items
// replicated last writer wins, a region may overwrite an execution in its
// replica only while no write of the other region has reached it. Take the
// last write W of an (orderId, seq)'s execution in either region, by region
// R, with eventId w, and suppose w is not the lowest eventId m of the seq.
// Every event reaches both regions, so R processes m too. If it does so
// after W, its replica still holds W — nothing later was written anywhere —
// which R recorded and m outranks, so R displaces it: a write after W, a
// contradiction. If it does so before W, R's replica then held m (recorded,
// or found) or an item of the other region (Deferred). From m, only a write
// of the other region can change R's replica (nothing outranks m); and once
// R's replica holds an item of the other region, R never writes that
// execution again — replication only brings it items of the other region,
// and R overwrites only its own. Either way R cannot write W: a
// contradiction. So the last write, which both replicas keep, is m's,
// whatever the order in which each region saw the events and replication
// delivered the writes.
//
// The same argument places the dead letters. R, whose write of m both
// replicas keep, processes every loser l of the seq. After W it finds m
// recorded: l is a Conflict. Before W, either a lower eventId was recorded
// (a Conflict), or R recorded l or found it recorded; from then on R's
// replica held l, as R's own (an item of the other region would have kept R
// from writing W), until R itself displaced it — through OnOutranked. So
// every loser is dead-lettered in R, the region named by the surviving
// execution's processedRegion (and possibly in the other region too). No
// winner ever is: only an event that a lower eventId outranks is. A
// read-first skip (ApplyReplicated) needs R's replica to have held the
// event's execution, which the argument covers.
//
// The state has no such owner — the region that survives a region loss
// must keep moving states the other wrote — so at equal seq it follows the
// executions: the repair re-asserts the highest execution as recorded, a
// Conflict runs the repair too, and the region that displaces a loser writes
// the winner's state next. This converges on the winner's state except in
// one interleaving: replication rolls a region's state and its execution of
// the winner back together, by writes the other region made before it saw
// the winner, so the region holds nothing of the winner any more; the other
// region displaces the loser and writes the winner's state; and the first,
// before that reaches it, re-asserts its highest execution — still the
// loser — later in time. Its replica then looks exactly like a legitimate
// rollback, which the repair must undo; telling them apart takes a record
// per event that the other region's writes cannot overwrite, which this data
// model does not have (DESIGN §3, conflicts;
// TestI3ConflictStateCanTrailTheWinner). Any later delivery of the winner,
// or of a loser (a redrive of its dead letter), re-asserts the winner's state.
// Strong consistency has no such interleaving: nothing is rolled back.
func (s *Store) Apply(ctx context.Context, r *event.ExecutionReport, opts ...Option) (Result, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	now := s.now()
	res, err := s.recordExecution(ctx, r, now, o)
	if err != nil {
		return Result{}, err
	}
	// verified: no repair is needed (strong consistency) or wanted (a test),
	// or it has been done.
	verified := s.strong || s.skipRepair
	if res.Outcome == Conflict {
		if !verified {
			if err := s.repairAfterConflict(ctx, r, now, &res); err != nil {
				return Result{}, err
			}
		}
		return res, nil
	}

	// target is the execution the state is planned from: the event, or a
	// higher execution when repairing (see above).
	target := r
	if res.Outcome == Duplicate && !verified {
		higher, err := s.highestFrom(ctx, r.OrderID, r.Seq+1)
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
		higher, err := s.highestFrom(ctx, r.OrderID, r.Seq+1)
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

// maxRecordAttempts bounds the puts of one recordExecution. Each put after
// the first follows a displacement whose condition failed because the
// execution changed since it was read (a concurrent delivery, or
// replication); a few in a row mean a hot item, and the error has the event
// retried.
const maxRecordAttempts = 4

// recordExecution runs the execution put of r and classifies what it found:
// Applied (recorded, possibly displacing Outranked), Applied with Deferred,
// Duplicate or Conflict (see Apply, conflicts).
func (s *Store) recordExecution(ctx context.Context, r *event.ExecutionReport, now time.Time, o options) (Result, error) {
	put := PlanExecution(r, s.region, now)
	put.TableName = &s.table
	var displaced *Execution
	for attempt := 1; ; attempt++ {
		_, err := s.client.PutItem(ctx, put)
		if err == nil {
			return Result{Outcome: Applied, Outranked: displaced}, nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return Result{}, fmt.Errorf("store: put execution %s seq %d: %w", r.OrderID, r.Seq, s.writeFailure(err))
		}
		item, err := s.existingExecution(ctx, r, ccf.Item)
		if err != nil {
			return Result{}, err
		}
		id := item[attrEventID].(*types.AttributeValueMemberS).Value
		switch {
		case id == r.EventID:
			// A redelivery; or this call's own displacement, whose
			// response was lost and whose SDK retry found it done.
			return Result{Outcome: Duplicate, Outranked: displaced}, nil
		case id < r.EventID:
			return Result{Outcome: Conflict, ExistingEventID: id}, nil
		}
		// r outranks the recorded execution: decoded in full only now, for
		// the dead letter.
		existing, err := executionFromItem(item)
		if err != nil {
			return Result{}, err
		}
		switch {
		case existing.ProcessedRegion != s.region && !s.strong:
			if err := o.outrank(ctx, &existing); err != nil {
				return Result{}, err
			}
			return Result{Outcome: Applied, Outranked: &existing, Deferred: true}, nil
		case attempt == maxRecordAttempts:
			return Result{}, fmt.Errorf("store: put execution %s seq %d: the recorded execution changed %d times while displacing it", r.OrderID, r.Seq, attempt)
		}
		if err := o.outrank(ctx, &existing); err != nil {
			return Result{}, err
		}
		displaced = &existing
		if s.strong {
			put = PlanStrongDisplacement(r, s.region, now, existing.EventID)
		} else {
			put = PlanDisplacement(r, s.region, now, existing.EventID)
		}
		put.TableName = &s.table
	}
}

// outrank hands loser to the OnOutranked function, if any.
func (o options) outrank(ctx context.Context, loser *Execution) error {
	if o.outranked == nil {
		return nil
	}
	if err := o.outranked(ctx, loser); err != nil {
		return fmt.Errorf("store: execution %s seq %d, eventId %s, is outranked and was not handed over: %w", loser.OrderID, loser.Seq, loser.EventID, err)
	}
	return nil
}

// repairAfterConflict re-asserts the state from the highest execution at or
// above r's seq: r lost its seq to a lower eventId that the other region may
// have settled later than this region's state (see Apply; eventual
// consistency only).
func (s *Store) repairAfterConflict(ctx context.Context, r *event.ExecutionReport, now time.Time, res *Result) error {
	top, err := s.highestFrom(ctx, r.OrderID, r.Seq)
	if err != nil || top == nil {
		return err
	}
	w, _, err := s.updateState(ctx, top, now)
	if err != nil {
		return err
	}
	if w == stateWritten {
		res.StateApplied, res.RepairedSeq = true, top.Seq
	}
	return nil
}

// existingExecution is the item of the execution that made the put fail,
// with a string eventId. It comes with the failure
// (ReturnValuesOnConditionCheckFailure = ALL_OLD); the consistent read is a
// fallback for an emulator or proxy that drops it.
func (s *Store) existingExecution(ctx context.Context, r *event.ExecutionReport, old map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	if _, ok := old[attrEventID].(*types.AttributeValueMemberS); !ok {
		out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: &s.table,
			Key: map[string]types.AttributeValue{
				schema.AttrPK: str(OrderPK(r.OrderID)),
				schema.AttrSK: str(ExecSK(r.Seq)),
			},
			ConsistentRead: boolPtr(true),
		})
		if err != nil {
			return nil, fmt.Errorf("store: read existing execution %s seq %d: %w", r.OrderID, r.Seq, err)
		}
		if _, ok := out.Item[attrEventID].(*types.AttributeValueMemberS); !ok {
			return nil, fmt.Errorf("store: execution %s seq %d exists but has no eventId", r.OrderID, r.Seq)
		}
		old = out.Item
	}
	return old, nil
}

// stateWrite is what a conditional state update did.
type stateWrite int

const (
	// stateWritten: the update succeeded.
	stateWritten stateWrite = iota
	// stateHeld: the condition failed because the state already is this
	// event (same lastEventId).
	stateHeld
	// stateNewer: the condition failed because an event that outranks this
	// one owns the state: a higher seq, or the same seq under a lower eventId.
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
			return 0, false, fmt.Errorf("store: update state %s seq %d: %w", r.OrderID, r.Seq, s.writeFailure(err))
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

// highestFrom returns the execution of the order with the highest seq at or
// above from, or nil if there is none.
func (s *Store) highestFrom(ctx context.Context, orderID string, from int64) (*event.ExecutionReport, error) {
	if from <= 0 {
		return nil, nil // from wrapped: nothing is above
	}
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:              &s.table,
		KeyConditionExpression: strPtr("#pk = :pk AND #sk BETWEEN :lo AND :hi"),
		ExpressionAttributeNames: map[string]string{
			"#pk": schema.AttrPK, "#sk": schema.AttrSK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(OrderPK(orderID)),
			":lo": str(ExecSK(from)),
			// '~' sorts after every digit, so this bounds all EXEC# keys
			// and excludes STATE.
			":hi": str(execPrefix + "~"),
		},
		ScanIndexForward: boolPtr(false),
		Limit:            int32Ptr(1),
		ConsistentRead:   boolPtr(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: query executions of %s from seq %d: %w", orderID, from, err)
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
		return false, fmt.Errorf("store: record heartbeat of %s: %w", h.Region, s.writeFailure(err))
	}
	return true, nil
}

func boolPtr(b bool) *bool    { return &b }
func int32Ptr(i int32) *int32 { return &i }
