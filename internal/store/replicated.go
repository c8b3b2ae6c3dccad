package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/schema"
)

// ApplyReplicated applies an event that reached this region by EventBridge
// replication (its envelope names the other region), which the other region
// has usually applied already, so the table holds it here too. It first
// reads what the table shows, with one Query of the order's items from this
// event's execution up to its state; when that shows the event applied, the
// event is accounted for: the Result is a Duplicate with ReadOnly set, and
// nothing is written. Otherwise it is Apply, with opts.
//
// Why a Query and not a GetItem of the state: a state at or above the event
// does not mean its execution is recorded — a late event below the state
// has none yet, and under eventual consistency items replicate one by one,
// so the state can arrive before the execution; skipping on the state alone
// could leave the table without the execution. The Query reads both (and
// any higher executions) for the read units of one GetItem, as long as they
// fit in 4 KB.
//
// Under multi-Region strong consistency the read is strongly consistent: it
// sees every write that has returned in either region. "Applied" is then the
// execution recorded with this eventId and the state at or above the event,
// in the state's order (seq, then the lower eventId; see Apply, conflicts),
// which is exactly when Apply's two writes would both fail their conditions
// and change nothing — so the skip is Apply's outcome, for less. It still
// pays (measured, TestStrongReadFirstPays): for a copy the other region has
// applied, the read is 1 Query of 1 read unit (strongly consistent, ≤ 4 KB:
// the execution and the state of the latest seq are 373 B + 468 B) where
// Apply makes 2 conditional writes that fail, each billed for the item it
// was compared with, 1 write unit per KB and at least 1: 2 WRU, at five
// times a read unit's price (on-demand and provisioned alike), ten times
// the read. The read is wasted (1 read unit on top of the writes) for a copy
// the other region has not applied yet, and for one processed so late in a
// long order that the state is past the Query's limit: it pays while more
// than 1 copy in 10 is decided by it. In the pipeline a copy reaches this
// region through EventBridge's replication while the original goes straight
// to the other region's processor, which has usually applied it by then.
//
// Under multi-Region eventual consistency the read is eventually consistent
// (half a read unit), and "applied" is stricter: the execution recorded with
// this eventId and the state at or above every execution read, because a
// Duplicate would run Apply's repair, which a skip must not leave undone.
//
// A stale read (eventual consistency) is safe. It can only show what this
// replica held earlier; the skip needs this replica to have held the event's
// execution (which is never rolled back) and a state at or above it. If
// replication has since rolled the state back below this event, the roll-back
// was a write the other region made later in time, of an event it applied
// without seeing this one's state; that region processes this event too, as a
// first delivery or as a Duplicate that runs the repair of Apply, and its
// write, later still, replicates here. The I3 simulation checks this with
// lagging reads (TestI3StaleReadFirst) and replays the case
// (TestI3StaleSkipIsRepairedElsewhere). With conflicts, a skip needs this
// replica to have held the event's execution, which the argument of Apply
// (conflicts) covers: a winner skipped here is recorded by the region whose
// write both replicas keep, and a loser skipped here is dead-lettered there.
func (s *Store) ApplyReplicated(ctx context.Context, r *event.ExecutionReport, opts ...Option) (Result, error) {
	applied, err := s.shownApplied(ctx, r)
	if err != nil {
		return Result{}, err
	}
	if applied {
		return Result{Outcome: Duplicate, ReadOnly: true}, nil
	}
	return s.Apply(ctx, r, opts...)
}

// readFirstLimit is how many items the read-first Query returns at most:
// this event's execution, up to six higher ones and the state.
const readFirstLimit = 8

// shownApplied reports whether a read of r's order shows r's execution
// recorded with r's eventId and the state at or above r — under eventual
// consistency, at or above the highest execution it read (by seq, then the
// lower eventId). See ApplyReplicated.
func (s *Store) shownApplied(ctx context.Context, r *event.ExecutionReport) (bool, error) {
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName: &s.table,
		// EXEC#<seq> … STATE: in sort order, every execution from this seq up,
		// then the state ('E' < 'S'); nothing else lives under ORDER#.
		KeyConditionExpression: strPtr("#pk = :pk AND #sk BETWEEN :lo AND :hi"),
		ExpressionAttributeNames: map[string]string{
			"#pk": schema.AttrPK, "#sk": schema.AttrSK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(OrderPK(r.OrderID)),
			":lo": str(ExecSK(r.Seq)),
			":hi": str(stateSK),
		},
		ConsistentRead: boolPtr(s.strong),
		// Bounded, so a copy processed late in a long order (many higher
		// executions) never reads more than about 4 KB: past the limit the
		// read decides nothing (LastEvaluatedKey) and the writes decide.
		Limit: int32Ptr(readFirstLimit),
	})
	if err != nil {
		return false, fmt.Errorf("store: read order %s from seq %d: %w", r.OrderID, r.Seq, err)
	}
	if len(out.LastEvaluatedKey) > 0 {
		return false, nil // more than a page: let the writes decide
	}
	var recorded, hasState bool
	top, topID := r.Seq, r.EventID
	var stateSeq int64
	var stateID string
	for _, item := range out.Items {
		d := decoder{item: item}
		if sk, _ := item[schema.AttrSK].(*types.AttributeValueMemberS); sk != nil && sk.Value == stateSK {
			stateSeq, stateID, hasState = d.int(attrLastSeq), d.str(attrLastEventID), true
		} else {
			seq, id := d.int(attrSeq), d.str(attrEventID)
			if seq > top && !s.strong {
				top, topID = seq, id
			}
			if seq == r.Seq && id == r.EventID {
				recorded = true
			}
		}
		if d.err != nil {
			return false, d.err
		}
	}
	return recorded && hasState && !outranks(top, topID, stateSeq, stateID), nil
}

// outranks reports whether the event (seq, eventID) comes after (seq2,
// eventID2) in the order of states: a higher seq, or the same seq under a
// lower eventId (DESIGN §3, conflicts). It is PlanState's condition.
func outranks(seq int64, eventID string, seq2 int64, eventID2 string) bool {
	return seq > seq2 || seq == seq2 && eventID < eventID2
}
