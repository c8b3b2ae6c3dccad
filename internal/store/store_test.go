package store

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/schema"
)

var clock = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// wantState is the state an order must have after r is its highest applied
// event, without write metadata.
func wantState(r event.ExecutionReport) OrderState {
	return OrderState{
		OrderID: r.OrderID, AccountID: r.AccountID, Symbol: r.Symbol, Side: r.Side,
		OrderQty: r.OrderQty, CumQty: r.CumQty, LeavesQty: r.LeavesQty, AvgPx: r.AvgPx,
		Price: r.Price, LastPx: r.LastPx, LastSeq: r.Seq, LastEventID: r.EventID,
		ExecType: r.ExecType, Status: r.ExecType.Status(), TransactTime: r.TransactTime.UTC().Round(0),
	}
}

// checkOrder asserts the order's executions are exactly events (one per seq,
// same content) and its state is the last one's.
func checkOrder(t *testing.T, st *Store, events []event.ExecutionReport) {
	t.Helper()
	ctx := context.Background()
	orderID := events[0].OrderID
	execs, err := st.Executions(ctx, orderID)
	if err != nil {
		t.Fatalf("Executions(%s): %v", orderID, err)
	}
	if len(execs) != len(events) {
		t.Errorf("order %s has %d executions, want %d", orderID, len(execs), len(events))
	}
	for i := range min(len(execs), len(events)) {
		got, want := execs[i].ExecutionReport, events[i]
		want.TransactTime = want.TransactTime.UTC().Round(0)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("order %s execution %d =\n%+v\nwant\n%+v", orderID, i, got, want)
		}
	}
	got, err := st.GetOrder(ctx, orderID)
	if err != nil {
		t.Fatalf("GetOrder(%s): %v", orderID, err)
	}
	if want := wantState(events[len(events)-1]); !reflect.DeepEqual(got.Business(), want) {
		t.Errorf("order %s state =\n%+v\nwant\n%+v", orderID, got.Business(), want)
	}
}

// longLifecycle is the first lifecycle of seed with at least n events.
func longLifecycle(t *testing.T, seed uint64, n int) gen.Lifecycle {
	t.Helper()
	l, ok := gen.WithEvents(seed, n)
	if !ok {
		t.Fatalf("no lifecycle of seed %d has %d events", seed, n)
	}
	return l
}

func TestApplyClassifiesEveryOutcome(t *testing.T) {
	forEachMode(t, testApplyClassifiesEveryOutcome)
}

func testApplyClassifiesEveryOutcome(t *testing.T, mode schema.Consistency) {
	table, client := newTable(t)
	st := New(client, table, testRegion, fixedClock(clock)).WithConsistency(mode)
	ctx := context.Background()
	l := longLifecycle(t, 11, 3)
	e1, e2, e3 := l.Events[0], l.Events[1], l.Events[2]
	conflict := withEventID(e2, highestID) // loses to e2

	steps := []struct {
		name string
		r    event.ExecutionReport
		want Result
	}{
		{"first seq 1", e1, Result{Outcome: Applied, StateApplied: true}},
		{"seq 1 again", e1, Result{Outcome: Duplicate}},
		{"seq 3 skips ahead", e3, Result{Outcome: Applied, StateApplied: true}},
		{"late seq 2", e2, Result{Outcome: Stale}},
		{"seq 2 again", e2, Result{Outcome: Duplicate}},
		{"seq 2 under another eventId", conflict, Result{Outcome: Conflict, ExistingEventID: e2.EventID}},
		{"seq 3 again", e3, Result{Outcome: Duplicate}},
	}
	for _, step := range steps {
		got, err := st.Apply(ctx, &step.r)
		if err != nil {
			t.Fatalf("%s: Apply: %v", step.name, err)
		}
		if got != step.want {
			t.Errorf("%s: Apply = %+v, want %+v", step.name, got, step.want)
		}
	}
	checkOrder(t, st, l.Events[:3])
}

func TestDuplicateRepairsStateAfterCrashBetweenWrites(t *testing.T) {
	forEachMode(t, testDuplicateRepairsStateAfterCrashBetweenWrites)
}

func testDuplicateRepairsStateAfterCrashBetweenWrites(t *testing.T, mode schema.Consistency) {
	table, client := newTable(t)
	st := New(client, table, testRegion, fixedClock(clock)).WithConsistency(mode)
	ctx := context.Background()
	l := longLifecycle(t, 12, 2)
	first := l.Events[0]
	if _, err := st.Apply(ctx, &first); err != nil {
		t.Fatal(err)
	}
	// A crash after the execution put: only the put of seq 2 happened.
	second := l.Events[1]
	put := PlanExecution(&second, testRegion, clock)
	put.TableName = &table
	if _, err := client.PutItem(ctx, put); err != nil {
		t.Fatal(err)
	}
	got, err := st.Apply(ctx, &second)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Result{Outcome: Duplicate, StateApplied: true}); got != want {
		t.Errorf("redelivery after crash: Apply = %+v, want %+v", got, want)
	}
	checkOrder(t, st, l.Events[:2])
}

func TestStateDropsPriceAndLastPxTheEventLacks(t *testing.T) {
	table, client := newTable(t)
	st := New(client, table, testRegion, fixedClock(clock))
	ctx := context.Background()
	fill := report()
	fill.Seq = 1
	cancel := fill
	cancel.EventID = "9b3c1a52-5f0b-4b7e-9d0a-1c2b3d4e5f60"
	cancel.Seq, cancel.ExecType = 2, event.ExecCanceled
	cancel.LeavesQty, cancel.LastQty = event.MustDecimal("0"), event.MustDecimal("0")
	cancel.Price, cancel.LastPx = event.Decimal{}, event.Decimal{}
	for _, r := range []event.ExecutionReport{fill, cancel} {
		if _, err := st.Apply(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	checkOrder(t, st, []event.ExecutionReport{fill, cancel})
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: stateKey(fill.OrderID)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"price", "lastPx"} {
		if _, ok := out.Item[a]; ok {
			t.Errorf("state item still has %s after an event without it", a)
		}
	}
}

func TestGetOrderNotFound(t *testing.T) {
	table, client := newTable(t)
	st := New(client, table, testRegion, nil)
	if _, err := st.GetOrder(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetOrder(nope) error = %v, want ErrNotFound", err)
	}
	if _, err := st.GetHeartbeat(context.Background(), "us-east-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetHeartbeat error = %v, want ErrNotFound", err)
	}
}

func TestRecordHeartbeatKeepsTheNewest(t *testing.T) {
	table, client := newTable(t)
	now := clock
	st := New(client, table, "us-west-2", func() time.Time { return now })
	ctx := context.Background()
	t0 := clock.Add(-time.Minute)
	steps := []struct {
		sentAt time.Time
		want   bool
	}{
		{t0, true},
		{t0, false},                      // the same heartbeat again
		{t0.Add(-time.Second), false},    // older
		{t0.Add(time.Millisecond), true}, // newer, by a fraction
		{t0.Add(time.Minute), true},
	}
	for i, step := range steps {
		now = now.Add(time.Second)
		got, err := st.RecordHeartbeat(ctx, event.Heartbeat{Region: "us-east-1", SentAt: step.sentAt})
		if err != nil {
			t.Fatal(err)
		}
		if got != step.want {
			t.Errorf("step %d: RecordHeartbeat(sentAt %v) = %v, want %v", i, step.sentAt, got, step.want)
		}
	}
	hs, err := st.Heartbeats(ctx, "us-east-1", "us-west-2")
	if err != nil {
		t.Fatal(err)
	}
	want := []HeartbeatState{{Region: "us-east-1", SentAt: t0.Add(time.Minute), ProcessedRegion: "us-west-2", ProcessedAt: clock.Add(5 * time.Second)}}
	if !reflect.DeepEqual(hs, want) {
		t.Errorf("Heartbeats = %+v, want %+v", hs, want)
	}
}

func TestCreateTableFollowsSchema(t *testing.T) {
	table, client := newTable(t)
	out, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Table
	keyNames := func(ks []types.KeySchemaElement) []string {
		var names []string
		for _, k := range ks {
			names = append(names, *k.AttributeName+"/"+string(k.KeyType))
		}
		return names
	}
	sc := schema.Orders()
	if got, want := keyNames(d.KeySchema), []string{sc.Partition.Name + "/HASH", sc.Sort.Name + "/RANGE"}; !slices.Equal(got, want) {
		t.Errorf("table keys = %v, want %v", got, want)
	}
	if len(d.GlobalSecondaryIndexes) != 1 || *d.GlobalSecondaryIndexes[0].IndexName != schema.IndexByAccount {
		t.Fatalf("indexes = %+v, want only %s", d.GlobalSecondaryIndexes, schema.IndexByAccount)
	}
	gsi := d.GlobalSecondaryIndexes[0]
	if got, want := keyNames(gsi.KeySchema), []string{schema.AttrGSI1PK + "/HASH", schema.AttrGSI1SK + "/RANGE"}; !slices.Equal(got, want) {
		t.Errorf("index keys = %v, want %v", got, want)
	}
	if gsi.Projection.ProjectionType != types.ProjectionTypeKeysOnly {
		t.Errorf("index projection = %s, want KEYS_ONLY (DESIGN §3, the account index)", gsi.Projection.ProjectionType)
	}
	if d.BillingModeSummary == nil || d.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing = %+v, want PAY_PER_REQUEST", d.BillingModeSummary)
	}
}
