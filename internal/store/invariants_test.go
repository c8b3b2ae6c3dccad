package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"testing"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
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
func applyStream(t *testing.T, st *Store, stream []gen.Delivery, maxAttempts int) []delivered {
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
					res, err := st.Apply(context.Background(), &d.Report)
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
// (orderId, seq) with the right eventId (I1), a state equal to the highest
// seq's event (I1), and every delivery accounted for (I2).
func TestI1I2DuplicatesAndReordering(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			table, client := newTable(t)
			st := New(client, table, testRegion, nil)
			ls := gen.Lifecycles(seed, orders(60), gen.Options{})
			stream := gen.Stream(ls, gen.StreamOptions{
				Seed: seed, Duplicates: 0.25, Reorder: seed != 1, Conflicts: 0.02,
			})
			results := applyStream(t, st, stream, 1)

			// Every delivery's outcome is the one its place in the stream
			// dictates: a first delivery is applied if it is the highest seq
			// of its order so far, else stale.
			high := map[string]int64{}
			counts := map[Outcome]int{}
			for i, r := range results {
				d := r.d
				var want Result
				switch d.Kind {
				case gen.Original:
					want = Result{Outcome: Stale}
					if d.Report.Seq > high[d.Report.OrderID] {
						want = Result{Outcome: Applied, StateApplied: true}
						high[d.Report.OrderID] = d.Report.Seq
					}
				case gen.Duplicate:
					want = Result{Outcome: Duplicate}
				case gen.Conflicting:
					want = Result{Outcome: Conflict, ExistingEventID: originalOf(stream, d.Report).EventID}
				default:
					t.Fatalf("delivery %d: kind %v in a stream without invalid events", i, d.Kind)
				}
				if r.res != want {
					t.Errorf("delivery %d (%v %s seq %d): Apply = %+v, want %+v", i, d.Kind, d.Report.OrderID, d.Report.Seq, r.res, want)
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
			for _, l := range ls {
				checkOrder(t, st, l.Events)
			}
			t.Logf("%d deliveries of %d events: %v", len(stream), len(gen.Events(ls)), counts)
		})
	}
}

// originalOf is the valid event a conflicting one reuses the seq of.
func originalOf(stream []gen.Delivery, c event.ExecutionReport) event.ExecutionReport {
	for _, d := range stream {
		if d.Kind == gen.Original && d.Report.OrderID == c.OrderID && d.Report.Seq == c.Seq {
			return d.Report
		}
	}
	panic("no original for " + c.EventID)
}
