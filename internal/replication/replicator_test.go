package replication

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/partition"
)

// TestReplicatesBothWaysWithoutEcho: a write in either replica appears in
// the other after at least the configured lag, and the replicator's own
// writes are not sent back.
func TestReplicatesBothWaysWithoutEcho(t *testing.T) {
	const lag = 150 * time.Millisecond
	p := newPair(t, pairOptions{lag: lag})
	p.put(t, p.a, "from-a", "1")
	p.put(t, p.b, "from-b", "2")
	p.caughtUp(t)

	if got := p.get(t, p.b, "from-a"); got != "1" {
		t.Errorf("B's from-a = %q, want 1", got)
	}
	if got := p.get(t, p.a, "from-b"); got != "2" {
		t.Errorf("A's from-b = %q, want 2", got)
	}
	d := p.identical(t)
	if d.ItemsA != 2 {
		t.Errorf("replicas hold %d items, want 2", d.ItemsA)
	}
	s := p.rep.Stats()
	for _, dir := range []DirectionStats{s.AToB, s.BToA} {
		want := DirectionStats{From: dir.From, To: dir.To, Read: 1, Applied: 1, EchoesSkipped: 1}
		got := dir
		got.Failures, got.ConditionFailed, got.LagP50, got.LagP99, got.LagMax = 0, 0, 0, 0, 0
		if got != want {
			t.Errorf("%s→%s stats = %+v, want %+v", dir.From, dir.To, got, want)
		}
		if dir.LagP50 < lag || dir.LagMax < dir.LagP50 {
			t.Errorf("%s→%s lag p50 %s max %s, want at least the configured %s", dir.From, dir.To, dir.LagP50, dir.LagMax, lag)
		}
	}
	if s.AToB.From != east || s.AToB.To != west {
		t.Errorf("AToB is %s→%s, want %s→%s", s.AToB.From, s.AToB.To, east, west)
	}
}

// TestLastWriterWins writes one item in both replicas before either sees
// the other's write; both converge on the later write, whichever region
// made it.
func TestLastWriterWins(t *testing.T) {
	p := newPair(t, pairOptions{lag: 300 * time.Millisecond})
	p.put(t, p.a, "k1", "a-first")
	p.put(t, p.b, "k1", "b-later")
	p.put(t, p.b, "k2", "b-first")
	p.put(t, p.a, "k2", "a-later")
	p.caughtUp(t)
	for key, want := range map[string]string{"k1": "b-later", "k2": "a-later"} {
		for _, r := range []Replica{p.a, p.b} {
			if got := p.get(t, r, key); got != want {
				t.Errorf("%s: %s = %q, want the later write %q", r.Region, key, got, want)
			}
		}
	}
	p.identical(t)
	s := p.rep.Stats()
	if s.AToB.Superseded+s.BToA.Superseded != 2 {
		t.Errorf("superseded %d + %d, want the 2 earlier writes", s.AToB.Superseded, s.BToA.Superseded)
	}
}

// TestRacingLocalWritesAreNeverOverwritten alternates writes to one item in
// both regions with no lag, so the replicator's conditional writes race with
// local ones; the replicas must end on the last write.
func TestRacingLocalWritesAreNeverOverwritten(t *testing.T) {
	p := newPair(t, pairOptions{})
	const n = 30
	var last string
	for i := range n {
		r := p.a
		if i%2 == 1 {
			r = p.b
		}
		last = fmt.Sprintf("%s-%02d", r.Region, i)
		p.put(t, r, "hot", last)
		// Distinct milliseconds, so the write order is the LWW order; pauses
		// of varied length let replication land between some writes.
		time.Sleep(time.Duration(2+(i%4)*12) * time.Millisecond)
	}
	p.caughtUp(t)
	for _, r := range []Replica{p.a, p.b} {
		if got := p.get(t, r, "hot"); got != last {
			t.Errorf("%s: hot = %q, want the last write %q", r.Region, got, last)
		}
	}
	p.identical(t)
	s := p.rep.Stats()
	t.Logf("A→B %+v; B→A %+v", s.AToB, s.BToA)
}

// TestVersionOrder is last-writer-wins' order: time, then region name, then
// sequence number within a region.
func TestVersionOrder(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000).UTC()
	t1 := t0.Add(time.Millisecond)
	for _, tc := range []struct {
		newer, older version
	}{
		{version{t1, east, "100"}, version{t0, west, "999"}},
		{version{t0, west, "1"}, version{t0, east, "9"}},  // tie: the greater region wins
		{version{t0, east, "10"}, version{t0, east, "9"}}, // same region: numeric sequence order
		{version{t0, east, "1000000000000000000002"}, version{t0, east, "999999999999999999999"}},
	} {
		if !tc.newer.newerThan(tc.older) || tc.older.newerThan(tc.newer) {
			t.Errorf("%s vs %s: want the first newer", tc.newer, tc.older)
		}
		if !tc.newer.equal(tc.newer) || tc.newer.equal(tc.older) {
			t.Errorf("%s: equal is not identity", tc.newer)
		}
	}
}

// TestCutAndHeal cuts the replicator off from B (connections refused, or
// requests hung) while both regions keep writing; nothing is lost and the
// replicas are identical once it heals.
func TestCutAndHeal(t *testing.T) {
	for _, mode := range []partition.Mode{partition.Refuse, partition.Hang} {
		t.Run(mode.String(), func(t *testing.T) {
			p := newPair(t, pairOptions{callTimeout: 300 * time.Millisecond})
			p.put(t, p.a, "before", "a")
			p.caughtUp(t)

			cutOff(t, p.cut, mode)
			for i := range 5 {
				p.put(t, p.a, fmt.Sprintf("a-%d", i), "a")
				p.put(t, p.b, fmt.Sprintf("b-%d", i), "b")
			}
			p.put(t, p.a, "both", "a-earlier")
			p.put(t, p.b, "both", "b-later")
			// The replicator cannot finish while B is cut.
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			err := p.rep.CaughtUp(ctx)
			cancel()
			if err == nil {
				t.Fatal("CaughtUp returned while B was cut off")
			}
			if !strings.Contains(err.Error(), "not caught up") {
				t.Errorf("CaughtUp error %q does not say it is not caught up", err)
			}
			if p.errs.Load() == 0 {
				t.Error("no error reported while B was cut off")
			}

			healed := time.Now()
			p.cut.Heal()
			p.caughtUp(t)
			// A's five writes reached B only after the heal: had A been
			// lost at that instant, B would not have them. A's write of
			// "both" was superseded by B's later one, so it is not counted.
			from := p.rep.Stats().AToB.From
			if n := p.rep.Stranded(from, healed); n != 5 {
				t.Errorf("Stranded(%s, heal) = %d, want A's 5 writes made during the cut", from, n)
			}
			if n := p.rep.Stranded(from, time.Now()); n != 0 {
				t.Errorf("Stranded(%s, now) = %d after catching up, want 0", from, n)
			}
			d := p.identical(t)
			if d.ItemsA != 12 {
				t.Errorf("replicas hold %d items, want 12", d.ItemsA)
			}
			if got := p.get(t, p.a, "both"); got != "b-later" {
				t.Errorf("both = %q, want the later write b-later", got)
			}
			s := p.rep.Stats()
			if s.AToB.Backlog != 0 || s.BToA.Backlog != 0 || s.AToB.Failures == 0 {
				t.Errorf("stats after healing: A→B %+v, B→A %+v; want no backlog and A→B failures", s.AToB, s.BToA)
			}
		})
	}
}

// TestReplicatesRemovals: a delete is replicated like a write, and is not
// echoed back.
func TestReplicatesRemovals(t *testing.T) {
	p := newPair(t, pairOptions{})
	p.put(t, p.a, "gone", "x")
	p.put(t, p.a, "kept", "y")
	p.caughtUp(t)
	_, err := p.a.DynamoDB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{
		TableName: &p.table, Key: testKey("gone"),
	})
	if err != nil {
		t.Fatal(err)
	}
	p.caughtUp(t)
	if got := p.get(t, p.b, "gone"); got != "" {
		t.Errorf("B still holds the deleted item (%q)", got)
	}
	if d := p.identical(t); d.ItemsA != 1 {
		t.Errorf("replicas hold %d items, want 1", d.ItemsA)
	}
	if s := p.rep.Stats(); s.AToB.EchoesSkipped != 3 || s.BToA.Read != 0 {
		t.Errorf("stats A→B %+v, B→A %+v; want 3 echoes skipped and nothing sent back", s.AToB, s.BToA)
	}
}

// TestNewRejectsBadConfig names what is wrong.
func TestNewRejectsBadConfig(t *testing.T) {
	a := replica(t, motoEndpoint, east)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{A: a, B: replica(t, motoEndpoint, west)}, "Table is empty"},
		{Config{Table: "t", A: a, B: a}, "both replicas are in us-east-1"},
		{Config{Table: "t", A: a, B: Replica{Region: west}}, "needs a region, a DynamoDB client and a Streams client"},
		{Config{Table: "t", A: a, B: replica(t, motoEndpoint, west), Lag: -time.Second}, "Lag is -1s"},
		{Config{Table: "t", A: a, B: replica(t, motoEndpoint, west), LagJitter: -time.Second}, "LagJitter is -1s"},
		{Config{Table: "t", A: a, B: replica(t, motoEndpoint, west), MaxSkew: -time.Second}, "MaxSkew is -1s"},
		{Config{Table: "t", A: a, B: replica(t, motoEndpoint, west), Skew: map[string]time.Duration{"eu-west-1": time.Millisecond}},
			`Config.Skew names "eu-west-1", which is neither replica's region (us-east-1, us-west-2)`},
		{Config{Table: "t", A: a, B: replica(t, motoEndpoint, west), Skew: map[string]time.Duration{west: 2 * time.Second}, MaxSkew: time.Second},
			"Config.Skew of us-west-2 is 2s; it must be smaller than Config.MaxSkew (1s) in magnitude"},
		{Config{Table: "t", A: a, B: replica(t, motoEndpoint, west), Skew: map[string]time.Duration{east: -time.Second}, MaxSkew: time.Second},
			"Config.Skew of us-east-1 is -1s; it must be smaller than Config.MaxSkew (1s)"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s) = %v, want an error containing %q", tc.want, err, tc.want)
		}
	}
	ok := Config{Table: "t", A: a, B: replica(t, motoEndpoint, west),
		Skew: map[string]time.Duration{west: 999 * time.Millisecond, east: -999 * time.Millisecond}, MaxSkew: time.Second}
	if _, err := New(ok); err != nil {
		t.Errorf("New with skews under MaxSkew: %v", err)
	}
}

// TestRunStopsOnATableWithoutStream: a permanent misconfiguration is an
// error, not an endless retry.
func TestRunStopsOnATableWithoutStream(t *testing.T) {
	a, b := replica(t, motoEndpoint, east), replica(t, motoEndpoint, west)
	table := fmt.Sprintf("nostream-%d", tables.Add(1))
	ctx := context.Background()
	for _, r := range []Replica{a, b} {
		if _, err := r.DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            &table,
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: strPtr("PK"), KeyType: ddbtypes.KeyTypeHash}},
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: strPtr("PK"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			BillingMode:          ddbtypes.BillingModePayPerRequest,
		}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := New(Config{Table: table, A: a, B: b})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := rep.Run(ctx); err == nil || !strings.Contains(err.Error(), "EnableStreams") {
		t.Errorf("Run = %v, want an error saying to enable streams", err)
	}
}

// TestChildShardsWaitForTheirParents: a shard is read only once its parent
// has been read to its end (or is gone), so an item's records stay in order
// across DynamoDB's shard rollovers; moto never rolls shards, hence a unit
// test.
func TestChildShardsWaitForTheirParents(t *testing.T) {
	r := newReader(Replica{Region: east}, "t", time.Now)
	r.shards = map[string]*shard{
		"s1": {id: "s1"},
		"s2": {id: "s2", parent: "s1"},
		"s3": {id: "s3", parent: "trimmed-away"},
	}
	if got := r.readable(); !slices.Equal(got, []string{"s1", "s3"}) {
		t.Errorf("readable = %v, want [s1 s3]", got)
	}
	r.shards["s1"].ended = true
	if got := r.readable(); !slices.Equal(got, []string{"s2", "s3"}) {
		t.Errorf("after s1 ended, readable = %v, want [s2 s3]", got)
	}
}

// TestCompareIgnoresNumberSpelling: items equal but for the spelling of a
// number are identical; any other difference is reported by key, including
// an attribute only one replica's item has (Compare ignores none).
func TestCompareIgnoresNumberSpelling(t *testing.T) {
	p := newPair(t, pairOptions{})
	cut := p.cut
	cutOff(t, cut, partition.Refuse) // keep the replicator out: this test writes both replicas itself
	ctx := context.Background()
	put := func(r Replica, pk string, attrs map[string]ddbtypes.AttributeValue) {
		t.Helper()
		item := testKey(pk)
		for k, v := range attrs {
			item[k] = v
		}
		if _, err := r.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &p.table, Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	n := func(s string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberN{Value: s} }
	s := func(s string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: s} }
	put(p.a, "same", map[string]ddbtypes.AttributeValue{"q": n("1.50")})
	put(p.b, "same", map[string]ddbtypes.AttributeValue{"q": n("1.5")})
	put(p.a, "differs", map[string]ddbtypes.AttributeValue{"q": n("1")})
	put(p.b, "differs", map[string]ddbtypes.AttributeValue{"q": n("2")})
	put(p.a, "extra", map[string]ddbtypes.AttributeValue{"q": n("1"), "tap:rep": s("1|us-east-1|1")})
	put(p.b, "extra", map[string]ddbtypes.AttributeValue{"q": n("1")})
	put(p.a, "only-a", nil)
	d, err := Compare(ctx, p.a.DynamoDB, p.b.DynamoDB, p.table)
	if err != nil {
		t.Fatal(err)
	}
	want := Diff{ItemsA: 4, ItemsB: 3, OnlyA: []string{"PK=S:only-a SK=S:X"}, Differ: []string{"PK=S:differs SK=S:X", "PK=S:extra SK=S:X"}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Compare = %+v, want %+v", d, want)
	}
	if d.Identical() || !strings.Contains(d.String(), "1 only in A") {
		t.Errorf("Diff.String() = %q", d)
	}
}

// TestCaughtUpUnderSteadyWrites: CaughtUp returns while the source is still
// being written, faster than the replicator polls (every poll finds new
// records), once everything written before the call is in the other
// replica: a poll that read each shard to its end counts, not only an
// empty one.
func TestCaughtUpUnderSteadyWrites(t *testing.T) {
	p := newPair(t, pairOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		for i := 0; ctx.Err() == nil; i++ {
			item := testKey(fmt.Sprintf("steady-%d", i))
			_, _ = p.a.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &p.table, Item: item})
			time.Sleep(2 * time.Millisecond)
		}
	}()
	defer func() { cancel(); <-writing }()
	time.Sleep(200 * time.Millisecond)
	p.put(t, p.a, "before-the-call", "a")
	p.caughtUp(t)
	if got := p.get(t, p.b, "before-the-call"); got != "a" {
		t.Errorf("after CaughtUp, B has before-the-call = %q, want a", got)
	}
}
