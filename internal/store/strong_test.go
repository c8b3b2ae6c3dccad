package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/schema"
)

// metered counts the DynamoDB operations a Store makes and the capacity
// units DynamoDB bills for them, computed from the items as DynamoDB sizes
// them (itemBytes): moto reports fixed capacities, not these.
type metered struct {
	Client
	mu  sync.Mutex
	ops map[string]int
	// rru and wru are the read and write units of the counted calls: a
	// Query reads the summed size of its items, rounded up to 4 KB (1 unit,
	// half when eventually consistent); a write that fails its condition
	// is billed for the item it was compared with (ALL_OLD: 1 unit per KB,
	// at least 1). Successful writes are not metered: no comparison needs
	// them.
	rru, wru float64
}

func newMetered(c Client) *metered { return &metered{Client: c, ops: map[string]int{}} }

func (m *metered) add(op string, rru, wru float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops[op]++
	m.rru += rru
	m.wru += wru
}

// take returns the counts since the last take and resets them.
func (m *metered) take() (ops map[string]int, rru, wru float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ops, rru, wru = m.ops, m.rru, m.wru
	m.ops, m.rru, m.wru = map[string]int{}, 0, 0
	return ops, rru, wru
}

func (m *metered) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := m.Client.PutItem(ctx, in, opts...)
	m.add("PutItem", 0, failedWriteUnits(err))
	return out, err
}

func (m *metered) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := m.Client.UpdateItem(ctx, in, opts...)
	m.add("UpdateItem", 0, failedWriteUnits(err))
	return out, err
}

func (m *metered) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := m.Client.GetItem(ctx, in, opts...)
	m.add("GetItem", 0, 0)
	return out, err
}

func (m *metered) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := m.Client.Query(ctx, in, opts...)
	var units float64
	if err == nil {
		n := 0
		for _, item := range out.Items {
			n += itemBytes(item)
		}
		units = float64((max(n, 1) + 4095) / 4096)
		if !aws.ToBool(in.ConsistentRead) {
			units /= 2
		}
	}
	m.add("Query", units, 0)
	return out, err
}

// failedWriteUnits is what a write that failed its condition is billed: the
// size of the item compared with, per KB, at least 1 ("Conditional writes",
// DynamoDB developer guide). Other outcomes count 0 here.
func failedWriteUnits(err error) float64 {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return 0
	}
	return float64(max(1, (itemBytes(ccf.Item)+1023)/1024))
}

// itemBytes is an item's size as DynamoDB counts it ("Item sizes and
// formats"): each attribute's name in UTF-8 bytes plus its value — a string's
// UTF-8 bytes; a number's significant digits, two to a byte, plus one byte.
func itemBytes(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name)
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += len(v.Value)
		case *types.AttributeValueMemberN:
			digits := strings.Trim(strings.NewReplacer("-", "", ".", "").Replace(v.Value), "0")
			n += (max(len(digits), 1)+1)/2 + 1
		default:
			panic(fmt.Sprintf("itemBytes: attribute %s has a type the store never writes: %T", name, v))
		}
	}
	return n
}

// Only schema.Strong selects strong mode: eventual mode is correct on
// either table, strong mode only on one with strong consistency. The Store
// it was derived from keeps its mode.
func TestWithConsistency(t *testing.T) {
	base := New(nil, "t", testRegion, nil)
	for _, tc := range []struct {
		c    schema.Consistency
		want bool
	}{{schema.Strong, true}, {schema.Eventual, false}, {"", false}, {"STRONG", false}} {
		if got := base.WithConsistency(tc.c).strong; got != tc.want {
			t.Errorf("WithConsistency(%q): strong = %v, want %v", tc.c, got, tc.want)
		}
	}
	if base.strong {
		t.Errorf("WithConsistency changed the Store it was called on")
	}
}

// Under strong consistency no outcome reads to repair: a duplicate, a write
// over the other region's state and a conflict make only their writes,
// where under eventual consistency each adds the repair's Query.
func TestStrongModeMakesNoRepairQuery(t *testing.T) {
	l := longLifecycle(t, 61, 2)
	e1, e2 := l.Events[0], l.Events[1]
	loser := withEventID(e2, highestID)
	type step struct {
		name    string
		west    bool // applied in the second region
		r       event.ExecutionReport
		outcome Outcome
	}
	steps := []step{
		{"first delivery", false, e1, Applied},
		{"duplicate", false, e1, Duplicate},
		{"over the other region's state", true, e2, Applied},
		{"conflict", false, loser, Conflict},
	}
	writes, put := map[string]int{"PutItem": 1, "UpdateItem": 1}, map[string]int{"PutItem": 1}
	for _, tc := range []struct {
		mode schema.Consistency
		ops  []map[string]int // per step
	}{
		// The repair: a Query, and the state re-asserted after a conflict.
		{schema.Eventual, []map[string]int{writes, {"PutItem": 1, "UpdateItem": 1, "Query": 1}, {"PutItem": 1, "UpdateItem": 1, "Query": 1}, {"PutItem": 1, "UpdateItem": 1, "Query": 1}}},
		{schema.Strong, []map[string]int{writes, writes, writes, put}},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			table, client := newTable(t)
			m := newMetered(client)
			east := New(m, table, "us-east-1", fixedClock(clock)).WithConsistency(tc.mode)
			west := New(m, table, "us-west-2", fixedClock(clock)).WithConsistency(tc.mode)
			for i, s := range steps {
				st := east
				if s.west {
					st = west
				}
				got, err := st.Apply(context.Background(), &s.r)
				if err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				ops, _, _ := m.take()
				if got.Outcome != s.outcome || !maps.Equal(ops, tc.ops[i]) {
					t.Errorf("%s: %s with operations %v, want %s with %v", s.name, got.Outcome, ops, s.outcome, tc.ops[i])
				}
			}
			checkOrder(t, east, []event.ExecutionReport{e1, e2})
		})
	}
}

// Under strong consistency any region displaces a loser, whichever region
// recorded it: the winner is recorded at once (nothing is Deferred), and
// the loser was handed over, still recorded, first.
func TestStrongAnyRegionDisplaces(t *testing.T) {
	table, client := newTable(t)
	east := newStrong(client, table, "us-east-1")
	west := newStrong(client, table, "us-west-2")
	ctx := context.Background()
	r := gen.Lifecycles(15, 1, gen.Options{})[0].Events[0]
	if _, err := west.Apply(ctx, &r); err != nil {
		t.Fatal(err)
	}
	lo := withEventID(r, lowestID)
	log := &outrankedLog{t: t, st: east}
	got, err := east.Apply(ctx, &lo, log.option())
	if err != nil {
		t.Fatal(err)
	}
	if want := (summary{Outcome: Applied, StateApplied: true, Outranked: r.EventID}); summarize(got) != want {
		t.Errorf("east Apply = %+v, want %+v", summarize(got), want)
	}
	if losers := log.take(); !equalStrings(losers, []string{r.EventID}) {
		t.Errorf("OnOutranked got %v, want %v", losers, []string{r.EventID})
	}
	checkOrder(t, west, []event.ExecutionReport{lo})
	execs, err := west.Executions(ctx, r.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if execs[0].ProcessedRegion != "us-east-1" {
		t.Errorf("winner recorded by %s, want us-east-1, which displaced west's loser", execs[0].ProcessedRegion)
	}
	// West's own copies: the winner is a duplicate, the loser a conflict.
	if got, err := west.Apply(ctx, &lo, log.option()); err != nil || got.Outcome != Duplicate {
		t.Errorf("west Apply(winner) = %+v, %v; want a duplicate", summarize(got), err)
	}
	if got, err := west.Apply(ctx, &r, log.option()); err != nil || got.Outcome != Conflict || got.ExistingEventID != lo.EventID {
		t.Errorf("west Apply(loser) = %+v, %v; want a conflict with %s", summarize(got), err, lo.EventID)
	}
	if losers := log.take(); len(losers) != 0 {
		t.Errorf("OnOutranked got %v, want nothing more", losers)
	}
}

// The measurement behind ApplyReplicated's read under strong consistency:
// for a copy the other region has already applied, the read-first costs one
// strongly consistent Query, where Apply alone makes two conditional writes
// that fail. Priced in read units (a write unit costs five: on-demand
// $0.625 vs $0.125 per million, and provisioned WCU vs RCU hours alike, in
// us-east-1), the read must cost less for the read-first to stay; the test
// holds the billed units DESIGN §3 quotes (1 RRU against 2 WRU) and logs
// the break-even share.
func TestStrongReadFirstPays(t *testing.T) {
	const wruPrice = 5 // in read units
	table, client := newTable(t)
	m := newMetered(client)
	west := newStrong(client, table, "us-west-2")
	east := newStrong(m, table, "us-east-1")
	ctx := context.Background()
	l := longOrder(t, 71, 10)
	for _, e := range l.Events[:3] {
		if _, err := west.Apply(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	latest := l.Events[2]

	res, err := east.ApplyReplicated(ctx, &latest)
	if err != nil || !res.ReadOnly {
		t.Fatalf("ApplyReplicated(an applied copy) = %+v, %v; want a read-only duplicate", res, err)
	}
	readOps, readRRU, _ := m.take()
	res, err = east.Apply(ctx, &latest)
	if err != nil || res.Outcome != Duplicate || res.StateApplied {
		t.Fatalf("Apply(an applied copy) = %+v, %v; want a duplicate that writes nothing", res, err)
	}
	writeOps, _, writeWRU := m.take()
	if want := map[string]int{"Query": 1}; !maps.Equal(readOps, want) {
		t.Errorf("read-first made %v, want %v", readOps, want)
	}
	if want := map[string]int{"PutItem": 1, "UpdateItem": 1}; !maps.Equal(writeOps, want) {
		t.Errorf("Apply made %v, want %v", writeOps, want)
	}
	execBytes, stateBytes := itemSizes(t, client, table, latest)
	t.Logf("a copy the other region applied: read-first %v, %.1f RRU (execution %d B + state %d B); writes %v, %.0f WRU = %.0f RRU at list prices",
		readOps, readRRU, execBytes, stateBytes, writeOps, writeWRU, writeWRU*wruPrice)
	if readRRU != 1 || writeWRU != 2 {
		t.Errorf("read-first %.1f RRU against writes %.0f WRU, want 1 against 2 as DESIGN §3 prices them (the read pays while it costs less than %.0f RRU: recheck the decision)",
			readRRU, writeWRU, writeWRU*wruPrice)
	}

	// The read is wasted for a copy not yet applied: it comes on top of
	// the writes.
	next := l.Events[3]
	if res, err := east.ApplyReplicated(ctx, &next); err != nil || res.ReadOnly || res.Outcome != Applied {
		t.Fatalf("ApplyReplicated(a copy not yet applied) = %+v, %v; want applied by the writes", res, err)
	}
	ops, rru, _ := m.take()
	t.Logf("a copy not yet applied: %v, %.1f RRU on top of the writes; break-even: the read pays when more than %.0f%% of copies are decided by it",
		ops, rru, 100*rru/(writeWRU*wruPrice))
}

// longOrder is the first of seed's lifecycles with up to 12 fills that has at
// least n events.
func longOrder(t *testing.T, seed uint64, n int) gen.Lifecycle {
	t.Helper()
	for _, l := range gen.Lifecycles(seed, 50, gen.Options{MaxFills: 12}) {
		if len(l.Events) >= n {
			return l
		}
	}
	t.Fatalf("no lifecycle of seed %d has %d events", seed, n)
	return gen.Lifecycle{}
}

// itemSizes are the sizes of r's execution item and its order's state item.
func itemSizes(t *testing.T, client *dynamodb.Client, table string, r event.ExecutionReport) (exec, state int) {
	t.Helper()
	ctx := context.Background()
	for i, sk := range []string{ExecSK(r.Seq), stateSK} {
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: map[string]types.AttributeValue{
			schema.AttrPK: str(OrderPK(r.OrderID)), schema.AttrSK: str(sk),
		}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			exec = itemBytes(out.Item)
		} else {
			state = itemBytes(out.Item)
		}
	}
	return exec, state
}

// TestStrongConflictStorm: two regions' processors, four writers each, apply
// every event of ONE order — each event delivered to both regions (through
// ApplyReplicated in the region it was not published in), duplicated, in
// random order, with seqs claimed by two or three eventIds — on a table
// that refuses a write while the other region writes the same item
// (ReplicatedWriteConflictException), which the SDK retries. A delivery
// whose Apply fails is delivered again, as Lambda retries. Every delivery
// ends applied, duplicate, stale or conflict; every seq holds its lowest
// eventId; the state is the highest seq's winner; every loser was
// dead-lettered (a Conflict, or handed to OnOutranked), and no winner was.
func TestStrongConflictStorm(t *testing.T) {
	const perRegion = 4
	table, client := newTable(t)
	arb := newOverlapping(2 * time.Millisecond)
	regions := [2]string{"us-east-1", "us-west-2"}
	// Each writer is one execution environment of a region's function: its
	// own client, so its own retryer and retry quota, as in Lambda.
	var writers [2][perRegion]*conflictingClient
	for region, name := range regions {
		for w := range perRegion {
			writers[region][w] = &conflictingClient{Client: strongClient(t, 4, false), region: name, arb: arb}
		}
	}
	rng := rand.New(rand.NewPCG(81, 0x5707))
	l := longOrder(t, 81, 10)
	ref := newReferee() // for its candidates and events only
	var events []event.ExecutionReport
	origin := map[string]int{}
	for i, e := range l.Events {
		group := []event.ExecutionReport{e}
		if i%2 == 1 { // every other seq in conflict
			for range 1 + rng.IntN(2) {
				group = append(group, gen.Conflict(e, rng.Uint64()))
			}
		}
		for _, c := range group {
			ref.next(c)
			events = append(events, c)
			origin[c.EventID] = rng.IntN(2)
		}
	}
	// Each region's deliveries: every event, some twice, shuffled.
	var queues [2]chan event.ExecutionReport
	deliveries := 0
	for i := range queues {
		var ds []event.ExecutionReport
		for _, e := range events {
			ds = append(ds, e)
			if rng.Float64() < 0.3 {
				ds = append(ds, e)
			}
		}
		rng.Shuffle(len(ds), func(a, b int) { ds[a], ds[b] = ds[b], ds[a] })
		deliveries += len(ds)
		queues[i] = make(chan event.ExecutionReport, len(ds))
		for _, d := range ds {
			queues[i] <- d
		}
		close(queues[i])
	}

	dl := newDeadLetters()
	var mu sync.Mutex
	counts := map[Outcome]int{}
	displaced := 0
	failures := map[string]int{} // errors that had an event delivered again, by kind
	var wg sync.WaitGroup
	errs := make(chan error, 2*perRegion)
	for region, name := range regions {
		for _, c := range writers[region] {
			st := newStrong(c, table, name)
			wg.Go(func() {
				for e := range queues[region] {
					apply := st.Apply
					if origin[e.EventID] != region {
						apply = st.ApplyReplicated
					}
					var res Result
					var err error
					for attempt := 1; ; attempt++ {
						if res, err = apply(context.Background(), &e, dl.option()); err == nil {
							break
						}
						if attempt == 30 {
							errs <- fmt.Errorf("%s seq %d (%s) still failing after %d deliveries: %w", e.OrderID, e.Seq, e.EventID, attempt, err)
							return
						}
						kind := "other"
						if errors.Is(err, ErrReplicatedWriteConflict) {
							kind = "replicated write conflict"
						}
						mu.Lock()
						failures[kind]++
						mu.Unlock()
						// Lambda waits longer before each retry (a minute, then
						// two); milliseconds stand for it. Without the wait, a
						// writer whose client has spent its retry quota (the
						// SDK's circuit breaker) can find the item busy at every
						// first attempt.
						time.Sleep(time.Duration(1+rand.IntN(1<<min(attempt, 8))) * time.Millisecond)
					}
					if res.Deferred {
						errs <- fmt.Errorf("%s seq %d (%s): deferred under strong consistency", e.OrderID, e.Seq, e.EventID)
					}
					if res.Outcome == Conflict {
						dl.add(e.EventID)
					}
					mu.Lock()
					counts[res.Outcome]++
					if res.Outranked != nil {
						displaced++
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Every delivery has one of the four outcomes; the table holds each
	// seq's lowest eventId and the state of the highest seq's; every loser
	// is dead-lettered and no winner (referee.next gave ref.exec the
	// lowest eventId of each seq).
	if total := counts[Applied] + counts[Duplicate] + counts[Stale] + counts[Conflict]; total != deliveries {
		t.Errorf("outcomes %v add up to %d, want %d deliveries", counts, total, deliveries)
	}
	checkOrder(t, New(client, table, testRegion, nil), ref.winners(l))
	ref.checkDeadLetters(t, dl.counts)
	refused := arb.refused.Load()
	var converged int64
	for region := range writers {
		for _, c := range writers[region] {
			converged += c.retried.Load()
		}
	}
	if refused == 0 || converged == 0 {
		t.Errorf("%d attempts refused, %d writes converged by the retryer: the storm did not exercise the conflicts", refused, converged)
	}
	t.Logf("%d events (%d seqs), %d deliveries, outcomes %v, %d displacing; %d attempts refused as replicated write conflicts, %d writes then retried through by the SDK; redeliveries after an error %v",
		len(events), len(l.Events), deliveries, counts, displaced, refused, converged, failures)
}
