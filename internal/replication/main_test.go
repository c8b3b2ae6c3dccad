package replication

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/partition"
	"github.com/tap-trading/tap/internal/store"
)

// motoEndpoint is the package's moto server, started once in TestMain; each
// test creates its own table in it, in two regions.
var motoEndpoint string

// tables numbers the tables created, so every test (and -count) gets fresh
// ones.
var tables atomic.Int64

const east, west = "us-east-1", "us-west-2"

func TestMain(m *testing.M) { os.Exit(motoserver.RunTests(m, "replication", &motoEndpoint)) }

// replica returns SDK clients for region through endpoint.
func replica(t testing.TB, endpoint, region string) Replica {
	t.Helper()
	cfg, err := awslocal.Config(context.Background(), endpoint, region)
	if err != nil {
		t.Fatal(err)
	}
	return Replica{Region: region, DynamoDB: dynamodb.NewFromConfig(cfg), Streams: dynamodbstreams.NewFromConfig(cfg)}
}

// pair is one table in two regions with a running replicator.
type pair struct {
	table string
	// a and b reach the replicas directly, as the regions' own processors do.
	a, b Replica
	rep  *Replicator
	// cut stands between the replicator and replica B: the network path a
	// test cuts (internal/partition, as the drill does).
	cut *partition.Proxy
	// errs counts the errors the replicator survived.
	errs atomic.Int64
}

type pairOptions struct {
	lag         time.Duration
	jitter      time.Duration
	seed        uint64
	skew        map[string]time.Duration
	callTimeout time.Duration
	// configure, if set, is called on the replicator before it runs.
	configure func(*Replicator)
	// endpointB, if set, is B's own moto server (as in the drill, one per
	// region); by default both regions are in the package's server.
	endpointB string
}

// newPair creates the orders table (store.CreateTable) in east (A) and west
// (B) with streams on, and runs a replicator between them until the test
// ends; the replicator reaches B through a cut-able proxy.
func newPair(t *testing.T, o pairOptions) *pair {
	t.Helper()
	ctx := context.Background()
	endpointB := motoEndpoint
	if o.endpointB != "" {
		endpointB = o.endpointB
	}
	p := &pair{
		table: fmt.Sprintf("orders-%d", tables.Add(1)),
		a:     replica(t, motoEndpoint, east),
		b:     replica(t, endpointB, west),
	}
	cut, err := partition.Start(strings.TrimPrefix(endpointB, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cut.Close() })
	p.cut = cut
	for _, r := range []Replica{p.a, p.b} {
		if err := store.CreateTable(ctx, r.DynamoDB, p.table); err != nil {
			t.Fatal(err)
		}
		if err := EnableStreams(ctx, r.DynamoDB, p.table); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := New(Config{
		Table: p.table, A: p.a, B: replica(t, p.cut.URL, west),
		Lag: o.lag, LagJitter: o.jitter, Seed: o.seed, Skew: o.skew,
		Poll: 20 * time.Millisecond, CallTimeout: o.callTimeout,
		OnError: func(error) { p.errs.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	p.rep = rep
	if o.configure != nil {
		o.configure(rep)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rep.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return p
}

// caughtUp waits for the replicator to catch up, failing the test after a
// generous bound (a hung replicator must not hang the suite).
func (p *pair) caughtUp(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.rep.CaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
}

// identical fails the test unless both replicas hold the same items.
func (p *pair) identical(t *testing.T) Diff {
	t.Helper()
	d, err := Compare(context.Background(), p.a.DynamoDB, p.b.DynamoDB, p.table)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Identical() {
		t.Errorf("replicas differ: %s", d)
	}
	return d
}

// testKey is the key of the test items: (pk, "X") in the orders table's
// key attributes.
func testKey(pk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"PK": &ddbtypes.AttributeValueMemberS{Value: pk},
		"SK": &ddbtypes.AttributeValueMemberS{Value: "X"},
	}
}

// put writes an item with key (pk, "X") and attribute v in r.
func (p *pair) put(t *testing.T, r Replica, pk, v string) {
	t.Helper()
	item := testKey(pk)
	item["v"] = &ddbtypes.AttributeValueMemberS{Value: v}
	_, err := r.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &p.table, Item: item})
	if err != nil {
		t.Fatalf("%s: put %s: %v", r.Region, pk, err)
	}
}

// get reads attribute v of item (pk, "X") in r; "" if there is no item.
func (p *pair) get(t *testing.T, r Replica, pk string) string {
	t.Helper()
	out, err := r.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &p.table, Key: testKey(pk), ConsistentRead: boolPtr(true),
	})
	if err != nil {
		t.Fatalf("%s: get %s: %v", r.Region, pk, err)
	}
	if v, ok := out.Item["v"].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// cutOff cuts the replicator's path to a replica.
func cutOff(t *testing.T, p *partition.Proxy, m partition.Mode) {
	t.Helper()
	if err := p.Cut(m); err != nil {
		t.Fatal(err)
	}
}
