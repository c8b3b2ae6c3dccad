package processor_test

import (
	"context"
	"fmt"
	"hash/fnv"
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
// outcome its place in the stream dictates, invalid ones the reason gen
// predicted; the processing DLQ holds exactly the rejected and conflicting
// events; the table holds one execution per (order, seq) with the original's
// eventId and the state of the highest seq; and the metrics count the same.
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

	// Every delivery's outcome is the one its place dictates: a first
	// delivery is applied if it is its order's highest seq so far, else stale.
	high := map[string]int64{}
	counts := map[processor.Outcome]int{}
	wantDLQ := map[string]string{} // eventId → reason
	for i, d := range stream {
		var want processor.Outcome
		switch d.Kind {
		case gen.Original:
			want = processor.Stale
			if d.Report.Seq > high[d.Report.OrderID] {
				want = processor.Applied
				high[d.Report.OrderID] = d.Report.Seq
			}
		case gen.Duplicate:
			want = processor.Duplicate
		case gen.Conflicting:
			want = processor.Conflict
			wantDLQ[d.Report.EventID] = processor.ReasonConflict
		case gen.Invalid:
			want = processor.Rejected
			wantDLQ[d.Report.EventID] = string(d.Reason)
		}
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

	// The DLQ holds exactly the rejected and conflicting deliveries, each
	// once, with the original event and the predicted reason.
	byEventID := map[string][]byte{}
	for i, d := range stream {
		if d.Kind == gen.Invalid || d.Kind == gen.Conflicting {
			byEventID[d.Report.EventID] = raws[i]
		}
	}
	var msgs []sqstypes.Message
	for _, sh := range shards {
		msgs = append(msgs, sh.f.dlqMessages(t)...)
	}
	if want := counts[processor.Rejected] + counts[processor.Conflict]; len(msgs) != want {
		t.Errorf("processing DLQ holds %d messages, want %d (rejected + conflict)", len(msgs), want)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		r := dlq.Parse(m)
		want, ok := wantDLQ[r.EventID]
		switch {
		case !ok:
			t.Errorf("DLQ message for eventId %q (reason %s) matches no rejected delivery", r.EventID, r.Reason)
		case seen[r.EventID]:
			t.Errorf("eventId %s dead-lettered twice", r.EventID)
		case r.Reason != want:
			t.Errorf("eventId %s dead-lettered with reason %s, want %s", r.EventID, r.Reason, want)
		case aws.ToString(m.Body) != string(byEventID[r.EventID]):
			t.Errorf("eventId %s DLQ body = %s, want the event as delivered", r.EventID, aws.ToString(m.Body))
		}
		seen[r.EventID] = true
	}

	// I1 on the table: one execution per (order, seq) with the original's
	// eventId, nothing else, and each order's state at its highest seq; all
	// of it from one scan per table, then every field of a sample of orders.
	t.Logf("outcomes and DLQ checked at %v", time.Since(start).Round(time.Millisecond))
	want := map[string]string{} // PK/SK → eventId of the execution, or lastEventId of the state
	for _, l := range lifecycles {
		for _, e := range l.Events {
			want[fmt.Sprintf("ORDER#%s/EXEC#%010d", e.OrderID, e.Seq)] = e.EventID
		}
		last := l.Last()
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
		if i%20 == 0 {
			shards[shard(l.Events[0])%len(shards)].f.checkOrder(t, l.Events, l.Last())
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
	sums := map[string]int{}
	for _, doc := range docs {
		for name, v := range checkEMF(t, doc, start) {
			if v.unit == metrics.Count {
				sums[name] += len(v.values)
			}
		}
	}
	wantSums := map[string]int{
		metrics.EventsReceived:  len(stream),
		metrics.ColdStart:       len(shards), // one per Handler
		metrics.EventsApplied:   counts[processor.Applied],
		metrics.EventsDuplicate: counts[processor.Duplicate],
		metrics.EventsStale:     counts[processor.Stale],
		metrics.EventsRejected:  counts[processor.Rejected] + counts[processor.Conflict],
	}
	for name, want := range wantSums {
		if sums[name] != want {
			t.Errorf("%s summed over the documents = %d, want %d", name, sums[name], want)
		}
	}
	t.Logf("%d deliveries of %d events: %v", len(stream), len(gen.Events(lifecycles)), counts)
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
