package verify

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
)

// motoEndpoint is the package's moto server, started once in TestMain;
// each test creates its own two tables in it, standing for the two
// replicas.
var motoEndpoint string

var tables atomic.Int64

const east, west = "us-east-1", "us-west-2"

func TestMain(m *testing.M) { os.Exit(motoserver.RunTests(m, "verify", &motoEndpoint)) }

// pair is two tables standing for the two replicas of a global table.
type pair struct {
	t    *testing.T
	a, b Replica
}

// newPair creates the orders table twice (store.CreateTable), as replica A
// in east and replica B in west.
func newPair(t *testing.T) *pair {
	t.Helper()
	n := tables.Add(1)
	p := &pair{t: t}
	for _, r := range []struct {
		rep    *Replica
		region string
	}{{&p.a, east}, {&p.b, west}} {
		cfg, err := awslocal.Config(context.Background(), motoEndpoint, r.region)
		if err != nil {
			t.Fatal(err)
		}
		client := dynamodb.NewFromConfig(cfg)
		table := fmt.Sprintf("orders-%d-%s", n, r.region)
		if err := store.CreateTable(context.Background(), client, table); err != nil {
			t.Fatal(err)
		}
		*r.rep = Replica{Region: r.region, Table: table, Client: client}
	}
	return p
}

// config is a Config over the pair with a budget no test waits on and a
// fake clock.
func (p *pair) config(clock *fakeClock) Config {
	return Config{
		A: p.a, B: p.b, Keys: []string{schema.AttrPK, schema.AttrSK},
		RCU: 1e6, Segments: 2, Pause: 7 * time.Second, Clock: clock,
	}
}

// run runs Run, failing the test on an error.
func (p *pair) run(cfg Config) Result {
	p.t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		p.t.Fatalf("Run: %v", err)
	}
	return res
}

// put writes an item with key (pk, sk) and attrs into r.
func put(t *testing.T, r Replica, pk, sk string, attrs map[string]types.AttributeValue) {
	t.Helper()
	it := map[string]types.AttributeValue{schema.AttrPK: s(pk), schema.AttrSK: s(sk)}
	for k, v := range attrs {
		it[k] = v
	}
	if _, err := r.Client.(*dynamodb.Client).PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &r.Table, Item: it}); err != nil {
		t.Fatalf("%s: put %s %s: %v", r.Region, pk, sk, err)
	}
}

// del deletes the item (pk, sk) from r.
func del(t *testing.T, r Replica, pk, sk string) {
	t.Helper()
	key := map[string]types.AttributeValue{schema.AttrPK: s(pk), schema.AttrSK: s(sk)}
	if _, err := r.Client.(*dynamodb.Client).DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: &r.Table, Key: key}); err != nil {
		t.Fatalf("%s: delete %s %s: %v", r.Region, pk, sk, err)
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// fakeClock is virtual time: SleepUntil returns at once, moving the clock
// to the time slept until if that is later. Concurrent sleepers therefore
// overlap as they would on the wall clock, and the time a run took is the
// time its budgets and pauses demanded. onSleep, if set, is called with
// each sleep's start and end, before the clock moves.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	onSleep func(from, to time.Time)
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	from, hook := c.now, c.onSleep
	c.mu.Unlock()
	if hook != nil {
		hook(from, t)
	}
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t
	}
	c.mu.Unlock()
	return ctx.Err()
}

// counting is a replica's client that adds up the read capacity DynamoDB
// reported consuming, and can fail Scans with an error.
type counting struct {
	*dynamodb.Client
	mu       sync.Mutex
	requests int
	rcu      float64
	scanErr  error
}

func (c *counting) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if c.scanErr != nil {
		return nil, c.scanErr
	}
	out, err := c.Client.Scan(ctx, in, opts...)
	if err == nil && out.ConsumedCapacity != nil {
		c.add(aws.ToFloat64(out.ConsumedCapacity.CapacityUnits))
	}
	return out, err
}

func (c *counting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out, err := c.Client.BatchGetItem(ctx, in, opts...)
	if err == nil {
		for _, cc := range out.ConsumedCapacity {
			c.add(aws.ToFloat64(cc.CapacityUnits))
		}
	}
	return out, err
}

func (c *counting) add(rcu float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	c.rcu += rcu
}
