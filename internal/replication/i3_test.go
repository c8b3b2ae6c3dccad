package replication

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/partition"
	"github.com/tap-trading/tap/internal/store"
)

// region is one region's processor over its replica: the real store, or,
// without the repair, the store's two planned writes alone.
type region struct {
	rep    Replica
	st     *store.Store
	table  string
	repair bool
}

func (p *pair) regions(repair bool) (a, b *region) {
	mk := func(r Replica) *region {
		return &region{rep: r, st: store.New(r.DynamoDB, p.table, r.Region, nil), table: p.table, repair: repair}
	}
	return mk(p.a), mk(p.b)
}

// apply delivers e to the region. With the repair it is Store.Apply; without,
// the execution put and the conditional state update of DESIGN §3 and
// nothing else — a processor that never re-asserts the highest execution.
func (r *region) apply(t *testing.T, e event.ExecutionReport) store.Result {
	t.Helper()
	ctx := context.Background()
	if r.repair {
		res, err := r.st.Apply(ctx, &e)
		if err != nil {
			t.Fatalf("%s: Apply(seq %d): %v", r.rep.Region, e.Seq, err)
		}
		return res
	}
	now := time.Now()
	put := store.PlanExecution(&e, r.rep.Region, now)
	put.TableName = &r.table
	if _, err := r.rep.DynamoDB.PutItem(ctx, put); err != nil && !conditionFailed(err) {
		t.Fatalf("%s: put execution seq %d: %v", r.rep.Region, e.Seq, err)
	}
	upd := store.PlanState(&e, r.rep.Region, now)
	upd.TableName = &r.table
	if _, err := r.rep.DynamoDB.UpdateItem(ctx, upd); err != nil && !conditionFailed(err) {
		t.Fatalf("%s: update state seq %d: %v", r.rep.Region, e.Seq, err)
	}
	return store.Result{}
}

func conditionFailed(err error) bool {
	var ccf *ddbtypes.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// stateSeq is the lastSeq of the order's state in r.
func (r *region) stateSeq(t *testing.T, orderID string) int64 {
	t.Helper()
	o, err := r.st.GetOrder(context.Background(), orderID)
	if err != nil {
		t.Fatalf("%s: %v", r.rep.Region, err)
	}
	return o.LastSeq
}

// lifecycle returns a generated order with at least n events.
func lifecycle(t *testing.T, seed uint64, n int) gen.Lifecycle {
	t.Helper()
	l, ok := gen.WithEvents(seed, n)
	if !ok {
		t.Fatalf("no lifecycle of seed %d has %d events", seed, n)
	}
	return l
}

// TestI3RollbackByReplicationIsRepaired reproduces, with the real store and
// this replicator, the rollback that makes I3 hard: region A applies seq 5;
// region B, not having seen it, applies seq 3 later in time, and
// last-writer-wins carries seq 3 over A's 5. Then, as the pipeline delivers
// every event to both regions, B applies 5 and A applies 4 over B's item
// later in time: without the store's repair the replicas settle on seq 4,
// below the highest; with it (A re-asserts 5 from its execution items) they
// converge on seq 5, identical item by item.
//
// The replicator is cut off from B while a step must not see the other
// region's writes, which fixes the interleaving without timing.
func TestI3RollbackByReplicationIsRepaired(t *testing.T) {
	e := lifecycle(t, 41, 5).Events
	orderID := e[0].OrderID
	for _, tc := range []struct {
		repair  bool
		wantSeq int64
	}{{true, 5}, {false, 4}} {
		t.Run(fmt.Sprintf("repair=%v", tc.repair), func(t *testing.T) {
			p := newPair(t, pairOptions{})
			a, b := p.regions(tc.repair)
			a.apply(t, e[0])
			a.apply(t, e[1])
			p.caughtUp(t)

			cutOff(t, p.cut, partition.Refuse)
			a.apply(t, e[4]) // A: state 5
			b.apply(t, e[2]) // B has not seen 5: state 3, written later
			p.cut.Heal()
			p.caughtUp(t)
			if sa, sb := a.stateSeq(t, orderID), b.stateSeq(t, orderID); sa != 3 || sb != 3 {
				t.Fatalf("after replication: A state seq %d, B %d; want both rolled back to 3", sa, sb)
			}

			cutOff(t, p.cut, partition.Refuse)
			b.apply(t, e[4])        // B: 3 → 5
			res := a.apply(t, e[3]) // A: 3 → 4, over B's item, later in time
			if tc.repair && res != (store.Result{Outcome: store.Stale, StateApplied: true, RepairedSeq: 5}) {
				t.Errorf("A Apply(seq 4) = %+v, want stale with the state repaired to seq 5", res)
			}
			p.cut.Heal()
			p.caughtUp(t)
			b.apply(t, e[3])
			a.apply(t, e[2])
			p.caughtUp(t)

			sa, sb := a.stateSeq(t, orderID), b.stateSeq(t, orderID)
			if sa != sb || sa != tc.wantSeq {
				t.Errorf("replicas' state seq A %d, B %d; want both %d", sa, sb, tc.wantSeq)
			}
			d := p.identical(t)
			if d.ItemsA != 6 {
				t.Errorf("replicas hold %d items, want 5 executions and the state", d.ItemsA)
			}
		})
	}
}

// TestI1I3BothRegionsApplyTheSameStream runs the pipeline's replication-on
// case: both regions apply the same lifecycles, each its own shuffled
// stream with duplicates, through the real store, concurrently, while the
// replicator runs with lag and jitter (items land in any order: a state
// before its execution) and region B's clock runs ahead. Once it has caught
// up the replicas are identical item by item, and every order's state is its
// highest seq with one execution per seq (I1, I3).
func TestI1I3BothRegionsApplyTheSameStream(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			p := newPair(t, pairOptions{
				lag: 30 * time.Millisecond, jitter: 60 * time.Millisecond, seed: seed,
				skew: map[string]time.Duration{west: 25 * time.Millisecond},
			})
			a, b := p.regions(true)
			ls := gen.Lifecycles(300+seed, 5, gen.Options{MaxFills: 4})
			rng := rand.New(rand.NewPCG(seed, 0x13))
			var wg sync.WaitGroup
			counts := make([]map[store.Outcome]int, 2)
			for i, r := range []*region{a, b} {
				stream := gen.Stream(ls, gen.StreamOptions{Seed: seed*10 + uint64(i), Duplicates: 0.2, Reorder: true})
				pause := time.Duration(rng.IntN(5)) * time.Millisecond
				counts[i] = map[store.Outcome]int{}
				wg.Go(func() {
					for _, d := range stream {
						res, err := r.st.Apply(context.Background(), &d.Report)
						if err != nil {
							t.Errorf("%s: Apply(%s seq %d): %v", r.rep.Region, d.Report.OrderID, d.Report.Seq, err)
							return
						}
						counts[i][res.Outcome]++
						time.Sleep(pause)
					}
				})
			}
			wg.Wait()
			p.caughtUp(t)

			p.identical(t)
			for _, l := range ls {
				want := l.Last()
				for _, r := range []*region{a, b} {
					o, err := r.st.GetOrder(context.Background(), l.OrderID)
					if err != nil {
						t.Fatalf("%s: %v", r.rep.Region, err)
					}
					if o.LastSeq != want.Seq || o.LastEventID != want.EventID {
						t.Errorf("%s: order %s state seq %d (%s), want seq %d (%s)", r.rep.Region, l.OrderID, o.LastSeq, o.LastEventID, want.Seq, want.EventID)
					}
					execs, err := r.st.Executions(context.Background(), l.OrderID)
					if err != nil {
						t.Fatal(err)
					}
					if len(execs) != len(l.Events) {
						t.Errorf("%s: order %s has %d executions, want %d", r.rep.Region, l.OrderID, len(execs), len(l.Events))
					}
					for i, x := range execs {
						if x.Seq != int64(i+1) || x.EventID != l.Events[i].EventID {
							t.Errorf("%s: order %s execution %d is seq %d (%s), want seq %d (%s)", r.rep.Region, l.OrderID, i, x.Seq, x.EventID, i+1, l.Events[i].EventID)
						}
					}
				}
			}
			if n := counts[0][store.Conflict] + counts[1][store.Conflict]; n != 0 {
				t.Errorf("%d conflicts in streams of the same events", n)
			}
			s := p.rep.Stats()
			t.Logf("outcomes A %v, B %v; replication A→B %+v; B→A %+v", counts[0], counts[1], s.AToB, s.BToA)
		})
	}
}
