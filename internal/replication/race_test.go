package replication

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	sttypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/tap-trading/tap/internal/motoserver"
)

// TestCreationRacingTheOtherRegionsCreation: an UpdateItem that creates an
// item makes two records on moto, the keys alone and then the item, and
// the second can come a long while after the first (moto evaluates the
// update in between); streams are served while it does. Here B creates an
// item with a slow update and A creates the same item in that window, with
// one moto server per region as in the drill, so A's write is accepted after
// B's keys record and before B's item. Last writer wins: B's item, in both
// replicas. (The replicator used to take B's keys record, read alone, for
// B's item: A's write won in B, B's in A — a crossover.)
func TestCreationRacingTheOtherRegionsCreation(t *testing.T) {
	srv, err := motoserver.Start(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	p := newPair(t, pairOptions{endpointB: srv.Endpoint})
	ctx := context.Background()
	update := func(r Replica, pk string, attrs int) error {
		names := map[string]string{"#v": "v"}
		values := map[string]ddbtypes.AttributeValue{":v": &ddbtypes.AttributeValueMemberS{Value: r.Region}}
		expr := "SET #v = :v"
		for i := range attrs {
			names[fmt.Sprintf("#a%d", i)] = fmt.Sprintf("a%d", i)
			values[fmt.Sprintf(":a%d", i)] = &ddbtypes.AttributeValueMemberS{Value: "x"}
			expr += fmt.Sprintf(", #a%d = :a%d", i, i)
		}
		_, err := r.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &p.table, Key: testKey(pk), UpdateExpression: &expr,
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		})
		return err
	}
	// Creations go on until enough raced as intended (A's write accepted
	// between B's two records): how often they do depends on the machine.
	const want, most = 3, 12
	type race struct {
		pk     string
		bt, at []time.Time // B's and A's local records
	}
	var raced []race
	items := 0
	for ; items < most && len(raced) < want; items++ {
		pk := fmt.Sprintf("created-%d", items)
		done := make(chan error, 1)
		go func() { done <- update(p.b, pk, 80) }()
		// A writes as soon as B's first record is readable.
		if _, err := streamTimes(ctx, t, p.b, p.table, pk, 1); err != nil {
			t.Fatal(err)
		}
		if err := update(p.a, pk, 0); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		bt, err := streamTimes(ctx, t, p.b, p.table, pk, 2)
		if err != nil {
			t.Fatal(err)
		}
		at, err := streamTimes(ctx, t, p.a, p.table, pk, 1)
		if err != nil {
			t.Fatal(err)
		}
		if bt[0].Before(at[0]) && at[len(at)-1].Before(bt[1]) {
			raced = append(raced, race{pk, bt, at})
		}
	}
	p.caughtUp(t)
	d := p.identical(t)
	if d.ItemsA != items {
		t.Errorf("replicas hold %d items, want %d", d.ItemsA, items)
	}
	for _, rc := range raced {
		for _, r := range []Replica{p.a, p.b} {
			if got := p.get(t, r, rc.pk); got != west {
				t.Errorf("%s: %s holds %s's write, want %s's (accepted last: %s's records at %v, %s's at %v)",
					rc.pk, r.Region, got, west, west, rc.bt, east, rc.at)
			}
		}
	}
	t.Logf("%d of %d creations raced as intended; A→B %+v; B→A %+v", len(raced), items, p.rep.Stats().AToB, p.rep.Stats().BToA)
	if len(raced) == 0 {
		t.Skip("no creation in A was accepted between B's two records (machine too slow or too fast): nothing was tested")
	}
}

// streamTimes waits until r's stream holds at least n local records of item
// (pk, "X") and returns their creation times, in order. A local record is
// the keys alone or has v = r's region: each region's update sets v to its
// own name, so a replicated write shows the other region's.
func streamTimes(ctx context.Context, t *testing.T, r Replica, table, pk string, n int) ([]time.Time, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	// ListStreams, not DescribeTable: a DynamoDB call would wait for B's
	// update to finish (motoserver runs them one at a time).
	ls, err := r.Streams.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: &table})
	if err != nil {
		return nil, err
	}
	if len(ls.Streams) != 1 {
		return nil, fmt.Errorf("%s: %d streams on %s, want 1", r.Region, len(ls.Streams), table)
	}
	arn := ls.Streams[0].StreamArn
	sd, err := r.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: arn})
	if err != nil {
		return nil, err
	}
	for {
		var times []time.Time
		for _, sh := range sd.StreamDescription.Shards {
			it, err := r.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: arn, ShardId: sh.ShardId, ShardIteratorType: sttypes.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				return nil, err
			}
			for iter := it.ShardIterator; iter != nil; {
				out, err := r.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
				if err != nil {
					return nil, err
				}
				for _, rec := range out.Records {
					k, ok := rec.Dynamodb.Keys["PK"].(*sttypes.AttributeValueMemberS)
					if v := streamV(rec.Dynamodb.NewImage); ok && k.Value == pk && (v == "" || v == r.Region) {
						times = append(times, rec.Dynamodb.ApproximateCreationDateTime.UTC())
					}
				}
				if len(out.Records) == 0 {
					break
				}
				iter = out.NextShardIterator
			}
		}
		if len(times) >= n {
			return times, nil
		}
		if !sleep(ctx, 5*time.Millisecond) {
			return nil, fmt.Errorf("%s: %d local records of %s in the stream, want %d: %w", r.Region, len(times), pk, n, ctx.Err())
		}
	}
}

func streamV(item map[string]sttypes.AttributeValue) string {
	if s, ok := item["v"].(*sttypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
