package replication

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	sttypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
)

// landed is one record of a replica's stream: the item's pk, its v, when the
// replica accepted it.
type landed struct {
	pk, v string
	at    time.Time
}

// streamLog reads r's whole stream, in order: the order in which writes
// landed in r.
func streamLog(t *testing.T, r Replica, table string) []landed {
	t.Helper()
	ctx := context.Background()
	ls, err := r.Streams.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: &table})
	if err != nil || len(ls.Streams) != 1 {
		t.Fatalf("%s: streams of %s: %v, %v", r.Region, table, ls, err)
	}
	sd, err := r.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: ls.Streams[0].StreamArn})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sd.StreamDescription.Shards); n != 1 {
		t.Fatalf("%s: %d shards; the order across shards would mean nothing", r.Region, n)
	}
	it, err := r.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: ls.Streams[0].StreamArn, ShardId: sd.StreamDescription.Shards[0].ShardId,
		ShardIteratorType: sttypes.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []landed
	for iter := it.ShardIterator; iter != nil; {
		page, err := r.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range page.Records {
			pk, _ := rec.Dynamodb.Keys["PK"].(*sttypes.AttributeValueMemberS)
			out = append(out, landed{pk: pk.Value, v: streamV(rec.Dynamodb.NewImage), at: rec.Dynamodb.ApproximateCreationDateTime.UTC()})
		}
		if len(page.Records) == 0 {
			break
		}
		iter = page.NextShardIterator
	}
	return out
}

// TestItemsReplicateIndependently: region A writes, for each of several
// orders, its execution item and then three versions of its state item.
// With lag jitter, some order's state lands in B before its execution,
// though A wrote it later: items are replicated independently, with no
// order across them. Each item's writes land in B in the order A made them,
// every one applied (none superseded, as one landing out of order would
// be). The items in B are exactly A's: the replicator adds no attribute.
func TestItemsReplicateIndependently(t *testing.T) {
	p := newPair(t, pairOptions{lag: 20 * time.Millisecond, jitter: 400 * time.Millisecond, seed: 7})
	const orders = 6
	var want []string // A's writes, in order
	for i := range orders {
		exec, state := fmt.Sprintf("exec-%d", i), fmt.Sprintf("state-%d", i)
		p.put(t, p.a, exec, "x")
		want = append(want, exec+"=x")
		for _, v := range []string{"1", "2", "3"} {
			p.put(t, p.a, state, v)
			want = append(want, state+"="+v)
		}
	}
	p.caughtUp(t)

	var got []string
	for _, l := range streamLog(t, p.b, p.table) {
		got = append(got, l.pk+"="+l.v)
	}
	t.Logf("A wrote %v", want)
	t.Logf("B's stream %v", got)
	if len(got) != len(want) {
		t.Fatalf("B's stream has %d records, want A's %d writes each applied once", len(got), len(want))
	}
	inverted := 0
	for i := range orders {
		exec, state := fmt.Sprintf("exec-%d", i), fmt.Sprintf("state-%d", i)
		var states []string
		for _, g := range got {
			if v, ok := strings.CutPrefix(g, state+"="); ok {
				states = append(states, v)
			}
		}
		if !slices.Equal(states, []string{"1", "2", "3"}) {
			t.Errorf("%s landed in B as %v, want A's order [1 2 3]", state, states)
		}
		if slices.Index(got, state+"=1") < slices.Index(got, exec+"=x") {
			inverted++
		}
	}
	if inverted == 0 {
		t.Errorf("every order's state landed in B after its execution: cross-item order was kept")
	}
	t.Logf("%d of %d orders' state landed in B before their execution", inverted, orders)
	s := p.rep.Stats()
	if s.AToB.Applied != int64(len(want)) || s.AToB.Superseded != 0 || s.BToA.Read != 0 {
		t.Errorf("A→B %+v, B→A %+v; want all %d applied, none superseded, nothing sent back", s.AToB, s.BToA, len(want))
	}
	p.identical(t)
	out, err := p.b.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &p.table, Key: testKey("state-0"), ConsistentRead: boolPtr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if names := slices.Sorted(func(yield func(string) bool) {
		for n := range out.Item {
			if !yield(n) {
				return
			}
		}
	}); !slices.Equal(names, []string{"PK", "SK", "v"}) {
		t.Errorf("B's replicated item has attributes %v, want A's [PK SK v]", names)
	}
}

// TestFailingItemDoesNotBlockOthers: while every write of one item into B
// fails (the service answers with an error), the items A wrote after it are
// replicated; the failing item is retried, never skipped, and lands, with
// the write queued behind it, once the failure stops.
func TestFailingItemDoesNotBlockOthers(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	p := newPair(t, pairOptions{configure: func(r *Replicator) {
		r.dirs[0].fail = func(rec record) error {
			if failing.Load() && strings.Contains(rec.key, "S:stuck\x00") {
				return &smithy.GenericAPIError{Code: "InjectedFailure", Message: "the test fails this item's writes"}
			}
			return nil
		}
	}})
	p.put(t, p.a, "stuck", "1")
	p.put(t, p.a, "stuck", "2")
	for i := range 5 {
		p.put(t, p.a, fmt.Sprintf("free-%d", i), "x")
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 5; {
		if p.get(t, p.b, fmt.Sprintf("free-%d", i)) == "x" {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("free-%d not replicated while stuck's writes fail: %+v", i, p.rep.Stats().AToB)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := p.get(t, p.b, "stuck"); got != "" {
		t.Fatalf("B holds stuck = %q while its writes fail", got)
	}
	// Let it fail a few more times, so it is known to be retried.
	for p.rep.Stats().AToB.Failures < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	failing.Store(false)
	p.caughtUp(t)
	if got := p.get(t, p.b, "stuck"); got != "2" {
		t.Errorf("B's stuck = %q, want A's last write 2", got)
	}
	p.identical(t)
	s := p.rep.Stats().AToB
	if s.Applied != 7 || s.Superseded != 0 || s.Backlog != 0 || s.Failures < 3 || p.errs.Load() < 3 {
		t.Errorf("A→B %+v, %d errors reported; want 7 applied (stuck's two in order), failures retried and reported", s, p.errs.Load())
	}
}

// TestSkewedClockDecidesLastWriterWins: region B's clock is 200 ms ahead.
// B writes an item, and A writes it 100 ms later, before either sees the
// other's write: B's write has the later version and wins in both replicas,
// as in DynamoDB, where each region stamps its writes with its own clock.
// The lag is still waited in real time, not shifted by the skew.
func TestSkewedClockDecidesLastWriterWins(t *testing.T) {
	const lag, skew = 500 * time.Millisecond, 200 * time.Millisecond
	p := newPair(t, pairOptions{lag: lag, skew: map[string]time.Duration{west: skew}})
	p.put(t, p.b, "k", "b-earlier")
	time.Sleep(100 * time.Millisecond)
	p.put(t, p.a, "k", "a-later")
	p.caughtUp(t)

	la, lb := streamLog(t, p.a, p.table), streamLog(t, p.b, p.table)
	if d := la[0].at.Sub(lb[0].at); d < 100*time.Millisecond || d >= skew {
		t.Fatalf("A's write was accepted %s after B's; the test needs 100 ms to %s", d, skew)
	}
	for _, r := range []Replica{p.a, p.b} {
		if got := p.get(t, r, "k"); got != "b-earlier" {
			t.Errorf("%s: k = %q, want B's write b-earlier (its clock is %s ahead)", r.Region, got, skew)
		}
	}
	if d := p.identical(t); d.ItemsA != 1 {
		t.Errorf("replicas hold %d items, want 1", d.ItemsA)
	}
	s := p.rep.Stats()
	if s.AToB.Superseded != 1 || s.BToA.Applied != 1 {
		t.Errorf("A→B %+v, B→A %+v; want A's write superseded in B and B's applied in A", s.AToB, s.BToA)
	}
	if s.BToA.LagP50 < lag || s.BToA.LagMax >= lag+skew {
		t.Errorf("B→A lag %s, want from %s to under %s: the lag is real time, not skewed", s.BToA.LagMax, lag, lag+skew)
	}
}

// TestSkewedOverwriteConverges: region B's clock is 2 s ahead. A overwrites
// an item after B's write of it has been replicated into A, within those
// 2 s: A's write is the later one (it replaced B's), so it wins in both
// replicas, although A's clock stamps it earlier than B's write. Without
// that the replicas would keep different items for good.
func TestSkewedOverwriteConverges(t *testing.T) {
	const skew = 2 * time.Second
	p := newPair(t, pairOptions{skew: map[string]time.Duration{west: skew}})
	start := time.Now()
	p.put(t, p.b, "k", "b")
	p.caughtUp(t)
	if got := p.get(t, p.a, "k"); got != "b" {
		t.Fatalf("A's k = %q before A writes, want B's b", got)
	}
	p.put(t, p.a, "k", "a")
	if time.Since(start) >= skew {
		t.Skipf("A wrote %s after B: not within the skew, nothing tested", time.Since(start))
	}
	p.caughtUp(t)
	for _, r := range []Replica{p.a, p.b} {
		if got := p.get(t, r, "k"); got != "a" {
			t.Errorf("%s: k = %q, want A's overwrite a", r.Region, got)
		}
	}
	p.identical(t)
}

// TestJitterIsSeeded: a direction's jitter is repeatable from Config.Seed,
// within [Lag, Lag+LagJitter) of the write, and differs between seeds.
func TestJitterIsSeeded(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	dues := func(seed uint64) []time.Duration {
		cfg := &Config{Lag: 50 * time.Millisecond, LagJitter: time.Second, Seed: seed}
		d := newDirection(east, west, cfg, 0)
		var out []time.Duration
		for i := range 20 {
			d.push(record{key: fmt.Sprint(i), accepted: t0})
		}
		for _, q := range d.items {
			out = append(out, q.recs[0].due.Sub(t0))
		}
		slices.Sort(out)
		return out
	}
	a, b, c := dues(1), dues(1), dues(2)
	if !slices.Equal(a, b) {
		t.Errorf("seed 1 gave %v, then %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 1 and 2 gave the same delays %v", a)
	}
	for _, d := range a {
		if d < 50*time.Millisecond || d >= 50*time.Millisecond+time.Second {
			t.Errorf("delay %s outside [50ms, 1.05s)", d)
		}
	}
}

// TestEchoMatchingByImage: a record is the echo of a write the replicator
// has pending on its item only if its image equals the one written (numbers
// by value; a removal for a deletion); retries of one write are one entry,
// and a later write's echo ends the earlier ones still pending.
func TestEchoMatchingByImage(t *testing.T) {
	r := newReader(Replica{Region: west}, "t", time.Now)
	img := func(v string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"v": &ddbtypes.AttributeValueMemberS{Value: v}, "n": &ddbtypes.AttributeValueMemberN{Value: "1.50"}}
	}
	v1 := version{at: time.UnixMilli(1), region: east, seq: "1"}
	v2 := version{at: time.UnixMilli(2), region: east, seq: "2"}
	r.expect("k", itemView{v: v1, image: img("1")})
	r.expect("k", itemView{v: v1, image: img("1")}) // a retry: one entry
	r.expect("k", itemView{v: v2, image: img("2")})
	if len(r.pending["k"]) != 2 {
		t.Fatalf("pending %v, want two writes", r.pending["k"])
	}
	if _, ok := r.takeEcho("k", img("3")); ok {
		t.Error("an image the replicator did not write was taken for its echo")
	}
	if _, ok := r.takeEcho("k", nil); ok {
		t.Error("a removal was taken for the echo of a put")
	}
	same := img("2")
	same["n"] = &ddbtypes.AttributeValueMemberN{Value: "1.5"}
	if v, ok := r.takeEcho("k", same); !ok || !v.equal(v2) {
		t.Errorf("echo of the second write = %v, %v; want %v (numbers equal by value)", v, ok, v2)
	}
	if len(r.pending["k"]) != 0 {
		t.Errorf("pending %v after the later write's echo, want none: the earlier one never landed", r.pending["k"])
	}
	r.expect("k", itemView{v: v1})
	if v, ok := r.takeEcho("k", nil); !ok || !v.equal(v1) {
		t.Errorf("echo of a deletion = %v, %v; want %v", v, ok, v1)
	}
}
