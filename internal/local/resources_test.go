package local

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
)

// TestProvisionRuleDeliversMatchingEventsToInbox proves moto's rule matching
// and EventBridge→SQS delivery, which the local pipeline relies on: events of
// the processor's pattern reach the inbox as the event JSON a Lambda target
// receives, and others do not.
func TestProvisionRuleDeliversMatchingEventsToInbox(t *testing.T) {
	r, cfg := provision(t)
	ctx := context.Background()
	eb := eventbridge.NewFromConfig(cfg)
	out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{EventBusName: &r.Bus, Source: aws.String(schema.Source), DetailType: aws.String(schema.DetailTypeExecutionReport), Detail: aws.String(`{"eventId":"a"}`)},
		{EventBusName: &r.Bus, Source: aws.String(schema.Source), DetailType: aws.String(schema.DetailTypeHeartbeat), Detail: aws.String(`{"region":"us-east-1"}`)},
		{EventBusName: &r.Bus, Source: aws.String("other.source"), DetailType: aws.String(schema.DetailTypeExecutionReport), Detail: aws.String(`{"eventId":"b"}`)},
		{EventBusName: &r.Bus, Source: aws.String(schema.Source), DetailType: aws.String("Other"), Detail: aws.String(`{"eventId":"c"}`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents FailedEntryCount = %d, want 0", out.FailedEntryCount)
	}

	q := sqs.NewFromConfig(cfg)
	got := map[string]string{}
	for range 3 {
		msgs, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &r.InboxURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs.Messages {
			var ev struct {
				ID         string          `json:"id"`
				DetailType string          `json:"detail-type"`
				Source     string          `json:"source"`
				Region     string          `json:"region"`
				Account    string          `json:"account"`
				Time       string          `json:"time"`
				Detail     json.RawMessage `json:"detail"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatalf("inbox message is not an event: %v: %s", err, aws.ToString(m.Body))
			}
			if _, err := time.Parse(time.RFC3339, ev.Time); ev.Source != schema.Source || ev.Region != testRegion || ev.ID == "" || ev.Account != awslocal.AccountID || err != nil {
				t.Errorf("delivered envelope = %+v, want source %s, region %s, account %s, an id and an RFC 3339 time", ev, schema.Source, testRegion, awslocal.AccountID)
			}
			got[ev.DetailType] = string(ev.Detail)
		}
	}
	want := map[string]string{
		schema.DetailTypeExecutionReport: `{"eventId": "a"}`,
		schema.DetailTypeHeartbeat:       `{"region": "us-east-1"}`,
	}
	if len(got) != len(want) {
		t.Fatalf("inbox received detail types %v, want exactly %v", got, want)
	}
	for dt := range want {
		if _, ok := got[dt]; !ok {
			t.Errorf("inbox has no %s event; got %v", dt, got)
		}
	}
}

// TestProvisionCreatesTableFromSchema checks the local table has the keys and
// index of schema.Orders().
func TestProvisionCreatesTableFromSchema(t *testing.T) {
	r, cfg := provision(t)
	out, err := dynamodb.NewFromConfig(cfg).DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &r.Table})
	if err != nil {
		t.Fatal(err)
	}
	want := store.CreateTableInput(r.Table)
	if got := len(out.Table.GlobalSecondaryIndexes); got != len(want.GlobalSecondaryIndexes) {
		t.Fatalf("table has %d indexes, want %d", got, len(want.GlobalSecondaryIndexes))
	}
	if got, want := aws.ToString(out.Table.GlobalSecondaryIndexes[0].IndexName), schema.IndexByAccount; got != want {
		t.Errorf("index = %s, want %s", got, want)
	}
	if got, want := aws.ToString(out.Table.KeySchema[0].AttributeName), schema.AttrPK; got != want {
		t.Errorf("partition key = %s, want %s", got, want)
	}
}

func TestProvisionRefusesAnExistingEnvironment(t *testing.T) {
	cfg := testConfig(t)
	n := testNames(t)
	if _, err := Provision(context.Background(), cfg, motoEndpoint, n); err != nil {
		t.Fatal(err)
	}
	if _, err := Provision(context.Background(), cfg, motoEndpoint, n); err == nil {
		t.Fatal("second Provision of the same env succeeded, want an error (resources exist)")
	}
}
