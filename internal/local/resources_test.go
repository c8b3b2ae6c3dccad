package local

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

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

// TestProvisionSpecTakesEveryValueFromTheSpec: the rule's name and whole
// pattern, the table and the dead-letter queues' retention (× scale) come
// from the spec; the inbox keeps SQS's maximum.
func TestProvisionSpecTakesEveryValueFromTheSpec(t *testing.T) {
	cfg := testConfig(t)
	s := SpecFor(testNames(t).Env)
	s.Rule.Name = "tap-" + s.Names.Env + "-custom-rule"
	s.Rule.Pattern = map[string][]string{"source": {"a.b"}, "detail-type": {"X", "Y"}, "account": {awslocal.AccountID}}
	s.Table.Name = "tap-" + s.Names.Env + "-custom-table"
	r, err := ProvisionSpec(context.Background(), cfg, motoEndpoint, s, 1.0/120)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rule != s.Rule.Name || r.Table != s.Table.Name || r.RuleARN == "" {
		t.Errorf("resources %+v, want rule %s (with its ARN) and table %s", r, s.Rule.Name, s.Table.Name)
	}
	rule, err := eventbridge.NewFromConfig(cfg).DescribeRule(context.Background(), &eventbridge.DescribeRuleInput{Name: &r.Rule, EventBusName: &r.Bus})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string][]string
	if err := json.Unmarshal([]byte(aws.ToString(rule.EventPattern)), &got); err != nil || !reflect.DeepEqual(got, s.Rule.Pattern) {
		t.Errorf("rule pattern %s (%v), want %v", aws.ToString(rule.EventPattern), err, s.Rule.Pattern)
	}
	if aws.ToString(rule.Arn) != r.RuleARN {
		t.Errorf("rule ARN %s, resources say %s", aws.ToString(rule.Arn), r.RuleARN)
	}
	if _, err := dynamodb.NewFromConfig(cfg).DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &s.Table.Name}); err != nil {
		t.Errorf("table %s: %v", s.Table.Name, err)
	}
	q := sqs.NewFromConfig(cfg)
	for url, want := range map[string]string{
		r.DeliveryDLQURL:   strconv.Itoa(int(s.DLQ.Retention / 120 / time.Second)), // 14 days / 120 = 10080 s
		r.ProcessingDLQURL: strconv.Itoa(int(s.DLQ.Retention / 120 / time.Second)),
		r.InboxURL:         strconv.Itoa(int(MaxQueueRetention / time.Second)),
	} {
		out, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
			QueueUrl: &url, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameMessageRetentionPeriod},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Attributes[string(sqstypes.QueueAttributeNameMessageRetentionPeriod)]; got != want {
			t.Errorf("%s retention %s s, want %s s", url, got, want)
		}
	}
}

func TestDLQRetentionStaysWithinSQSBounds(t *testing.T) {
	s := SpecFor("x")
	for scale, want := range map[float64]time.Duration{1: MaxQueueRetention, 1e-9: MinQueueRetention, 1.0 / 30: s.DLQ.Retention / 30} {
		if got := dlqRetention(s, scale); got != want {
			t.Errorf("retention at scale %v = %v, want %v", scale, got, want)
		}
	}
}
