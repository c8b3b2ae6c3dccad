package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/producer"
)

var motoEndpoint string

func TestMain(m *testing.M) { os.Exit(motoserver.RunTests(m, "dlq", &motoEndpoint)) }

func clients(t *testing.T) (*sqs.Client, *eventbridge.Client) {
	t.Helper()
	cfg, err := awslocal.Config(context.Background(), motoEndpoint, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	return sqs.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg)
}

// newQueue creates a queue named after the test.
func newQueue(t *testing.T, q *sqs.Client, suffix string) string {
	t.Helper()
	name := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()) + suffix
	out, err := q.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: &name})
	if err != nil {
		t.Fatal(err)
	}
	return *out.QueueUrl
}

func eventJSON(eventID, orderID string) string {
	return fmt.Sprintf(`{"version":"0","id":"e-%s","detail-type":"ExecutionReport","source":"tap.trading","account":"123456789012","time":"2026-01-05T14:30:00Z","region":"us-east-1","resources":[],"detail":{"eventId":%q,"orderId":%q,"seq":1}}`, eventID, eventID, orderID)
}

func strAttr(v string) sqstypes.MessageAttributeValue {
	return sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// sendRecords puts one message of each format into the queue and returns
// the eventIds by format.
func sendRecords(t *testing.T, q *sqs.Client, url string) {
	t.Helper()
	ctx := context.Background()
	send := func(body string, attrs map[string]sqstypes.MessageAttributeValue) {
		t.Helper()
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body, MessageAttributes: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	send(eventJSON("p-1", "ord-p"), map[string]sqstypes.MessageAttributeValue{
		AttrReason: strAttr("NEGATIVE_QTY"), AttrMessage: strAttr("orderQty is negative"),
		AttrRegion: strAttr("us-east-1"), AttrFailedAt: strAttr("2026-01-05T14:31:00Z"),
		AttrEventID: strAttr("p-1"), AttrOrderID: strAttr("ord-p"),
	})
	lf := NewLambdaFailure("req-1", "arn:aws:lambda:us-west-2:123456789012:function:tap-dev-processor", ConditionRetriesExhausted, 3,
		json.RawMessage(eventJSON("l-1", "ord-l")), errors.New("store: put execution: throttled"), time.Date(2026, 1, 5, 14, 32, 0, 0, time.UTC))
	body, err := json.Marshal(lf)
	if err != nil {
		t.Fatal(err)
	}
	send(string(body), nil)
	send(eventJSON("d-1", "ord-d"), map[string]sqstypes.MessageAttributeValue{
		AttrEBErrorCode: strAttr("SDK_CLIENT_ERROR"), AttrEBErrorMessage: strAttr("Function not found"),
		AttrEBRuleARN: strAttr("arn:aws:events:us-east-1:123456789012:rule/tap-dev-trading/tap-dev-processor"),
	})
	send("not json at all", map[string]sqstypes.MessageAttributeValue{
		AttrReason: strAttr("MALFORMED_JSON"), AttrMessage: strAttr("invalid character"),
	})
}

func TestPeekParsesEveryFormatAndLeavesMessages(t *testing.T) {
	q, _ := clients(t)
	url := newQueue(t, q, "")
	sendRecords(t, q, url)
	ctx := context.Background()

	recs, err := Peek(ctx, q, url, 0)
	if err != nil {
		t.Fatal(err)
	}
	byEvent := map[string]Record{}
	for _, r := range recs {
		byEvent[r.EventID] = r
	}
	for _, tc := range []struct {
		eventID, orderID string
		format           Format
		reason, message  string
		region           string
	}{
		{"p-1", "ord-p", FormatProcessor, "NEGATIVE_QTY", "orderQty is negative", "us-east-1"},
		{"l-1", "ord-l", FormatLambda, ConditionRetriesExhausted, "store: put execution: throttled", "us-west-2"},
		{"d-1", "ord-d", FormatDelivery, "SDK_CLIENT_ERROR", "Function not found", "us-east-1"},
		{"", "", FormatProcessor, "MALFORMED_JSON", "invalid character", ""},
	} {
		r, ok := byEvent[tc.eventID]
		if !ok {
			t.Errorf("no record with eventId %q in %d records", tc.eventID, len(recs))
			continue
		}
		if r.Format != tc.format || r.Reason != tc.reason || r.Message != tc.message || r.OrderID != tc.orderID || r.Region != tc.region {
			t.Errorf("record %q = format %s reason %s message %q order %q region %q, want %s %s %q %q %q",
				tc.eventID, r.Format, r.Reason, r.Message, r.OrderID, r.Region, tc.format, tc.reason, tc.message, tc.orderID, tc.region)
		}
		if r.SentAt.IsZero() || r.ReceiveCount != 1 {
			t.Errorf("record %q: sentAt %v receiveCount %d, want a time and 1", tc.eventID, r.SentAt, r.ReceiveCount)
		}
	}
	// Peeking consumed nothing: a second peek sees them all again.
	again, err := Peek(ctx, q, url, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 4 {
		t.Errorf("second Peek got %d records, want 4 (peek must not consume)", len(again))
	}
}

// TestRedriveRepublishesAndDeletesOnlyAccepted redrives the queue to a bus
// whose rule forwards to a capture queue: the three records holding an event
// arrive there with their original detail, the malformed one stays.
func TestRedriveRepublishesAndDeletesOnlyAccepted(t *testing.T) {
	q, eb := clients(t)
	ctx := context.Background()
	url := newQueue(t, q, "")
	capture := newQueue(t, q, "-capture")
	sendRecords(t, q, url)

	bus := strings.ReplaceAll(t.Name(), "/", "-")
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: &bus}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("all"), EventBusName: &bus, EventPattern: aws.String(`{"source":["tap.trading"]}`)}); err != nil {
		t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &capture, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("all"), EventBusName: &bus, Targets: []ebtypes.Target{{Id: aws.String("capture"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatal(err)
	}

	outs, err := Redrive(ctx, q, url, producer.New(eb, producer.Options{}), RedriveOptions{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]Status{}
	for _, o := range outs {
		status[o.Record.Reason] = o.Status
	}
	want := map[string]Status{"NEGATIVE_QTY": Redriven, ConditionRetriesExhausted: Redriven, "SDK_CLIENT_ERROR": Redriven, "MALFORMED_JSON": Unredrivable}
	if fmt.Sprint(status) != fmt.Sprint(want) {
		t.Errorf("redrive statuses = %v, want %v", status, want)
	}

	left, err := Peek(ctx, q, url, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Reason != "MALFORMED_JSON" {
		t.Errorf("left in queue: %+v, want only the MALFORMED_JSON record", left)
	}
	got, err := Peek(ctx, q, capture, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.EventID)
	}
	if len(ids) != 3 || !strings.Contains(fmt.Sprint(ids), "p-1") || !strings.Contains(fmt.Sprint(ids), "l-1") || !strings.Contains(fmt.Sprint(ids), "d-1") {
		t.Errorf("republished eventIds = %v, want p-1, l-1 and d-1", ids)
	}
}

// rejectingPublisher accepts only events whose detail contains accept.
type rejectingPublisher struct{ accept string }

func (p rejectingPublisher) Publish(_ context.Context, es []ebtypes.PutEventsRequestEntry, observe func(producer.EntryResult)) (producer.Summary, error) {
	var s producer.Summary
	for i, e := range es {
		r := producer.EntryResult{Index: i, Attempts: 1}
		if strings.Contains(aws.ToString(e.Detail), p.accept) {
			r.EventID = "ok"
			s.Accepted++
		} else {
			r.ErrorCode, r.ErrorMessage = "InternalFailure", "try later"
			s.Failed = append(s.Failed, r)
		}
		observe(r)
	}
	return s, nil
}

func TestRedriveKeepsMessagesNotAccepted(t *testing.T) {
	q, _ := clients(t)
	ctx := context.Background()
	url := newQueue(t, q, "")
	sendRecords(t, q, url)

	outs, err := Redrive(ctx, q, url, rejectingPublisher{accept: `"l-1"`}, RedriveOptions{Bus: "bus"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		want := NotAccepted
		switch o.Record.EventID {
		case "l-1":
			want = Redriven
		case "":
			want = Unredrivable
		}
		if o.Status != want {
			t.Errorf("%s (%s): status %s, want %s", o.Record.EventID, o.Record.Reason, o.Status, want)
		}
	}
	left, err := Peek(ctx, q, url, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 3 {
		t.Errorf("left %d messages, want 3 (all but the accepted one)", len(left))
	}
}

func TestRedriveFiltersByReasonAndDryRun(t *testing.T) {
	q, _ := clients(t)
	ctx := context.Background()
	url := newQueue(t, q, "")
	sendRecords(t, q, url)
	outs, err := Redrive(ctx, q, url, rejectingPublisher{}, RedriveOptions{Bus: "bus", Reason: "NEGATIVE_QTY", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[Status]int{}
	for _, o := range outs {
		counts[o.Status]++
	}
	if counts[WouldRedrive] != 1 || counts[Filtered] != 3 {
		t.Errorf("statuses = %v, want 1 would-redrive and 3 filtered", counts)
	}
	if left, _ := Peek(ctx, q, url, 0); len(left) != 4 {
		t.Errorf("dry run left %d messages, want 4", len(left))
	}
}

func TestEntryForRejectsNonEvents(t *testing.T) {
	for _, body := range []string{"", "[1]", `{"source":"tap.trading"}`, `{"source":"a","detail-type":"b","detail":"x"}`} {
		if _, err := EntryFor(json.RawMessage(body), "bus"); err == nil {
			t.Errorf("EntryFor(%q) succeeded, want an error", body)
		}
	}
	e, err := EntryFor(json.RawMessage(eventJSON("x", "o")), "bus")
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(e.Detail); got != `{"eventId":"x","orderId":"o","seq":1}` || e.Time == nil || aws.ToString(e.EventBusName) != "bus" {
		t.Errorf("EntryFor = detail %s time %v bus %s, want the original detail, time and bus", got, e.Time, aws.ToString(e.EventBusName))
	}
}

func TestNewLambdaFailureShape(t *testing.T) {
	lf := NewLambdaFailure("r", "arn:aws:lambda:us-east-1:1:function:f", ConditionEventAgeExceeded, 2, json.RawMessage(`{"a":1}`), errors.New("boom"), time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC))
	b, err := json.Marshal(lf)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":"1.0","timestamp":"2026-01-02T03:04:05.006Z","requestContext":{"requestId":"r","functionArn":"arn:aws:lambda:us-east-1:1:function:f:$LATEST","condition":"EventAgeExceeded","approximateInvokeCount":2},"requestPayload":{"a":1},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"responsePayload":{"errorMessage":"boom","errorType":"errorString"}}`
	if string(b) != want {
		t.Errorf("record =\n%s\nwant\n%s", b, want)
	}
}

// requeueingPublisher accepts every event and, like a processor rejecting
// it again, sends it straight back to the queue.
type requeueingPublisher struct {
	q   *sqs.Client
	url string
}

func (p requeueingPublisher) Publish(ctx context.Context, es []ebtypes.PutEventsRequestEntry, observe func(producer.EntryResult)) (producer.Summary, error) {
	for i, e := range es {
		body := fmt.Sprintf(`{"source":"tap.trading","detail-type":"ExecutionReport","detail":%s}`, aws.ToString(e.Detail))
		if _, err := p.q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &p.url, MessageBody: &body,
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{AttrReason: strAttr("AGAIN")}}); err != nil {
			return producer.Summary{}, err
		}
		observe(producer.EntryResult{Index: i, EventID: "ok", Attempts: 1})
	}
	return producer.Summary{Accepted: len(es)}, nil
}

// TestRedriveEndsWhenEventsComeBack redrives events that fail again at
// once: the redrive handles only what was there when it started, and ends.
func TestRedriveEndsWhenEventsComeBack(t *testing.T) {
	q, _ := clients(t)
	ctx := context.Background()
	url := newQueue(t, q, "")
	sendRecords(t, q, url)
	time.Sleep(10 * time.Millisecond) // SentTimestamp has millisecond resolution

	outs, err := Redrive(ctx, q, url, requeueingPublisher{q: q, url: url}, RedriveOptions{Bus: "bus"})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 4 {
		t.Errorf("redrive examined %d messages, want the 4 there when it started", len(outs))
	}
	left, err := Peek(ctx, q, url, 0)
	if err != nil {
		t.Fatal(err)
	}
	again := 0
	for _, r := range left {
		if r.Reason == "AGAIN" {
			again++
		}
	}
	if again != 3 || len(left) != 4 {
		t.Errorf("queue after redrive: %d records, %d back again; want 4 with 3 back (the unredrivable one stays)", len(left), again)
	}
}
