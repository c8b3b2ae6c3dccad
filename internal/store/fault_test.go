package store

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/faultproxy"
	"github.com/tap-trading/tap/internal/gen"
)

// faultyStore returns a store whose client reaches moto through a fault proxy
// configured by cfg, using the SDK's standard retryer with attempts attempts.
// The backoff is capped at 20 ms to keep the suite fast; the retry decisions
// (what is retried, the retry quota) are the standard ones.
func faultyStore(t *testing.T, table string, cfg faultproxy.Config, attempts int) (*Store, *faultproxy.Proxy) {
	t.Helper()
	cfg.Target = motoEndpoint
	p, err := faultproxy.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	client := newClient(t, p.URL, config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.MaxBackoff = 20 * time.Millisecond
		})
	}))
	return New(client, table, testRegion, nil), p
}

// The nastiest faults, one at a time: the request was applied and its
// response lost. With the SDK retrying, or with the event redelivered, the
// outcome is still exactly once.
func TestLostResponses(t *testing.T) {
	tests := []struct {
		name     string
		op       string
		attempts int    // SDK attempts per call
		wantErr  bool   // the first Apply fails (no SDK retry left)
		want     Result // of the Apply that succeeds
	}{
		// The SDK's retry of the put finds the execution it wrote.
		{"execution put, SDK retries", "PutItem", 3, false, Result{Outcome: Duplicate, StateApplied: true}},
		// The SDK's retry of the update finds the state it wrote.
		{"state update, SDK retries", "UpdateItem", 3, false, Result{Outcome: Applied, StateApplied: true}},
		// No retry: the error goes back to Lambda, which redelivers; the
		// redelivery writes the state the first attempt never reached.
		{"execution put, redelivered", "PutItem", 1, true, Result{Outcome: Duplicate, StateApplied: true}},
		{"state update, redelivered", "UpdateItem", 1, true, Result{Outcome: Duplicate}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table, client := newTable(t)
			st, p := faultyStore(t, table, faultproxy.Config{
				Match:    faultproxy.Operations(tc.op),
				Schedule: []faultproxy.Fault{faultproxy.DropAfter},
			}, tc.attempts)
			r := gen.Lifecycles(21, 1, gen.Options{})[0].Events[0]
			got, err := st.Apply(context.Background(), &r)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("first Apply = %+v, want the lost response's error", got)
				}
				got, err = st.Apply(context.Background(), &r)
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got != tc.want {
				t.Errorf("Apply = %+v, want %+v", got, tc.want)
			}
			if c := p.Counts()[faultproxy.DropAfter]; c != 1 {
				t.Errorf("proxy dropped %d responses, want 1", c)
			}
			checkOrder(t, New(client, table, testRegion, nil), []event.ExecutionReport{r})
		})
	}
}

// TestFaultsNeverLoseOrDoubleApply applies a shuffled stream with duplicates
// and conflicts through a proxy injecting every kind of fault into every
// DynamoDB call. A delivery whose Apply fails is delivered again (as Lambda
// retries). Every delivery must end in its predicted outcome — or, when a
// response was lost, as a duplicate — and every order must end with exactly its
// executions and the highest seq's state.
func TestFaultsNeverLoseOrDoubleApply(t *testing.T) {
	table, client := newTable(t)
	st, p := faultyStore(t, table, faultproxy.Config{
		Seed: 5,
		Rates: map[faultproxy.Fault]float64{
			faultproxy.ThroughputExceeded: 0.04,
			faultproxy.Throttling:         0.03,
			faultproxy.InternalError:      0.03,
			faultproxy.Latency:            0.04,
			faultproxy.DropBefore:         0.03,
			faultproxy.DropAfter:          0.03,
		},
		Latency: 5 * time.Millisecond,
	}, retry.DefaultMaxAttempts)
	ls := gen.Lifecycles(31, orders(60), gen.Options{})
	stream := gen.Stream(ls, gen.StreamOptions{Seed: 31, Duplicates: 0.2, Reorder: true, Conflicts: 0.02})
	dl := newDeadLetters()
	results := applyStream(t, st, stream, 20, dl.option())

	ref := newReferee()
	counts := map[Outcome]int{}
	redelivered := 0
	recorded := map[string]int{} // eventId → deliveries that recorded its execution
	for i, r := range results {
		d := r.d
		counts[r.res.Outcome]++
		redelivered += r.attempts - 1
		if r.res.Outcome == Applied || r.res.Outcome == Stale {
			recorded[d.Report.EventID]++
		}
		if r.res.Outcome == Conflict {
			dl.add(d.Report.EventID)
		}
		want := ref.next(d.Report)
		switch got := summarize(r.res); {
		case want.Outcome == Applied || want.Outcome == Stale:
			// A lost put response (or a failed attempt after the put)
			// makes the first delivery see its own execution: duplicate.
			if got.Outcome != want.Outcome && got.Outcome != Duplicate {
				t.Errorf("delivery %d (%v %s seq %d): outcome %s, want %s (or duplicate after a lost response)",
					i, d.Kind, d.Report.OrderID, d.Report.Seq, got.Outcome, want.Outcome)
			}
		case got != want:
			t.Errorf("delivery %d (%v %s seq %d): Apply = %+v, want %+v", i, d.Kind, d.Report.OrderID, d.Report.Seq, got, want)
		}
	}
	for id, n := range recorded {
		if n > 1 {
			t.Errorf("event %s recorded by %d deliveries, want at most 1", id, n)
		}
	}
	direct := New(client, table, testRegion, nil)
	for _, l := range ls {
		checkOrder(t, direct, ref.winners(l))
	}
	ref.checkDeadLetters(t, dl.counts)
	injected := p.Counts()
	for f := faultproxy.ThroughputExceeded; f <= faultproxy.DropAfter; f++ {
		if injected[f] == 0 {
			t.Errorf("no %v injected in %d requests: the test does not exercise it", f, p.Requests())
		}
	}
	t.Logf("%d deliveries, %d requests, faults %v, %d redeliveries after errors, outcomes %v",
		len(stream), p.Requests(), injected, redelivered, counts)
}
