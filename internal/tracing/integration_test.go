package tracing

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/motoserver"
)

const (
	testRegion = "eu-west-1"
	testTable  = "tap-test-orders"
)

// startMoto runs a moto server for the test; it fails (never skips) when
// moto is missing, so a machine without it cannot pass silently.
func startMoto(t *testing.T) string {
	t.Helper()
	srv, err := motoserver.Start(context.Background(), "")
	if err != nil {
		t.Fatalf("start moto: %v", err)
	}
	t.Cleanup(srv.Stop)
	return srv.Endpoint
}

// TestSegmentsFromRealSDKCalls runs an invocation that makes real DynamoDB
// and SQS calls against moto through instrumented clients, with a loopback
// UDP listener as the X-Ray daemon, and checks every datagram it receives.
func TestSegmentsFromRealSDKCalls(t *testing.T) {
	ctx := context.Background()
	endpoint := startMoto(t)
	d := startDaemon(t)
	tr := mustSetup(t, Config{DaemonAddress: d.addr(), OnError: func(err error) { t.Errorf("OnError(%v)", err) }})

	cfg, err := awslocal.Config(ctx, endpoint, testRegion)
	if err != nil {
		t.Fatal(err)
	}
	tr.Instrument(&cfg)
	ddb := dynamodb.NewFromConfig(cfg)
	sq := sqs.NewFromConfig(cfg)

	// Set-up calls run outside any invocation: they must produce no segment.
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(testTable),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("PK"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("PK"), KeyType: ddbtypes.KeyTypeHash}},
	}); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("tap-test-processing-dlq")})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}

	// Invocations Lambda did not sample, or without a header: no segment either.
	for _, header := range []string{"", "Root=1-5759e988-00000000000000000000000a;Parent=" + testParent + ";Sampled=0", "garbage"} {
		ictx, end := tr.StartInvocation(ctx, header)
		Annotate(ictx, "O-unsampled", "E-unsampled", "applied")
		if _, err := ddb.ListTables(ictx, &dynamodb.ListTablesInput{}); err != nil {
			t.Fatalf("ListTables: %v", err)
		}
		end()
	}

	// The sampled invocation: two puts (the second fails its condition) and a send.
	header := "Root=" + testRoot + ";Parent=" + testParent + ";Sampled=1;Lineage=a87bd80c:0"
	ictx, end := tr.StartInvocation(ctx, header)
	Annotate(ictx, "O-1", "E-1", "")
	put := &dynamodb.PutItemInput{
		TableName:           aws.String(testTable),
		Item:                map[string]ddbtypes.AttributeValue{"PK": &ddbtypes.AttributeValueMemberS{Value: "ORDER#O-1"}},
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	}
	if _, err := ddb.PutItem(ictx, put); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	_, err = ddb.PutItem(ictx, put)
	var ccf *ddbtypes.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("second PutItem error = %v, want ConditionalCheckFailedException", err)
	}
	if _, err := sq.SendMessage(ictx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("{}")}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	Annotate(ictx, "", "", "duplicate")
	end()
	if err := tr.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	// Children end first, so the invocation's own segment comes last. UDP on
	// loopback keeps order, so a segment from the unsampled invocations would
	// show up before these.
	var segs []map[string]any
	for range 4 {
		dg := d.next(t)
		if dg.header != `{"format": "json", "version": 1}` {
			t.Errorf("header = %q, want the X-Ray daemon header", dg.header)
		}
		if dg.size > MaxDatagram {
			t.Errorf("datagram of %d bytes, want at most %d", dg.size, MaxDatagram)
		}
		segs = append(segs, dg.segment)
		if testing.Verbose() {
			t.Logf("datagram %d (%d bytes): %s", len(segs), dg.size, dg.raw)
		}
	}
	inv := segs[3]
	invID := str(t, inv, "id")
	for i, s := range segs {
		if got := str(t, s, "trace_id"); got != testRoot {
			t.Errorf("segment %d trace_id = %q, want the incoming Root %q", i, got, testRoot)
		}
		if got := str(t, s, "type"); got != "subsegment" {
			t.Errorf("segment %d type = %q, want subsegment", i, got)
		}
		if !segmentIDPattern.MatchString(str(t, s, "id")) {
			t.Errorf("segment %d id = %q, want 16 hex digits", i, s["id"])
		}
		start, _ := s["start_time"].(float64)
		endT, _ := s["end_time"].(float64)
		if start < 1.7e9 || endT < start {
			t.Errorf("segment %d start/end = %v/%v, want epoch seconds with end >= start", i, s["start_time"], s["end_time"])
		}
		wantParent := invID
		if i == 3 {
			wantParent = testParent // Lambda's function segment
		}
		if got := str(t, s, "parent_id"); got != wantParent {
			t.Errorf("segment %d (%s) parent_id = %q, want %q", i, s["name"], got, wantParent)
		}
	}

	if got := str(t, inv, "name"); got != DefaultInvocationName {
		t.Errorf("invocation segment name = %q, want %q", got, DefaultInvocationName)
	}
	ann := obj(inv, "annotations")
	for k, want := range map[string]string{"orderId": "O-1", "eventId": "E-1", "outcome": "duplicate"} {
		if got := str(t, ann, k); got != want {
			t.Errorf("annotation %s = %q, want %q", k, got, want)
		}
	}
	if inv["fault"] != nil || inv["error"] != nil {
		t.Errorf("invocation fault/error = %v/%v, want neither", inv["fault"], inv["error"])
	}

	tests := []struct {
		name, operation, resourceKey, resource string
		status                                 float64
		wantError                              bool
	}{
		{"DynamoDB", "PutItem", "table_name", testTable, 200, false},
		{"DynamoDB", "PutItem", "table_name", testTable, 400, true},
		{"SQS", "SendMessage", "queue_url", *q.QueueUrl, 200, false},
	}
	for i, tt := range tests {
		s := segs[i]
		a := obj(s, "aws")
		if str(t, s, "name") != tt.name || str(t, s, "namespace") != "aws" || str(t, a, "operation") != tt.operation {
			t.Errorf("segment %d = %s (namespace %v) operation %v, want %s (aws) %s", i, s["name"], s["namespace"], a["operation"], tt.name, tt.operation)
		}
		if got := str(t, a, tt.resourceKey); got != tt.resource {
			t.Errorf("segment %d aws.%s = %q, want %q", i, tt.resourceKey, got, tt.resource)
		}
		if got := str(t, a, "region"); got != testRegion {
			t.Errorf("segment %d aws.region = %q, want %q", i, got, testRegion)
		}
		if str(t, a, "request_id") == "" {
			t.Errorf("segment %d has no aws.request_id: %v", i, a)
		}
		if got := obj(obj(s, "http"), "response")["status"]; got != tt.status {
			t.Errorf("segment %d http.response.status = %v, want %v", i, got, tt.status)
		}
		if (s["error"] == true) != tt.wantError || s["fault"] != nil {
			t.Errorf("segment %d error/fault = %v/%v, want error %v and no fault", i, s["error"], s["fault"], tt.wantError)
		}
		if len(obj(s, "annotations")) != 0 {
			t.Errorf("segment %d carries annotations %v; they belong on the invocation", i, s["annotations"])
		}
	}
	if ex := obj(segs[1], "cause"); ex == nil {
		t.Errorf("failed PutItem has no cause")
	} else if exs, _ := ex["exceptions"].([]any); len(exs) != 1 || exs[0].(map[string]any)["type"] != "ConditionalCheckFailedException" {
		t.Errorf("failed PutItem cause = %v, want one ConditionalCheckFailedException", ex)
	}
}

// TestFailedInvocationIsAFault checks RecordFailure marks the invocation
// segment as a fault with the error as its cause.
func TestFailedInvocationIsAFault(t *testing.T) {
	d := startDaemon(t)
	tr := mustSetup(t, Config{DaemonAddress: d.addr()})
	ctx, end := tr.StartInvocation(context.Background(), "Root="+testRoot+";Parent="+testParent+";Sampled=1")
	RecordFailure(ctx, errors.New("dynamodb: throttled after 3 attempts"))
	end()
	s := d.next(t).segment
	if s["fault"] != true {
		t.Errorf("fault = %v, want true", s["fault"])
	}
	exs, _ := obj(s, "cause")["exceptions"].([]any)
	if len(exs) != 1 || exs[0].(map[string]any)["message"] != "dynamodb: throttled after 3 attempts" {
		t.Errorf("cause exceptions = %v, want the error message", exs)
	}
}
