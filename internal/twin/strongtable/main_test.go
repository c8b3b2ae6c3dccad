package strongtable

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/partition"
	"github.com/tap-trading/tap/internal/store"
)

// motoA and motoB are the two regions' local AWS, one moto server each as
// in the twin, started once in TestMain; each test creates its own table in
// both.
var motoA, motoB *motoserver.Server

// tables numbers the tables created, so every test (and -count) gets fresh
// ones.
var tables atomic.Int64

const east, west = "us-east-1", "us-west-2"

func TestMain(m *testing.M) {
	var errs [2]error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); motoA, errs[0] = motoserver.Start(context.Background(), "") }()
	go func() { defer wg.Done(); motoB, errs[1] = motoserver.Start(context.Background(), "") }()
	wg.Wait()
	code := 1
	if err := errors.Join(errs[:]...); err != nil {
		fmt.Fprintf(os.Stderr, "strongtable tests: %v\n", err)
	} else {
		code = m.Run()
	}
	motoA.Stop()
	motoB.Stop()
	os.Exit(code)
}

// pair is one table in two regions behind a Group, as the twin wires it:
// each region's clients reach its proxy, the proxy reaches its own moto
// directly, and the other region's moto through that region's link.
type pair struct {
	table string
	g     *Group
	// a and b are the regions' clients, through their proxies: one attempt
	// per call, so a test sees every refusal.
	a, b *dynamodb.Client
	// directA and directB read each replica as it is, bypassing the group.
	directA, directB *dynamodb.Client
	// linkA and linkB are the paths into each region from the other.
	linkA, linkB *partition.Proxy
	// thirdA and thirdB say whether each region reaches the witness.
	thirdA, thirdB atomic.Bool
	errs           atomic.Int64
}

type pairOptions struct {
	delay, readDelay, linkTimeout time.Duration
	// relayEvery: 0 takes 20 ms; a test that watches the backlog sets it
	// long, so only requests relay.
	relayEvery time.Duration
	// thirdNearest sets Config.ThirdIsNearest.
	thirdNearest bool
}

func newPair(t *testing.T, o pairOptions) *pair {
	t.Helper()
	ctx := context.Background()
	p := &pair{table: fmt.Sprintf("orders-%d", tables.Add(1))}
	p.thirdA.Store(true)
	p.thirdB.Store(true)
	p.directA = client(t, motoA.Endpoint, east)
	p.directB = client(t, motoB.Endpoint, west)
	for _, c := range []*dynamodb.Client{p.directA, p.directB} {
		if err := store.CreateTable(ctx, c, p.table); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if p.linkA, err = partition.Start(strings.TrimPrefix(motoA.Endpoint, "http://")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.linkA.Close() })
	if p.linkB, err = partition.Start(strings.TrimPrefix(motoB.Endpoint, "http://")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.linkB.Close() })
	if o.relayEvery == 0 {
		o.relayEvery = 20 * time.Millisecond
	}
	p.g, err = Start(Config{
		Table: p.table,
		A:     Region{Name: east, Local: motoA.Endpoint, Link: p.linkA.URL},
		B:     Region{Name: west, Local: motoB.Endpoint, Link: p.linkB.URL},
		ThirdReachable: func(r string) bool {
			if r == east {
				return p.thirdA.Load()
			}
			return p.thirdB.Load()
		},
		CrossRegionDelay: o.delay, ConsistentReadDelay: o.readDelay,
		LinkTimeout: o.linkTimeout, RelayEvery: o.relayEvery, ThirdIsNearest: o.thirdNearest,
		OnError: func(error) { p.errs.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.g.Close)
	p.a = client(t, p.g.URL(east), east)
	p.b = client(t, p.g.URL(west), west)
	return p
}

// client is a DynamoDB client of region at endpoint, one attempt per call.
func client(t *testing.T, endpoint, region string) *dynamodb.Client {
	t.Helper()
	cfg, err := awslocal.Config(context.Background(), endpoint, region)
	if err != nil {
		t.Fatal(err)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
}

// cutLinks cuts the path between the regions both ways, as twin.CutLink.
func (p *pair) cutLinks(t *testing.T, m partition.Mode) {
	t.Helper()
	for _, l := range []*partition.Proxy{p.linkA, p.linkB} {
		if err := l.Cut(m); err != nil {
			t.Fatal(err)
		}
	}
}

func (p *pair) healLinks() {
	p.linkA.Heal()
	p.linkB.Heal()
}

// key is the key of test item (pk, "X").
func key(pk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"PK": &ddbtypes.AttributeValueMemberS{Value: pk},
		"SK": &ddbtypes.AttributeValueMemberS{Value: "X"},
	}
}

// put writes item (pk, "X") with attribute v through c.
func (p *pair) put(ctx context.Context, c *dynamodb.Client, pk, v string) error {
	item := key(pk)
	item["v"] = &ddbtypes.AttributeValueMemberS{Value: v}
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &p.table, Item: item})
	return err
}

// mustPut is put that fails the test on error.
func (p *pair) mustPut(t *testing.T, c *dynamodb.Client, pk, v string) {
	t.Helper()
	if err := p.put(context.Background(), c, pk, v); err != nil {
		t.Fatalf("put %s=%s: %v", pk, v, err)
	}
}

// setV updates attribute v of item pk through c, if cond (a condition on
// v's current value, "" for none) holds.
func (p *pair) setV(c *dynamodb.Client, pk, v, cond string) error {
	in := &dynamodb.UpdateItemInput{
		TableName: &p.table, Key: key(pk),
		UpdateExpression:          aws.String("SET v = :v"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": &ddbtypes.AttributeValueMemberS{Value: v}},
	}
	if cond != "" {
		in.ConditionExpression = aws.String("v = :c")
		in.ExpressionAttributeValues[":c"] = &ddbtypes.AttributeValueMemberS{Value: cond}
	}
	_, err := c.UpdateItem(context.Background(), in)
	return err
}

// get reads attribute v of item pk through c ("" if there is no item).
func (p *pair) get(c *dynamodb.Client, pk string, consistent bool) (string, error) {
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &p.table, Key: key(pk), ConsistentRead: aws.Bool(consistent),
	})
	if err != nil {
		return "", err
	}
	if v, ok := out.Item["v"].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value, nil
	}
	return "", nil
}

// mustGet is get that fails the test on error.
func (p *pair) mustGet(t *testing.T, c *dynamodb.Client, pk string, consistent bool) string {
	t.Helper()
	v, err := p.get(c, pk, consistent)
	if err != nil {
		t.Fatalf("get %s (consistent %v): %v", pk, consistent, err)
	}
	return v
}

// replicas returns v of item pk as each replica holds it, read directly.
func (p *pair) replicas(t *testing.T, pk string) (a, b string) {
	t.Helper()
	return p.mustGet(t, p.directA, pk, true), p.mustGet(t, p.directB, pk, true)
}

// caughtUp waits for the witness log to be relayed, failing the test after
// a bound.
func (p *pair) caughtUp(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.g.CaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
}

// stats returns region's figures.
func (p *pair) stats(region string) RegionStats { return p.g.Stats().Regions[region] }

// isNoQuorum reports whether err is the refusal of a region without a
// quorum: InternalServerError, HTTP 500.
func isNoQuorum(err error) bool {
	var ise *ddbtypes.InternalServerError
	return errors.As(err, &ise) && strings.Contains(ise.ErrorMessage(), "cannot reach a quorum")
}
