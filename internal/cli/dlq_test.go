package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tap-trading/tap/internal/dlq"
)

// deployed is the part of an env's regional deployment the dlq and send
// commands use, created in moto: the bus with a rule forwarding everything
// to a capture queue, and both dead-letter queues.
type deployed struct {
	processingDLQ, deliveryDLQ, capture string
	sqs                                 *sqs.Client
}

func (f *fixture) deploy(region string) deployed {
	f.t.Helper()
	ctx := context.Background()
	cfg := f.cfg(region)
	q, eb := sqs.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg)
	create := func(name string) string {
		out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			f.t.Fatal(err)
		}
		return *out.QueueUrl
	}
	d := deployed{
		processingDLQ: create(f.names.ProcessingDLQ()), deliveryDLQ: create(f.names.DeliveryDLQ()),
		capture: create(f.names.Env + "-capture"), sqs: q,
	}
	bus := f.names.Bus()
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: &bus}); err != nil {
		f.t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("capture"), EventBusName: &bus, EventPattern: aws.String(`{"source":[{"prefix":""}]}`)}); err != nil {
		f.t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &d.capture, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("capture"), EventBusName: &bus,
		Targets: []ebtypes.Target{{Id: aws.String("capture"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		f.t.Fatal(err)
	}
	return d
}

// captured returns the details of the events the capture queue received.
func (d deployed) captured(t *testing.T) []map[string]any {
	t.Helper()
	recs, err := dlq.Peek(context.Background(), d.sqs, d.capture, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, r := range recs {
		var ev struct {
			Detail map[string]any `json:"detail"`
		}
		if err := json.Unmarshal(r.Event, &ev); err != nil {
			t.Fatalf("captured message is not an event: %v", err)
		}
		out = append(out, ev.Detail)
	}
	return out
}

func eventBody(eventID string) string {
	return fmt.Sprintf(`{"version":"0","id":"x","detail-type":"ExecutionReport","source":"tap.trading","account":"123456789012","time":"2026-01-05T14:30:00Z","region":"us-east-1","resources":[],"detail":{"eventId":%q,"orderId":"o-%s"}}`, eventID, eventID)
}

func str(v string) sqstypes.MessageAttributeValue {
	return sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// fillDLQs puts a rejection and a Lambda failure record in the processing
// DLQ and an EventBridge failure in the delivery DLQ.
func (d deployed) fill(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	send := func(url, body string, attrs map[string]sqstypes.MessageAttributeValue) {
		if _, err := d.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body, MessageAttributes: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	send(d.processingDLQ, eventBody("rej-1"), map[string]sqstypes.MessageAttributeValue{
		dlq.AttrReason: str("INVALID_SIDE"), dlq.AttrMessage: str("side HOLD is not BUY, SELL or SELL_SHORT"),
		dlq.AttrRegion: str(primary), dlq.AttrFailedAt: str("2026-01-05T14:31:00Z"), dlq.AttrEventID: str("rej-1"),
	})
	lf, _ := json.Marshal(dlq.NewLambdaFailure("r1", "arn:aws:lambda:us-east-1:123456789012:function:f", dlq.ConditionRetriesExhausted, 3,
		json.RawMessage(eventBody("lam-1")), errors.New("throttled"), time.Now()))
	send(d.processingDLQ, string(lf), nil)
	send(d.deliveryDLQ, eventBody("del-1"), map[string]sqstypes.MessageAttributeValue{
		dlq.AttrEBErrorCode: str("SDK_CLIENT_ERROR"), dlq.AttrEBErrorMessage: str("Function not found"),
	})
}

func TestDLQListBothQueues(t *testing.T) {
	f := newFixture(t)
	d := f.deploy(primary)
	d.fill(t)

	var l dlqListing
	f.run("", "dlq", "list", "--queue", "processing", "-o", "json").want(t, ExitOK).decode(t, &l)
	if l.Queue != f.names.ProcessingDLQ() || l.Depth.Visible != 2 || len(l.Records) != 2 {
		t.Fatalf("processing listing = queue %s depth %+v records %d, want %s, 2 visible, 2 records", l.Queue, l.Depth, len(l.Records), f.names.ProcessingDLQ())
	}
	reasons := map[string]string{}
	for _, r := range l.Records {
		reasons[r.EventID] = r.Reason
	}
	if reasons["rej-1"] != "INVALID_SIDE" || reasons["lam-1"] != dlq.ConditionRetriesExhausted {
		t.Errorf("reasons = %v, want rej-1 INVALID_SIDE and lam-1 RetriesExhausted", reasons)
	}

	text := f.run("", "dlq", "list", "--queue", "delivery").want(t, ExitOK)
	if !contains(text.stdout, f.names.DeliveryDLQ(), "1 visible", "SDK_CLIENT_ERROR", "del-1", "Function not found", "AGE") {
		t.Errorf("delivery listing:\n%s", text.stdout)
	}
}

func TestDLQRedriveRepublishesAndDeletesAccepted(t *testing.T) {
	f := newFixture(t)
	d := f.deploy(primary)
	d.fill(t)

	var rep redriveReport
	f.run("", "dlq", "redrive", "--queue", "processing", "-o", "json").want(t, ExitOK).decode(t, &rep)
	if rep.Counts["redriven"] != 2 || rep.Bus != f.names.Bus() {
		t.Errorf("redrive = %+v, want 2 redriven to %s", rep.Counts, f.names.Bus())
	}
	got := map[string]bool{}
	for _, det := range d.captured(t) {
		got[fmt.Sprint(det["eventId"])] = true
	}
	if !got["rej-1"] || !got["lam-1"] || len(got) != 2 {
		t.Errorf("republished events %v, want rej-1 and lam-1", got)
	}
	var l dlqListing
	f.run("", "dlq", "list", "--queue", "processing", "-o", "json").want(t, ExitOK).decode(t, &l)
	if len(l.Records) != 0 {
		t.Errorf("processing DLQ after redrive has %d records, want 0", len(l.Records))
	}
	// The delivery DLQ was not touched.
	f.run("", "dlq", "list", "--queue", "delivery", "-o", "json").want(t, ExitOK).decode(t, &l)
	if len(l.Records) != 1 {
		t.Errorf("delivery DLQ has %d records, want 1", len(l.Records))
	}
}

// TestDLQRedriveKeepsWhatPutEventsRefused points EventBridge at a fake that
// refuses one entry: only the other message is deleted, and the exit code
// says the redrive is incomplete.
func TestDLQRedriveKeepsWhatPutEventsRefused(t *testing.T) {
	f := newFixture(t)
	d := f.deploy(primary)
	d.fill(t)
	fake := newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		var in struct{ Entries []struct{ Detail string } }
		_ = json.Unmarshal(r.Body, &in)
		var out []string
		failed := 0
		for _, e := range in.Entries {
			if strings.Contains(e.Detail, "lam-1") {
				out = append(out, `{"ErrorCode":"InternalFailure","ErrorMessage":"try again"}`)
				failed++
			} else {
				out = append(out, `{"EventId":"ok"}`)
			}
		}
		awsJSON(w, 200, fmt.Sprintf(`{"FailedEntryCount":%d,"Entries":[%s]}`, failed, strings.Join(out, ",")))
	})
	f.env.Endpoints[eventbridge.ServiceID] = fake.URL

	r := f.run("", "dlq", "redrive", "--queue", "processing").want(t, ExitFailure)
	if !contains(r.stdout, "redrove 1 of 2 messages") || !contains(r.stderr, "not-accepted", "lam-1", "InternalFailure") {
		t.Errorf("redrive output:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}
	var l dlqListing
	f.run("", "dlq", "list", "--queue", "processing", "-o", "json").want(t, ExitOK).decode(t, &l)
	if len(l.Records) != 1 || l.Records[0].EventID != "lam-1" {
		t.Errorf("left in the DLQ: %+v, want only lam-1", l.Records)
	}
}

func TestDLQErrors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		args []string
		code int
		says []string
	}{
		{[]string{"dlq", "list"}, ExitUsage, []string{"--queue", "processing or delivery"}},
		{[]string{"dlq", "list", "--queue", "other"}, ExitUsage, []string{"--queue \"other\""}},
		{[]string{"dlq", "list", "--queue", "processing"}, ExitFailure, []string{f.names.ProcessingDLQ(), "does not exist", "--env"}},
		{[]string{"dlq", "redrive", "--queue", "delivery", "--local"}, ExitFailure, []string{"no local pipeline is running", "tapctl local"}},
		{[]string{"dlq"}, ExitUsage, []string{"list, redrive"}},
	} {
		r := f.run("", tc.args...)
		if r.code != tc.code || !contains(r.stderr, tc.says...) {
			t.Errorf("tapctl %v: exit %d stderr %q, want exit %d and %q", tc.args, r.code, r.stderr, tc.code, tc.says)
		}
	}
}
