package drill

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	sttypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/tap-trading/tap/internal/twin"
)

// streamHistory lists the stream records of one order's state item in a
// region's replica: when each write was accepted, which region's processor
// made it and what it wrote. It is the evidence of a convergence failure;
// it reads the whole stream, which only a finished drill's small tables
// make cheap.
func streamHistory(ctx context.Context, c *twin.Clients, region, table, orderID string) ([]string, error) {
	desc, err := c.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil || desc.Table.LatestStreamArn == nil {
		return nil, fmt.Errorf("%s: no stream: %v", region, err)
	}
	arn := desc.Table.LatestStreamArn
	sd, err := c.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: arn})
	if err != nil {
		return nil, err
	}
	pk := "ORDER#" + orderID
	var out []string
	for _, sh := range sd.StreamDescription.Shards {
		it, err := c.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn: arn, ShardId: sh.ShardId, ShardIteratorType: sttypes.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			return out, err
		}
		iter := it.ShardIterator
		for iter != nil {
			page, err := c.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				return out, err
			}
			for _, rec := range page.Records {
				d := rec.Dynamodb
				if d == nil || str(d.Keys["PK"]) != pk || str(d.Keys["SK"]) != "STATE" {
					continue
				}
				img := d.NewImage
				at := ""
				if d.ApproximateCreationDateTime != nil {
					at = d.ApproximateCreationDateTime.UTC().Format("15:04:05.000")
				}
				out = append(out, fmt.Sprintf("%s %s #%s at %s: lastSeq %s, lastEventId %s, processedRegion %s, updatedAt %s",
					region, rec.EventName, aws.ToString(d.SequenceNumber), at, num(img["lastSeq"]), str(img["lastEventId"]), str(img["processedRegion"]), str(img["updatedAt"])))
			}
			if len(page.Records) == 0 {
				break
			}
			iter = page.NextShardIterator
		}
	}
	return out, nil
}

func str(v sttypes.AttributeValue) string {
	if s, ok := v.(*sttypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return "-"
}

func num(v sttypes.AttributeValue) string {
	if n, ok := v.(*sttypes.AttributeValueMemberN); ok {
		return n.Value
	}
	return "-"
}

// orderOfKey extracts the orderId from a printed state key, or "".
func orderOfKey(k string) string {
	i := strings.Index(k, "ORDER#")
	if i < 0 || !strings.Contains(k, "STATE") {
		return ""
	}
	id := k[i+len("ORDER#"):]
	if j := strings.IndexAny(id, " ;,"); j >= 0 {
		id = id[:j]
	}
	return id
}
