package processor_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
)

// countingDB counts the DynamoDB calls the handler makes, by operation.
type countingDB struct {
	store.Client
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingDB) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
}

func (c *countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.count("PutItem")
	return c.Client.PutItem(ctx, in, opts...)
}

func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count("UpdateItem")
	return c.Client.UpdateItem(ctx, in, opts...)
}

func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count("GetItem")
	return c.Client.GetItem(ctx, in, opts...)
}

func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.count("Query")
	return c.Client.Query(ctx, in, opts...)
}

func (c *countingDB) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.calls
	c.calls = map[string]int{}
	return got
}

// eventFrom is r as EventBridge delivers it when it was published in region.
func eventFrom(r event.ExecutionReport, region string) []byte {
	return event.EncodeEnvelope(event.Envelope{
		ID: uuid.NewString(), Source: schema.Source, DetailType: schema.DetailTypeExecutionReport,
		Account: awslocal.AccountID, Region: region,
		Time: time.Date(2026, time.January, 5, 15, 0, 0, 0, time.UTC), Detail: event.EncodeDetail(&r),
	})
}

// A copy of an event published in the other region is read first: when the
// table shows it applied, the handler makes one Query and no write; when it
// does not, it applies it like any event.
func TestProcessReplicatedEventsReadFirst(t *testing.T) {
	const other = "us-west-2" // testRegion is eu-central-1
	f := newFixture(t)
	db := &countingDB{Client: f.ddb, calls: map[string]int{}}
	h := f.handler(t, f.cfg, processor.Deps{DynamoDB: db, Now: fixedClock})
	e := lifecycle(t, 12, 3).Events[:3]
	steps := []struct {
		name  string
		raw   []byte
		want  processor.Outcome
		calls map[string]int
	}{
		{"seq 1 published here", eventFrom(e[0], testRegion), processor.Applied, map[string]int{"PutItem": 1, "UpdateItem": 1}},
		{"seq 1 replicated from the other region", eventFrom(e[0], other), processor.Duplicate, map[string]int{"Query": 1}},
		{"seq 2 replicated, not applied yet", eventFrom(e[1], other), processor.Applied, map[string]int{"Query": 1, "PutItem": 1, "UpdateItem": 1}},
		{"seq 3 published here", eventFrom(e[2], testRegion), processor.Applied, map[string]int{"PutItem": 1, "UpdateItem": 1}},
		{"seq 2 replicated again, below the state", eventFrom(e[1], other), processor.Duplicate, map[string]int{"Query": 1}},
	}
	for _, s := range steps {
		got, err := h.Process(t.Context(), s.raw)
		if err != nil || got != s.want {
			t.Fatalf("%s: Process = %q, %v; want %q", s.name, got, err, s.want)
		}
		calls := db.take()
		if len(calls) != len(s.calls) {
			t.Errorf("%s: DynamoDB calls %v, want %v", s.name, calls, s.calls)
			continue
		}
		for op, n := range s.calls {
			if calls[op] != n {
				t.Errorf("%s: DynamoDB calls %v, want %v", s.name, calls, s.calls)
				break
			}
		}
	}
	f.checkOrder(t, e, e[2])
	f.checkDLQEmpty(t)
}

// Two regions' processors on one table (as after replication): an event that
// outranks an execution the other region recorded dead-letters it, applies
// its state and leaves the execution for that region, which displaces it
// when the event reaches it; the loser, reaching the first region, loses.
func TestProcessDefersTheOtherRegionsLoser(t *testing.T) {
	const west = "us-west-2" // testRegion is eu-central-1
	f := newFixture(t)
	westCfg := f.cfg
	westCfg.Region = west
	hWest := f.handler(t, westCfg, processor.Deps{Now: fixedClock})
	hHere := f.handler(t, f.cfg, processor.Deps{Now: fixedClock})
	orig := lifecycle(t, 16, 1).Events[0]
	win := withEventID(orig, lowestID)
	steps := []struct {
		name       string
		h          *processor.Handler
		raw        []byte
		want       processor.Outcome
		dlqRegion  string // region of the one dead letter of orig this step sends, if any
		execRegion string // who holds the execution after the step
		exec       event.ExecutionReport
	}{
		{"west records the original", hWest, eventFrom(orig, west), processor.Applied, "", west, orig},
		{"the winner here: deferred", hHere, eventFrom(win, testRegion), processor.Applied, testRegion, west, orig},
		{"the winner in west: displaces", hWest, eventFrom(win, testRegion), processor.Applied, west, west, win},
		{"the original here: loses", hHere, eventFrom(orig, west), processor.Conflict, testRegion, west, win},
	}
	for _, s := range steps {
		got, err := s.h.Process(t.Context(), s.raw)
		if err != nil || got != s.want {
			t.Fatalf("%s: Process = %q, %v; want %q", s.name, got, err, s.want)
		}
		msgs := f.dlqMessages(t)
		switch {
		case s.dlqRegion == "" && len(msgs) != 0:
			t.Errorf("%s: %d dead letters, want none", s.name, len(msgs))
		case s.dlqRegion != "" && len(msgs) != 1:
			t.Errorf("%s: %d dead letters, want 1", s.name, len(msgs))
		case s.dlqRegion != "":
			a := attrs(msgs[0])
			if a[dlq.AttrEventID] != orig.EventID || a[dlq.AttrReason] != processor.ReasonConflict || a[dlq.AttrRegion] != s.dlqRegion ||
				!strings.Contains(a[dlq.AttrMessage], win.EventID) {
				t.Errorf("%s: dead letter %v, want the original %s as %s, sent in %s, naming the winner", s.name, a, orig.EventID, processor.ReasonConflict, s.dlqRegion)
			}
		}
		execs, err := f.store.Executions(t.Context(), orig.OrderID)
		if err != nil || len(execs) != 1 || execs[0].EventID != s.exec.EventID || execs[0].ProcessedRegion != s.execRegion {
			t.Errorf("%s: executions %+v, %v; want %s recorded in %s", s.name, execs, err, s.exec.EventID, s.execRegion)
		}
	}
	o, err := f.store.GetOrder(t.Context(), orig.OrderID)
	if err != nil || o.Business() != wantState(win) {
		t.Errorf("state = %+v, %v; want the winner's", o, err)
	}
}
