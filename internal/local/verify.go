package local

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/store"
)

// execKey is one (orderId, seq).
type execKey struct {
	order string
	seq   int64
}

// sentView is what a demo run sent, indexed for the checks.
type sentView struct {
	// candidates are the eventIds sent under each (orderId, seq) by valid
	// deliveries: the original, and conflicting events that may win a race.
	candidates map[execKey]map[string]bool
	// reports are the valid events sent, by eventId.
	reports map[string]event.ExecutionReport
	// counts of accepted deliveries by kind.
	kinds map[gen.Kind]int
	// accepted are the accepted deliveries.
	accepted []gen.Delivery
}

func newSentView(stream []gen.Delivery, accepted []bool) sentView {
	v := sentView{
		candidates: map[execKey]map[string]bool{},
		reports:    map[string]event.ExecutionReport{},
		kinds:      map[gen.Kind]int{},
	}
	for i, d := range stream {
		if !accepted[i] {
			continue
		}
		v.accepted = append(v.accepted, d)
		v.kinds[d.Kind]++
		if d.Kind == gen.Invalid {
			continue
		}
		k := execKey{d.Report.OrderID, d.Report.Seq}
		if v.candidates[k] == nil {
			v.candidates[k] = map[string]bool{}
		}
		v.candidates[k][d.Report.EventID] = true
		v.reports[d.Report.EventID] = d.Report
	}
	return v
}

// verify checks invariants I1 and I2 on a finished demo run against the table
// (through st) and the processing DLQ's records, plus the consistency of the
// outcome counts with what was sent.
func verify(ctx context.Context, st *store.Store, ls []gen.Lifecycle, run *demoRun, recs []dlq.Record) ([]Check, error) {
	sent := newSentView(run.stream, run.accepted)
	execs, state, winner, err := checkI1(ctx, st, ls, sent)
	if err != nil {
		return nil, err
	}
	acct, reasons := accountFor(sent, winner, recs)
	outcomes := run.outcomes
	settledSum := 0
	for _, n := range outcomes {
		settledSum += n
	}
	if settledSum != len(sent.accepted) {
		acct.fail("%d events settled by the invoker, %d sent", settledSum, len(sent.accepted))
	}
	if n := outcomes[OutcomeUnfinished]; n > 0 {
		acct.fail("%d events unfinished", n)
	}
	if want := outcomes["rejected"] + outcomes["conflict"] + outcomes[OutcomeFailed] + run.outranked; len(recs) != want {
		acct.fail("%d records in the processing DLQ, want %d (rejected + conflict + failed + outranked executions)", len(recs), want)
	}
	acct.OK = acct.Violations == 0
	acct.Detail = fmt.Sprintf("%d sent events: applied, duplicate, stale, or in the DLQ with a reason (%d records)", len(sent.accepted), len(recs))
	reasons.OK = reasons.Violations == 0
	reasons.Detail = fmt.Sprintf("%d invalid events", sent.kinds[gen.Invalid])

	counts := Check{Name: "outcome counts match what was sent"}
	if got, want := outcomes["rejected"], sent.kinds[gen.Invalid]; got != want {
		counts.fail("rejected %d, want %d (the invalid events sent)", got, want)
	}
	valid := sent.kinds[gen.Original] + sent.kinds[gen.Duplicate] + sent.kinds[gen.Conflicting]
	if got := outcomes["applied"] + outcomes["stale"] + outcomes["duplicate"] + outcomes["conflict"]; got != valid {
		counts.fail("applied+stale+duplicate+conflict %d, want %d (the valid events sent)", got, valid)
	}
	if n := outcomes[OutcomeFailed]; n > 0 {
		counts.fail("%d events failed every retry", n)
	}
	if n := outcomes[OutcomeDeliveryFailed]; n > 0 {
		counts.fail("%d events never delivered to the function (in the delivery DLQ)", n)
	}
	counts.OK = counts.Violations == 0
	counts.Detail = fmt.Sprintf("%d original, %d duplicate, %d conflicting, %d invalid",
		sent.kinds[gen.Original], sent.kinds[gen.Duplicate], sent.kinds[gen.Conflicting], sent.kinds[gen.Invalid])

	return []Check{execs, state, acct, reasons, counts}, nil
}

// checkI1 checks that every (orderId, seq) sent has exactly one execution
// item, with a sent eventId, and that each order's state is its highest
// seq's; winner maps each (orderId, seq) to the eventId recorded.
func checkI1(ctx context.Context, st *store.Store, ls []gen.Lifecycle, sent sentView) (execs, state Check, winner map[execKey]string, err error) {
	execs = Check{Invariant: "I1", Name: "one execution per (order, seq), with a sent eventId"}
	state = Check{Invariant: "I1", Name: "order state is the highest seq's"}
	winner = map[execKey]string{}
	nExecs, nOrders := 0, 0
	for _, l := range ls {
		seqs := map[int64]bool{}
		for k := range sent.candidates {
			if k.order == l.OrderID {
				seqs[k.seq] = true
			}
		}
		if len(seqs) == 0 {
			continue // nothing of this order got in
		}
		nOrders++
		got, err := st.Executions(ctx, l.OrderID)
		if err != nil {
			return execs, state, nil, err
		}
		perSeq := map[int64]int{}
		for _, e := range got {
			nExecs++
			perSeq[e.Seq]++
			k := execKey{l.OrderID, e.Seq}
			switch {
			case !seqs[e.Seq]:
				execs.fail("%s seq %d: execution recorded but never sent", l.OrderID, e.Seq)
			case !sent.candidates[k][e.EventID]:
				execs.fail("%s seq %d: execution has eventId %s, which was not sent for it", l.OrderID, e.Seq, e.EventID)
			default:
				winner[k] = e.EventID
			}
		}
		for _, seq := range slices.Sorted(maps.Keys(seqs)) {
			if n := perSeq[seq]; n != 1 {
				execs.fail("%s seq %d: %d execution items, want exactly 1", l.OrderID, seq, n)
			}
		}
		checkState(ctx, st, l.OrderID, slices.Max(slices.Collect(maps.Keys(seqs))), winner, sent, &state)
	}
	execs.OK = execs.Violations == 0
	execs.Detail = fmt.Sprintf("%d execution items of %d orders", nExecs, nOrders)
	state.OK = state.Violations == 0
	state.Detail = fmt.Sprintf("%d order states", nOrders)
	return execs, state, winner, nil
}

// accountFor checks I2 for the deliveries sent: each is recorded (applied,
// stale or duplicate: its eventId is the recorded execution) or
// dead-lettered in recs, invalid ones with the expected reason.
func accountFor(sent sentView, winner map[execKey]string, recs []dlq.Record) (acct, reasons Check) {
	dead := map[string]dlq.Record{}
	for _, r := range recs {
		if r.EventID != "" {
			dead[r.EventID] = r
		}
	}
	acct = Check{Invariant: "I2", Name: "every sent event accounted for"}
	reasons = Check{Name: "invalid events rejected with the expected reason"}
	for _, d := range sent.accepted {
		id := d.Report.EventID
		k := execKey{d.Report.OrderID, d.Report.Seq}
		rec, inDLQ := dead[id]
		switch {
		case d.Kind == gen.Invalid:
			if !inDLQ {
				acct.fail("invalid event %s (%s) is not in the processing DLQ", id, d.Reason)
				continue
			}
			if rec.Reason != string(d.Reason) {
				reasons.fail("event %s: DLQ reason %s, want %s", id, rec.Reason, d.Reason)
			}
		case winner[k] == id:
			// applied, stale or duplicate: it is the recorded execution.
		case inDLQ:
			// lost to another event under the same (orderId, seq): dead-lettered.
		default:
			acct.fail("%s event %s (%s seq %d) is neither recorded nor dead-lettered", d.Kind, id, d.Report.OrderID, d.Report.Seq)
		}
	}
	return acct, reasons
}

// checkState checks that the order's state is the recorded execution of its
// highest seq.
func checkState(ctx context.Context, st *store.Store, orderID string, top int64, winner map[execKey]string, sent sentView, c *Check) {
	s, err := st.GetOrder(ctx, orderID)
	if err != nil {
		c.fail("%s: %v", orderID, err)
		return
	}
	id, ok := winner[execKey{orderID, top}]
	if !ok {
		c.fail("%s: no execution recorded for its highest seq %d", orderID, top)
		return
	}
	want := sent.reports[id]
	switch {
	case s.LastSeq != top || s.LastEventID != id:
		c.fail("%s: state at seq %d (%s), want seq %d (%s)", orderID, s.LastSeq, s.LastEventID, top, id)
	case s.ExecType != want.ExecType || s.Status != want.ExecType.Status():
		c.fail("%s: execType %s status %s, want %s %s", orderID, s.ExecType, s.Status, want.ExecType, want.ExecType.Status())
	case s.OrderQty != want.OrderQty || s.CumQty != want.CumQty || s.LeavesQty != want.LeavesQty || s.AvgPx != want.AvgPx:
		c.fail("%s: qty %s/%s/%s avgPx %s, want %s/%s/%s %s", orderID, s.OrderQty, s.CumQty, s.LeavesQty, s.AvgPx,
			want.OrderQty, want.CumQty, want.LeavesQty, want.AvgPx)
	case s.AccountID != want.AccountID || s.Symbol != want.Symbol || s.Side != want.Side || !s.TransactTime.Equal(want.TransactTime):
		c.fail("%s: account/symbol/side/time %s/%s/%s/%s, want %s/%s/%s/%s", orderID, s.AccountID, s.Symbol, s.Side, s.TransactTime,
			want.AccountID, want.Symbol, want.Side, want.TransactTime)
	}
}
