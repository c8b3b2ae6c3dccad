package store

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/faultproxy"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/schema"
)

// Extreme eventIds, for conflicts whose winner a test must know: every
// generated eventId sorts between them.
const (
	lowestID  = "00000000-0000-4000-8000-000000000000"
	highestID = "ffffffff-ffff-4fff-bfff-ffffffffffff"
)

// withEventID is an event reusing r's (orderId, seq) under eventId id: a
// conflict whose place in the order of eventIds the test chooses.
func withEventID(r event.ExecutionReport, id string) event.ExecutionReport {
	c := gen.Conflict(r, 1)
	c.EventID = id
	return c
}

// summary is a Result with Outranked reduced to its eventId, so results
// compare with ==.
type summary struct {
	Outcome         Outcome
	StateApplied    bool
	RepairedSeq     int64
	ExistingEventID string
	Outranked       string
	Deferred        bool
	ReadOnly        bool
}

func summarize(r Result) summary {
	s := summary{
		Outcome: r.Outcome, StateApplied: r.StateApplied, RepairedSeq: r.RepairedSeq,
		ExistingEventID: r.ExistingEventID, Deferred: r.Deferred, ReadOnly: r.ReadOnly,
	}
	if r.Outranked != nil {
		s.Outranked = r.Outranked.EventID
	}
	return s
}

// outrankedLog is an OnOutranked handler that records the losers it is
// handed and checks each is still recorded when it is: the dead letter goes
// out before the overwrite.
type outrankedLog struct {
	t      *testing.T
	st     *Store // reads the table directly
	losers []Execution
	fail   error // returned instead of recording, when set
}

func (l *outrankedLog) option() Option {
	return OnOutranked(func(ctx context.Context, loser *Execution) error {
		if l.fail != nil {
			return l.fail
		}
		execs, err := l.st.Executions(ctx, loser.OrderID)
		if err != nil {
			return err
		}
		found := false
		for _, e := range execs {
			found = found || e.Seq == loser.Seq && e.EventID == loser.EventID
		}
		if !found {
			l.t.Errorf("OnOutranked(%s seq %d, %s): the loser is no longer recorded: handed over after the overwrite", loser.OrderID, loser.Seq, loser.EventID)
		}
		l.losers = append(l.losers, *loser)
		return nil
	})
}

func (l *outrankedLog) take() []string {
	var ids []string
	for _, e := range l.losers {
		ids = append(ids, e.EventID)
	}
	l.losers = nil
	return ids
}

// The conflict paths in one region: a later event under a taken seq loses to
// a lower eventId and displaces a higher one (which is handed over first,
// whole); duplicates of the winner are duplicates, of the loser conflicts;
// at equal seq the state takes the winner's event.
func TestConflictsSettleByTheLowestEventID(t *testing.T) {
	forEachMode(t, testConflictsSettleByTheLowestEventID)
}

// forEachMode runs test under each consistency mode; in one region, the
// outcomes are the same.
func forEachMode(t *testing.T, test func(*testing.T, schema.Consistency)) {
	for _, mode := range []schema.Consistency{schema.Eventual, schema.Strong} {
		t.Run(string(mode), func(t *testing.T) { test(t, mode) })
	}
}

func testConflictsSettleByTheLowestEventID(t *testing.T, mode schema.Consistency) {
	table, client := newTable(t)
	st := New(client, table, testRegion, fixedClock(clock)).WithConsistency(mode)
	ctx := context.Background()
	l := longLifecycle(t, 11, 3)
	e1, e2, e3 := l.Events[0], l.Events[1], l.Events[2]
	lo, hi := withEventID(e2, lowestID), withEventID(e2, highestID)
	log := &outrankedLog{t: t, st: New(client, table, testRegion, nil)}

	steps := []struct {
		name      string
		r         event.ExecutionReport
		want      summary
		losers    []string              // handed to OnOutranked by this step
		wantState event.ExecutionReport // the state after the step
	}{
		{"seq 1", e1, summary{Outcome: Applied, StateApplied: true}, nil, e1},
		{"seq 2", e2, summary{Outcome: Applied, StateApplied: true}, nil, e2},
		{"seq 2, higher eventId: loses", hi, summary{Outcome: Conflict, ExistingEventID: e2.EventID}, nil, e2},
		{"seq 2, lower eventId: displaces", lo, summary{Outcome: Applied, StateApplied: true, Outranked: e2.EventID}, []string{e2.EventID}, lo},
		{"the displaced event again: loses", e2, summary{Outcome: Conflict, ExistingEventID: lo.EventID}, nil, lo},
		{"the winner again: duplicate", lo, summary{Outcome: Duplicate}, nil, lo},
		{"the higher one again: loses", hi, summary{Outcome: Conflict, ExistingEventID: lo.EventID}, nil, lo},
		{"seq 3", e3, summary{Outcome: Applied, StateApplied: true}, nil, e3},
		{"the displaced event below the state: loses", e2, summary{Outcome: Conflict, ExistingEventID: lo.EventID}, nil, e3},
		{"the winner below the state: duplicate", lo, summary{Outcome: Duplicate}, nil, e3},
	}
	for _, step := range steps {
		got, err := st.Apply(ctx, &step.r, log.option())
		if err != nil {
			t.Fatalf("%s: Apply: %v", step.name, err)
		}
		if s := summarize(got); s != step.want {
			t.Errorf("%s: Apply = %+v, want %+v", step.name, s, step.want)
		}
		if got.Outranked != nil {
			want := e2
			want.TransactTime = want.TransactTime.UTC().Round(0)
			if got.Outranked.ExecutionReport != want || got.Outranked.ProcessedRegion != testRegion || !got.Outranked.ReceivedAt.Equal(clock) {
				t.Errorf("%s: Outranked = %+v, want the whole recorded execution of %s", step.name, *got.Outranked, e2.EventID)
			}
		}
		if losers := log.take(); !equalStrings(losers, step.losers) {
			t.Errorf("%s: OnOutranked got %v, want %v", step.name, losers, step.losers)
		}
		o, err := st.GetOrder(ctx, e1.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		if o.LastEventID != step.wantState.EventID {
			t.Errorf("%s: state is eventId %s (seq %d), want %s (seq %d)", step.name, o.LastEventID, o.LastSeq, step.wantState.EventID, step.wantState.Seq)
		}
	}
	checkOrder(t, st, []event.ExecutionReport{e1, lo, e3})
}

// A displacement below the state's seq is stale, and still hands the loser
// over; without OnOutranked, Apply displaces all the same.
func TestDisplacementBelowTheStateIsStale(t *testing.T) {
	forEachMode(t, testDisplacementBelowTheStateIsStale)
}

func testDisplacementBelowTheStateIsStale(t *testing.T, mode schema.Consistency) {
	table, client := newTable(t)
	st := New(client, table, testRegion, fixedClock(clock)).WithConsistency(mode)
	ctx := context.Background()
	l := longLifecycle(t, 12, 3)
	for i := range 3 {
		if _, err := st.Apply(ctx, &l.Events[i]); err != nil {
			t.Fatal(err)
		}
	}
	lo := withEventID(l.Events[1], lowestID)
	got, err := st.Apply(ctx, &lo)
	if err != nil {
		t.Fatal(err)
	}
	if want := (summary{Outcome: Stale, Outranked: l.Events[1].EventID}); summarize(got) != want {
		t.Errorf("Apply(lower eventId under seq 2) = %+v, want %+v", summarize(got), want)
	}
	checkOrder(t, st, []event.ExecutionReport{l.Events[0], lo, l.Events[2]})
}

// At equal seq the state orders events by eventId, whatever the order the
// updates come in: the lower eventId replaces a higher one, never the reverse.
func TestStateAtEqualSeqTakesTheLowerEventID(t *testing.T) {
	table, client := newTable(t)
	st := New(client, table, testRegion, fixedClock(clock))
	ctx := context.Background()
	r := gen.Lifecycles(13, 1, gen.Options{})[0].Events[0]
	lo, hi := withEventID(r, lowestID), withEventID(r, highestID)
	for _, step := range []struct {
		r    event.ExecutionReport
		want stateWrite
	}{{hi, stateWritten}, {r, stateWritten}, {hi, stateNewer}, {lo, stateWritten}, {r, stateNewer}, {lo, stateHeld}} {
		w, _, err := st.updateState(ctx, &step.r, clock)
		if err != nil {
			t.Fatal(err)
		}
		if w != step.want {
			t.Errorf("state update to %s: %v, want %v", step.r.EventID, w, step.want)
		}
	}
	o, err := st.GetOrder(ctx, r.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Business() != wantState(lo) {
		t.Errorf("state = %+v, want the lowest eventId's %+v", o.Business(), wantState(lo))
	}
}

// When OnOutranked fails, nothing is overwritten and the error is returned
// (the processor's dead letter was not sent: Lambda retries); the retry
// hands the loser over again and displaces it.
func TestOutrankedFailureOverwritesNothing(t *testing.T) {
	forEachMode(t, testOutrankedFailureOverwritesNothing)
}

func testOutrankedFailureOverwritesNothing(t *testing.T, mode schema.Consistency) {
	table, client := newTable(t)
	st := New(client, table, testRegion, fixedClock(clock)).WithConsistency(mode)
	ctx := context.Background()
	r := gen.Lifecycles(14, 1, gen.Options{})[0].Events[0]
	if _, err := st.Apply(ctx, &r); err != nil {
		t.Fatal(err)
	}
	lo := withEventID(r, lowestID)
	log := &outrankedLog{t: t, st: st, fail: errors.New("queue unavailable")}
	if got, err := st.Apply(ctx, &lo, log.option()); err == nil || !errors.Is(err, log.fail) {
		t.Fatalf("Apply with a failing OnOutranked = %+v, %v; want its error", got, err)
	}
	checkOrder(t, st, []event.ExecutionReport{r})
	log.fail = nil
	got, err := st.Apply(ctx, &lo, log.option())
	if err != nil {
		t.Fatal(err)
	}
	if want := (summary{Outcome: Applied, StateApplied: true, Outranked: r.EventID}); summarize(got) != want {
		t.Errorf("retry: Apply = %+v, want %+v", summarize(got), want)
	}
	if losers := log.take(); !equalStrings(losers, []string{r.EventID}) {
		t.Errorf("retry: OnOutranked got %v, want %v", losers, []string{r.EventID})
	}
	checkOrder(t, st, []event.ExecutionReport{lo})
}

// An execution the other region recorded is left for that region to
// displace: this region hands the loser over, updates the state, and does
// not record the winner's execution (Deferred); the other region then
// displaces it.
func TestOtherRegionsLoserIsDeferred(t *testing.T) {
	table, client := newTable(t)
	east := New(client, table, "us-east-1", fixedClock(clock))
	west := New(client, table, "us-west-2", fixedClock(clock))
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
	if want := (summary{Outcome: Applied, StateApplied: true, Outranked: r.EventID, Deferred: true}); summarize(got) != want {
		t.Errorf("east Apply = %+v, want %+v", summarize(got), want)
	}
	if losers := log.take(); !equalStrings(losers, []string{r.EventID}) {
		t.Errorf("east: OnOutranked got %v, want %v", losers, []string{r.EventID})
	}
	execs, err := east.Executions(ctx, r.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if len(execs) != 1 || execs[0].EventID != r.EventID || execs[0].ProcessedRegion != "us-west-2" {
		t.Errorf("executions after the deferral = %+v, want west's %s untouched", execs, r.EventID)
	}
	got, err = west.Apply(ctx, &lo, log.option())
	if err != nil {
		t.Fatal(err)
	}
	// The state already is lo (east wrote it): applied by an earlier attempt.
	if want := (summary{Outcome: Applied, StateApplied: true, Outranked: r.EventID}); summarize(got) != want {
		t.Errorf("west Apply = %+v, want %+v", summarize(got), want)
	}
	checkOrder(t, west, []event.ExecutionReport{lo})
}

// The displacing put is applied and its response lost: the SDK's retry (or
// the redelivery) finds the event recorded, a duplicate, and the loser was
// handed over exactly once, before the overwrite — nothing is left to send.
func TestDisplacementResponseLost(t *testing.T) {
	for _, tc := range []struct {
		name     string
		attempts int
		want     summary
	}{
		{"SDK retries", 3, summary{Outcome: Duplicate, StateApplied: true, Outranked: "orig"}},
		{"redelivered", 1, summary{Outcome: Duplicate, StateApplied: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table, client := newTable(t)
			st, p := faultyStore(t, table, faultproxy.Config{
				Match: faultproxy.Operations("PutItem"),
				// The original's put, the conflicting put (refused), the
				// displacement (applied, response lost).
				Schedule: []faultproxy.Fault{faultproxy.None, faultproxy.None, faultproxy.DropAfter},
			}, tc.attempts)
			ctx := context.Background()
			r := gen.Lifecycles(16, 1, gen.Options{})[0].Events[0]
			if _, err := st.Apply(ctx, &r); err != nil {
				t.Fatal(err)
			}
			lo := withEventID(r, lowestID)
			log := &outrankedLog{t: t, st: New(client, table, testRegion, nil)}
			got, err := st.Apply(ctx, &lo, log.option())
			if tc.attempts == 1 {
				if err == nil {
					t.Fatalf("Apply = %+v, want the lost response's error", summarize(got))
				}
				got, err = st.Apply(ctx, &lo, log.option())
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want.Outranked != "" {
				want.Outranked = r.EventID
			}
			if summarize(got) != want {
				t.Errorf("Apply = %+v, want %+v", summarize(got), want)
			}
			if losers := log.take(); !equalStrings(losers, []string{r.EventID}) {
				t.Errorf("OnOutranked got %v, want %v once", losers, []string{r.EventID})
			}
			if c := p.Counts()[faultproxy.DropAfter]; c != 1 {
				t.Errorf("proxy dropped %d responses, want 1", c)
			}
			checkOrder(t, New(client, table, testRegion, nil), []event.ExecutionReport{lo})
		})
	}
}

// A put whose recorded execution keeps changing gives up with an error
// after maxRecordAttempts (the event is retried), having handed over every
// loser it was about to overwrite.
func TestDisplacementOfAChangingExecutionGivesUp(t *testing.T) {
	forEachMode(t, testDisplacementOfAChangingExecutionGivesUp)
}

func testDisplacementOfAChangingExecutionGivesUp(t *testing.T, mode schema.Consistency) {
	table, client := newTable(t)
	ctx := context.Background()
	r := gen.Lifecycles(17, 1, gen.Options{})[0].Events[0]
	seed := New(client, table, testRegion, fixedClock(clock))
	if _, err := seed.Apply(ctx, &r); err != nil {
		t.Fatal(err)
	}
	// Before each displacing put, another writer records yet another
	// higher eventId, so every displacement's condition fails.
	ids := []string{"f0000000-0000-4000-8000-000000000001", "f0000000-0000-4000-8000-000000000002", "f0000000-0000-4000-8000-000000000003", "f0000000-0000-4000-8000-000000000004"}
	interfere := &interferingClient{Client: client, table: table, r: r, ids: ids}
	st := New(interfere, table, testRegion, fixedClock(clock)).WithConsistency(mode)
	lo := withEventID(r, lowestID)
	log := &outrankedLog{t: t, st: seed}
	if got, err := st.Apply(ctx, &lo, log.option()); err == nil {
		t.Fatalf("Apply = %+v, want an error after %d attempts", summarize(got), maxRecordAttempts)
	}
	if got := log.take(); len(got) != maxRecordAttempts-1 {
		t.Errorf("OnOutranked got %v, want one loser per displacement tried (%d)", got, maxRecordAttempts-1)
	}
}

// interferingClient overwrites the execution of r with the next of ids
// before every displacing put (one with a condition on eventId).
type interferingClient struct {
	Client
	table string
	r     event.ExecutionReport
	ids   []string
}

func (c *interferingClient) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if in.ExpressionAttributeValues[":displaced"] != nil && len(c.ids) > 0 {
		other := withEventID(c.r, c.ids[0])
		c.ids = c.ids[1:]
		put := PlanExecution(&other, testRegion, clock)
		put.TableName, put.ConditionExpression = &c.table, nil
		if _, err := c.Client.PutItem(ctx, put); err != nil {
			return nil, err
		}
	}
	return c.Client.PutItem(ctx, in, opts...)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
