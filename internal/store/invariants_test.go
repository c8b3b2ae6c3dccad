package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"testing"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/schema"
)

// writers is how many goroutines apply a stream. Each owns a share of the
// orders and applies their deliveries in stream order, so the outcome of every
// delivery is predictable while orders are written concurrently.
const writers = 4

// delivered is one delivery and what Apply made of it, in the end.
type delivered struct {
	d        gen.Delivery
	res      Result
	attempts int // Apply calls until it returned no error
}

// applyStream applies the stream through st with writers goroutines,
// redelivering a delivery whose Apply returned an error — as Lambda retries a
// failed invocation — up to maxAttempts times. It fails the test if any
// delivery is still failing then (the event would be in the DLQ, which this
// test treats as lost).
func applyStream(t *testing.T, st *Store, stream []gen.Delivery, maxAttempts int, opts ...Option) []delivered {
	t.Helper()
	out := make([]delivered, len(stream))
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i, d := range stream {
				if shard(d.Report.OrderID) != w {
					continue
				}
				out[i].d = d
				for {
					out[i].attempts++
					res, err := st.Apply(context.Background(), &d.Report, opts...)
					if err == nil {
						out[i].res = res
						break
					}
					if out[i].attempts == maxAttempts {
						errs <- fmt.Errorf("delivery %d (%s seq %d) still failing after %d attempts: %w",
							i, d.Report.OrderID, d.Report.Seq, maxAttempts, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

func shard(orderID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(orderID))
	return int(h.Sum32() % writers)
}

// TestI1I2DuplicatesAndReordering applies streams of generated lifecycles
// with duplicates, shuffling and conflicts, and checks every delivery's
// outcome and the end state of every order: exactly one execution per
// (orderId, seq), the lowest eventId delivered for it (I1), a state equal to
// the highest seq's winning event (I1), and every delivery accounted for,
// every loser of a seq dead-lettered (I2). Under strong consistency (one
// seed) the same holds with no read at all: no repair Query, no GetItem.
func TestI1I2DuplicatesAndReordering(t *testing.T) {
	for _, tc := range []struct {
		mode schema.Consistency
		seed uint64
	}{{schema.Eventual, 1}, {schema.Eventual, 2}, {schema.Eventual, 3}, {schema.Strong, 3}} {
		seed := tc.seed
		t.Run(fmt.Sprintf("%s/seed=%d", tc.mode, seed), func(t *testing.T) {
			table, client := newTable(t)
			m := newMetered(client)
			st := New(m, table, testRegion, nil).WithConsistency(tc.mode)
			ls := gen.Lifecycles(seed, orders(60), gen.Options{})
			stream := gen.Stream(ls, gen.StreamOptions{
				Seed: seed, Duplicates: 0.25, Reorder: seed != 1, Conflicts: 0.02,
			})
			dl := newDeadLetters()
			results := applyStream(t, st, stream, 1, dl.option())

			// Every delivery's outcome is the one its place in the stream
			// dictates (see referee).
			ref := newReferee()
			counts := map[Outcome]int{}
			displaced := 0
			for i, r := range results {
				d := r.d
				if d.Kind == gen.Invalid {
					t.Fatalf("delivery %d: kind %v in a stream without invalid events", i, d.Kind)
				}
				want := ref.next(d.Report)
				if got := summarize(r.res); got != want {
					t.Errorf("delivery %d (%v %s seq %d): Apply = %+v, want %+v", i, d.Kind, d.Report.OrderID, d.Report.Seq, got, want)
				}
				if r.res.Outcome == Conflict {
					dl.add(d.Report.EventID)
				}
				if r.res.Outranked != nil {
					displaced++
				}
				counts[r.res.Outcome]++
			}
			if total := counts[Applied] + counts[Stale] + counts[Duplicate] + counts[Conflict]; total != len(stream) {
				t.Errorf("outcomes %v add up to %d, want %d deliveries", counts, total, len(stream))
			}
			for _, o := range []Outcome{Applied, Duplicate, Conflict} {
				if counts[o] == 0 {
					t.Errorf("no %s outcome in %d deliveries: the stream does not exercise it", o, len(stream))
				}
			}
			if seed != 1 && counts[Stale] == 0 {
				t.Errorf("no stale outcome in a shuffled stream of %d deliveries", len(stream))
			}
			if displaced == 0 {
				t.Errorf("no delivery displaced a recorded execution: the stream does not exercise it")
			}
			ops, _, _ := m.take()
			if tc.mode == schema.Strong && ops["Query"]+ops["GetItem"] > 0 {
				t.Errorf("strong consistency: %d Query and %d GetItem calls, want none", ops["Query"], ops["GetItem"])
			}
			for _, l := range ls {
				checkOrder(t, st, ref.winners(l))
			}
			ref.checkDeadLetters(t, dl.counts)
			t.Logf("%d deliveries of %d events: %v, %d displacing; operations %v", len(stream), len(gen.Events(ls)), counts, displaced, ops)
		})
	}
}

// referee predicts what Apply makes of each delivery in one region when an
// order's deliveries are applied one after the other: the lowest eventId of
// an (orderId, seq) wins it; states are ordered by seq, then the lower
// eventId (DESIGN §3, conflicts).
type referee struct {
	exec   map[execKey]string // eventId recorded
	state  map[string]execKey // the order's state: seq and eventId
	events map[string]event.ExecutionReport
	// candidates are the eventIds delivered under each (orderId, seq).
	candidates map[execKey]map[string]bool
}

// execKey is an (orderId, seq), or, in referee.state, a (seq, eventId).
type execKey struct {
	id  string
	seq int64
}

func newReferee() *referee {
	return &referee{exec: map[execKey]string{}, state: map[string]execKey{},
		events: map[string]event.ExecutionReport{}, candidates: map[execKey]map[string]bool{}}
}

// next is the predicted result of delivering r next.
func (ref *referee) next(r event.ExecutionReport) summary {
	k := execKey{r.OrderID, r.Seq}
	ref.events[r.EventID] = r
	if ref.candidates[k] == nil {
		ref.candidates[k] = map[string]bool{}
	}
	ref.candidates[k][r.EventID] = true
	cur, recorded := ref.exec[k]
	var res summary
	switch {
	case recorded && cur == r.EventID:
		return summary{Outcome: Duplicate}
	case recorded && cur < r.EventID:
		return summary{Outcome: Conflict, ExistingEventID: cur}
	case recorded:
		res.Outranked = cur
	}
	ref.exec[k] = r.EventID
	st, ok := ref.state[r.OrderID]
	if !ok || outranks(r.Seq, r.EventID, st.seq, st.id) {
		ref.state[r.OrderID] = execKey{r.EventID, r.Seq}
		res.Outcome, res.StateApplied = Applied, true
	} else {
		res.Outcome = Stale
	}
	return res
}

// winners are the events that must be recorded for l's order: for each seq,
// the lowest eventId delivered.
func (ref *referee) winners(l gen.Lifecycle) []event.ExecutionReport {
	var out []event.ExecutionReport
	for _, e := range l.Events {
		out = append(out, ref.events[ref.exec[execKey{e.OrderID, e.Seq}]])
	}
	return out
}

// checkDeadLetters checks every loser of a seq was dead-lettered at least
// once (counts: eventId → dead letters), and no winner ever.
func (ref *referee) checkDeadLetters(t *testing.T, counts map[string]int) {
	t.Helper()
	losers := 0
	for k, ids := range ref.candidates {
		for id := range ids {
			switch {
			case id == ref.exec[k] && counts[id] > 0:
				t.Errorf("%s seq %d: winner %s dead-lettered %d times", k.id, k.seq, id, counts[id])
			case id != ref.exec[k] && counts[id] == 0:
				t.Errorf("%s seq %d: loser %s never dead-lettered (winner %s)", k.id, k.seq, id, ref.exec[k])
			case id != ref.exec[k]:
				losers++
			}
		}
	}
	t.Logf("%d losers dead-lettered", losers)
}

// deadLetters counts the dead letters a processor would send: outranked
// executions handed to OnOutranked, and Conflicts (added by the caller).
type deadLetters struct {
	mu     sync.Mutex
	counts map[string]int
}

func newDeadLetters() *deadLetters { return &deadLetters{counts: map[string]int{}} }

func (d *deadLetters) add(eventID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.counts[eventID]++
}

func (d *deadLetters) option() Option {
	return OnOutranked(func(_ context.Context, loser *Execution) error {
		d.add(loser.EventID)
		return nil
	})
}
