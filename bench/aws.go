package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/store"
)

// Resources are the tables and queue of one benchmark run in moto.
type Resources struct {
	// TapTable is TAP's orders table (schema.Orders, via store.CreateTable).
	TapTable string
	// PeerTable is the seed's table: partition key id (S), sort key timestamp (S).
	PeerTable string
	// DLQURL is TAP's processing dead-letter queue.
	DLQURL string
}

// execSKPrefix starts the sort key of every execution item (DESIGN §3).
const execSKPrefix = "EXEC#"

// env is the TAP environment name the benchmark's resources are named after.
const env = "bench"

// Setup creates both tables and TAP's processing DLQ.
func Setup(ctx context.Context, db *dynamodb.Client, q *sqs.Client) (Resources, error) {
	n := names.For(env)
	r := Resources{TapTable: n.Table(), PeerTable: "trading-events-" + env}
	if err := store.CreateTable(ctx, db, r.TapTable); err != nil {
		return r, err
	}
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: &r.PeerTable,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("timestamp"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("timestamp"), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	}); err != nil {
		return r, fmt.Errorf("create peer table: %w", err)
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &r.PeerTable}, time.Minute); err != nil {
		return r, fmt.Errorf("wait for peer table: %w", err)
	}
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(n.ProcessingDLQ())})
	if err != nil {
		return r, fmt.Errorf("create processing DLQ: %w", err)
	}
	r.DLQURL = *out.QueueUrl
	return r, nil
}

// Counts are what the tables and the DLQ hold after a run.
type Counts struct {
	// TapExecutions is the number of EXEC# items; TapItems every item.
	TapExecutions, TapItems int
	// PeerItems is the number of items in the seed's table.
	PeerItems int
	// DLQ is the approximate number of messages in TAP's processing DLQ.
	DLQ int
}

// Count scans both tables and reads the DLQ depth.
func Count(ctx context.Context, db *dynamodb.Client, q *sqs.Client, r Resources) (Counts, error) {
	var c Counts
	var err error
	if c.TapItems, err = scanCount(ctx, db, r.TapTable, nil); err != nil {
		return c, err
	}
	if c.TapExecutions, err = scanCount(ctx, db, r.TapTable, &dynamodb.ScanInput{
		FilterExpression:          aws.String("begins_with(SK, :e)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": &types.AttributeValueMemberS{Value: execSKPrefix}},
	}); err != nil {
		return c, err
	}
	if c.PeerItems, err = scanCount(ctx, db, r.PeerTable, nil); err != nil {
		return c, err
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &r.DLQURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		return c, fmt.Errorf("read DLQ depth: %w", err)
	}
	c.DLQ, err = strconv.Atoi(attrs.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	if err != nil {
		return c, fmt.Errorf("read DLQ depth: %w", err)
	}
	return c, nil
}

// scanCount counts the items of table matching the optional filter in base.
func scanCount(ctx context.Context, db *dynamodb.Client, table string, base *dynamodb.ScanInput) (int, error) {
	in := &dynamodb.ScanInput{}
	if base != nil {
		*in = *base
	}
	in.TableName, in.Select = &table, types.SelectCount
	total := 0
	p := dynamodb.NewScanPaginator(db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("count %s: %w", table, err)
		}
		total += int(page.Count)
	}
	return total, nil
}
