package processor_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/metrics"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/processor"
)

// workers is how many goroutines deliver a stream. Each owns the orders that
// hash to it and delivers their events in stream order, so every delivery's
// outcome is predictable while orders are processed concurrently.
const workers = 8

// TestStreamIsAccountedFor delivers generated streams — lifecycles with
// duplicates, shuffling, invalid events and conflicts, fixed seeds — through
// Handler.Process, and checks I1 and I2 end to end: every delivery has the
// outcome its place in the stream dictates (the lowest eventId of an (order,
// seq) wins it, see referee), invalid ones the reason gen predicted; the
// processing DLQ holds exactly the rejected events, the losing deliveries,
// and the executions displaced by a lower eventId (rebuilt from the table);
// the table holds one execution per (order, seq) with the winner's eventId
// and the state of the highest seq's winner; and the metrics count the same.
func TestStreamIsAccountedFor(t *testing.T) {
	// moto spends ~40 ms of CPU on each state UpdateItem (it parses the
	// expression every time; measured on a loaded 2-core box) and uses one
	// core, so the orders are split over servers: each shard has its own
	// server, table, queue and Handler, and every delivery still goes
	// through Handler.Process.
	begin := time.Now()
	shards := make([]streamShard, streamServers)
	for i := range shards {
		endpoint := motoEndpoint
		if i > 0 {
			srv, err := motoserver.Start(t.Context(), "")
			if err != nil {
				t.Fatalf("start moto: %v", err)
			}
			t.Cleanup(srv.Stop)
			endpoint = srv.Endpoint
		}
		f := newFixtureAt(t, endpoint)
		out := &syncBuffer{}
		shards[i] = streamShard{f: f, out: out, h: f.handler(t, f.cfg, processor.Deps{Stdout: out})}
	}
	start := time.Now()
	t.Logf("servers and fixtures ready in %v", time.Since(begin).Round(time.Millisecond))

	var stream []gen.Delivery
	var lifecycles []gen.Lifecycle
	for _, seed := range []uint64{101, 102} {
		ls := gen.Lifecycles(seed, 200, gen.Options{})
		lifecycles = append(lifecycles, ls...)
		stream = append(stream, gen.Stream(ls, gen.StreamOptions{
			Seed: seed, Duplicates: 0.2, Reorder: true, Invalid: 0.08, Conflicts: 0.01,
		})...)
	}
	if len(stream) < 2000 {
		t.Fatalf("the streams have %d deliveries, want at least 2000", len(stream))
	}
	raws := make([][]byte, len(stream))
	for i, d := range stream {
		raws[i] = reportEvent(d.Report)
	}

	outcomes := deliver(t, shards, stream, raws)
	t.Logf("%d deliveries in %v", len(stream), time.Since(start).Round(time.Millisecond))

	// Every delivery's outcome is the one its place dictates (referee).
	ref := newReferee()
	counts := map[processor.Outcome]int{}
	wantDLQ := map[string]int{}            // eventId → dead letters
	reasons := map[string]string{}         // eventId → reason
	bodies := map[string]map[string]bool{} // eventId → the event as delivered (each delivery)
	displaced := map[string]bool{}         // eventIds dead-lettered from the table
	for i, d := range stream {
		var want processor.Outcome
		if d.Kind == gen.Invalid {
			want = processor.Rejected
			wantDLQ[d.Report.EventID]++
			reasons[d.Report.EventID] = string(d.Reason)
		} else {
			var loser string
			want, loser = ref.next(d.Report)
			switch {
			case want == processor.Conflict:
				wantDLQ[d.Report.EventID]++
				reasons[d.Report.EventID] = processor.ReasonConflict
			case loser != "":
				wantDLQ[loser]++
				displaced[loser] = true
			}
		}
		if bodies[d.Report.EventID] == nil {
			bodies[d.Report.EventID] = map[string]bool{}
		}
		bodies[d.Report.EventID][string(raws[i])] = true
		if outcomes[i] != want {
			t.Errorf("delivery %d (%v %s seq %d): outcome %q, want %q", i, d.Kind, d.Report.OrderID, d.Report.Seq, outcomes[i], want)
		}
		counts[outcomes[i]]++
	}
	total := counts[processor.Applied] + counts[processor.Duplicate] + counts[processor.Stale] + counts[processor.Rejected] + counts[processor.Conflict]
	if total != len(stream) {
		t.Errorf("outcomes %v add up to %d, want %d deliveries", counts, total, len(stream))
	}
	for _, o := range []processor.Outcome{processor.Applied, processor.Duplicate, processor.Stale, processor.Rejected, processor.Conflict} {
		if counts[o] == 0 {
			t.Errorf("no %s outcome in %d deliveries: the stream does not exercise it", o, len(stream))
		}
	}
	if len(displaced) == 0 {
		t.Errorf("no delivery displaced a recorded execution: the stream does not exercise it")
	}

	// The DLQ holds exactly the dead letters predicted, each with the event
	// and its reason; a displaced event's is rebuilt from its execution, so
	// it is compared as an event.
	var msgs []sqstypes.Message
	for _, sh := range shards {
		msgs = append(msgs, sh.f.dlqMessages(t)...)
	}
	wantTotal := 0
	for _, n := range wantDLQ {
		wantTotal += n
	}
	if len(msgs) != wantTotal {
		t.Errorf("processing DLQ holds %d messages, want %d (rejected, conflict and displaced)", len(msgs), wantTotal)
	}
	seen := map[string]int{}
	for _, m := range msgs {
		r := dlq.Parse(m)
		seen[r.EventID]++
		switch {
		case wantDLQ[r.EventID] == 0:
			t.Errorf("DLQ message for eventId %q (reason %s) matches no predicted dead letter", r.EventID, r.Reason)
		case r.Reason != reasons[r.EventID] && !(displaced[r.EventID] && r.Reason == processor.ReasonConflict):
			t.Errorf("eventId %s dead-lettered with reason %s, want %s", r.EventID, r.Reason, reasons[r.EventID])
		case bodies[r.EventID][aws.ToString(m.Body)]:
		case !displaced[r.EventID]:
			t.Errorf("eventId %s DLQ body = %s, want the event as delivered", r.EventID, aws.ToString(m.Body))
		default:
			got, err := event.Decode(r.Event, time.Now())
			if err != nil || got.Report == nil || !reflect.DeepEqual(*got.Report, normalized(ref.events[r.EventID])) {
				t.Errorf("eventId %s: the displaced event's dead letter %s (%v) is not the event", r.EventID, r.Event, err)
			}
		}
	}
	for id, n := range wantDLQ {
		if seen[id] != n {
			t.Errorf("eventId %s dead-lettered %d times, want %d", id, seen[id], n)
		}
	}

	// I1 on the table: one execution per (order, seq) with the winner's
	// eventId, nothing else, and each order's state at its highest seq's
	// winner; all of it from one scan per table, then every field of a
	// sample of orders.
	t.Logf("outcomes and DLQ checked at %v", time.Since(start).Round(time.Millisecond))
	want := map[string]string{} // PK/SK → eventId of the execution, or lastEventId of the state
	for _, l := range lifecycles {
		for _, e := range ref.winners(l) {
			want[fmt.Sprintf("ORDER#%s/EXEC#%010d", e.OrderID, e.Seq)] = e.EventID
		}
		last := ref.winners(l)[len(l.Events)-1]
		want[fmt.Sprintf("ORDER#%s/STATE@%d", last.OrderID, last.Seq)] = last.EventID
	}
	got := map[string]string{}
	for _, sh := range shards {
		for k, v := range sh.f.scanIDs(t) {
			if _, dup := got[k]; dup {
				t.Errorf("item %s in two tables", k)
			}
			got[k] = v
		}
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("item %s has eventId %q (present %v), want %q", k, g, ok, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected item %s (eventId %s)", k, g)
		}
	}
	for i, l := range lifecycles {
		if w := ref.winners(l); i%20 == 0 || !reflect.DeepEqual(w, l.Events) {
			shards[shard(l.Events[0])%len(shards)].f.checkOrder(t, w, w[len(w)-1])
		}
	}
	t.Logf("table checked at %v", time.Since(start).Round(time.Millisecond))

	// The metrics count what the outcomes say, one document per delivery.
	var docs []map[string]any
	for _, sh := range shards {
		_, d := splitStdout(t, sh.out.LinesFrom(0))
		docs = append(docs, d...)
	}
	if len(docs) != len(stream) {
		t.Errorf("%d EMF documents, want one per delivery (%d)", len(docs), len(stream))
	}
	sums := map[string]int{} // values per metric
	for _, doc := range docs {
		for name, v := range checkEMF(t, doc, start) {
			sums[name] += len(v.values)
		}
	}
	wantSums := map[string]int{
		metrics.PipelineLatency: len(stream), // every delivery has an envelope time
		metrics.ColdStart:       len(shards), // one per Handler
		metrics.EventsApplied:   counts[processor.Applied],
		metrics.EventsDuplicate: counts[processor.Duplicate],
		metrics.EventsStale:     counts[processor.Stale],
		metrics.EventsRejected:  wantTotal, // every dead letter, displaced events included
		// gen's trades are of January 2026: all late.
		metrics.TradeAge: counts[processor.Applied] + counts[processor.Duplicate] + counts[processor.Stale],
	}
	if len(sums) != len(wantSums) {
		t.Errorf("metrics %v, want exactly those of %v", sums, wantSums)
	}
	for name, want := range wantSums {
		if sums[name] != want {
			t.Errorf("%s summed over the documents = %d, want %d", name, sums[name], want)
		}
	}
	t.Logf("%d deliveries of %d events: %v; %d displaced events dead-lettered", len(stream), len(gen.Events(lifecycles)), counts, len(displaced))
}

// referee predicts what the processor makes of each valid delivery when an
// order's deliveries are processed one after the other in one region: the
// lowest eventId of an (order, seq) wins it, and states are ordered by seq,
// then the lower eventId (DESIGN §3, conflicts).
type referee struct {
	exec   map[orderSeq]string // eventId recorded
	state  map[string]orderSeq // the order's state: its seq, and eventId in id
	events map[string]event.ExecutionReport
}

type orderSeq struct {
	id  string
	seq int64
}

func newReferee() *referee {
	return &referee{exec: map[orderSeq]string{}, state: map[string]orderSeq{}, events: map[string]event.ExecutionReport{}}
}

// next is the outcome of delivering r next and the eventId of the recorded
// execution r displaces, if any.
func (ref *referee) next(r event.ExecutionReport) (processor.Outcome, string) {
	k := orderSeq{r.OrderID, r.Seq}
	ref.events[r.EventID] = r
	cur, recorded := ref.exec[k]
	switch {
	case recorded && cur == r.EventID:
		return processor.Duplicate, ""
	case recorded && cur < r.EventID:
		return processor.Conflict, ""
	}
	ref.exec[k] = r.EventID
	st, ok := ref.state[r.OrderID]
	if ok && (st.seq > r.Seq || st.seq == r.Seq && st.id < r.EventID) {
		return processor.Stale, cur
	}
	ref.state[r.OrderID] = orderSeq{r.EventID, r.Seq}
	return processor.Applied, cur
}

// winners are the events that must be recorded for l's order.
func (ref *referee) winners(l gen.Lifecycle) []event.ExecutionReport {
	var out []event.ExecutionReport
	for _, e := range l.Events {
		out = append(out, ref.events[ref.exec[orderSeq{e.OrderID, e.Seq}]])
	}
	return out
}

// streamServers is how many moto servers the stream is split over.
const streamServers = 2

// streamShard is the share of a stream one moto server takes.
type streamShard struct {
	f   *fixture
	out *syncBuffer
	h   *processor.Handler
}

// deliver runs every delivery with workers goroutines, each owning the
// orders that hash to it and delivering them through its shard's Handler,
// and returns the outcomes in stream order. Any error fails the test:
// nothing here is transient.
func deliver(t *testing.T, shards []streamShard, stream []gen.Delivery, raws [][]byte) []processor.Outcome {
	t.Helper()
	outcomes := make([]processor.Outcome, len(stream))
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i, d := range stream {
				if shard(d.Report) != w {
					continue
				}
				o, err := shards[w%len(shards)].h.Process(context.Background(), raws[i])
				if err != nil {
					errs <- fmt.Errorf("delivery %d (%v %s seq %d): %w", i, d.Kind, d.Report.OrderID, d.Report.Seq, err)
					return
				}
				outcomes[i] = o
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return outcomes
}

func shard(r event.ExecutionReport) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(r.OrderID))
	return int(h.Sum32() % workers)
}

// scanIDs reads every item of the fixture's table as "PK/SK" → eventId for an
// execution, "PK/STATE@lastSeq" → lastEventId for a state item.
func (f *fixture) scanIDs(t *testing.T) map[string]string {
	t.Helper()
	p := dynamodb.NewScanPaginator(f.ddb, &dynamodb.ScanInput{
		TableName:            aws.String(f.cfg.TableName),
		ProjectionExpression: aws.String("PK, SK, eventId, lastSeq, lastEventId"),
		ConsistentRead:       aws.Bool(true),
	})
	ids := map[string]string{}
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("Scan %s: %v", f.cfg.TableName, err)
		}
		for _, item := range page.Items {
			pk, sk := stringAttr(item["PK"]), stringAttr(item["SK"])
			if sk == "STATE" {
				seq, _ := item["lastSeq"].(*ddbtypes.AttributeValueMemberN)
				if seq == nil {
					t.Errorf("state item %s has no lastSeq", pk)
					continue
				}
				ids[pk+"/STATE@"+seq.Value] = stringAttr(item["lastEventId"])
				continue
			}
			ids[pk+"/"+sk] = stringAttr(item["eventId"])
		}
	}
	return ids
}

func stringAttr(v ddbtypes.AttributeValue) string {
	s, _ := v.(*ddbtypes.AttributeValueMemberS)
	if s == nil {
		return ""
	}
	return s.Value
}
