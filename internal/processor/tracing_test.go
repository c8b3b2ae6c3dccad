package processor_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/tracing"
)

// testParent is the id of Lambda's function segment in the trace headers.
const testParent = "53995c3f42cd8ad8"

// xrayDaemon is a loopback UDP listener standing in for the X-Ray daemon
// Lambda runs (AWS_XRAY_DAEMON_ADDRESS).
type xrayDaemon struct{ conn *net.UDPConn }

func startDaemon(t *testing.T) *xrayDaemon {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen UDP: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &xrayDaemon{conn: conn}
}

func (d *xrayDaemon) addr() string { return d.conn.LocalAddr().String() }

// segment is the part of an X-Ray segment document the tests read.
type segment struct {
	Name        string            `json:"name"`
	ID          string            `json:"id"`
	TraceID     string            `json:"trace_id"`
	ParentID    string            `json:"parent_id"`
	Fault       bool              `json:"fault"`
	Error       bool              `json:"error"`
	Annotations map[string]string `json:"annotations"`
	AWS         struct {
		Operation string `json:"operation"`
		TableName string `json:"table_name"`
		QueueURL  string `json:"queue_url"`
	} `json:"aws"`
}

// invocationSegments reads datagrams until the invocation segment (named
// tracing.DefaultInvocationName; children end, and are sent, before it) and
// returns it and the subsegments sent before it.
func (d *xrayDaemon) invocationSegments(t *testing.T) (segment, []segment) {
	t.Helper()
	var children []segment
	buf := make([]byte, 70_000)
	for {
		if err := d.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, _, err := d.conn.ReadFromUDP(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("no invocation segment within 5 s; got %+v", children)
		}
		if err != nil {
			t.Fatalf("read datagram: %v", err)
		}
		header, body, ok := bytes.Cut(buf[:n], []byte("\n"))
		if !ok || string(header) != `{"format": "json", "version": 1}` {
			t.Fatalf("datagram without the X-Ray daemon header: %q", buf[:n])
		}
		var s segment
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatalf("segment %s: %v", body, err)
		}
		if s.Name == tracing.DefaultInvocationName {
			return s, children
		}
		children = append(children, s)
	}
}

// Each invocation is a subsegment of Lambda's function segment, annotated
// with orderId, eventId and outcome, with a subsegment per DynamoDB and SQS
// call under it.
func TestTraces(t *testing.T) {
	f := newFixture(t)
	d := startDaemon(t)
	tr, err := tracing.Setup(tracing.Config{DaemonAddress: d.addr(), OnError: func(err error) { t.Errorf("tracing OnError: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(t.Context()) })
	cfg := awsConfig(t, motoEndpoint)
	tr.Instrument(&cfg)
	h := f.handler(t, f.cfg, processor.Deps{DynamoDB: dynamodb.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg), Tracer: tr})

	broken := awsConfig(t, closedEndpoint(t), fastRetries(1))
	tr.Instrument(&broken)
	failing := f.handler(t, f.cfg, processor.Deps{DynamoDB: dynamodb.NewFromConfig(broken), SQS: sqs.NewFromConfig(cfg), Tracer: tr})

	e := lifecycle(t, 31, 1).Events[0]
	bad := e
	bad.EventID = "9d7c2f3e-4b1a-4c8d-9e0f-1a2b3c4d5e6f"
	bad.Side = "HOLD"
	c := withEventID(e, highestID) // loses to e
	type call struct{ name, operation string }
	tests := []struct {
		name      string
		h         *processor.Handler
		r         event.ExecutionReport
		wantErr   bool
		want      string // outcome annotation
		wantCalls []call
	}{
		// Not sampled by Lambda: nothing is sent, so the next segment read
		// belongs to the next invocation.
		{name: "unsampled", h: h, r: gen.Lifecycles(33, 1, gen.Options{})[0].Events[0]},
		{name: "applied", h: h, r: e, want: string(processor.Applied),
			wantCalls: []call{{"DynamoDB", "PutItem"}, {"DynamoDB", "UpdateItem"}}},
		{name: "rejected", h: h, r: bad, want: string(processor.Rejected),
			wantCalls: []call{{"SQS", "SendMessage"}}},
		// The conflict's repair re-asserts the highest execution (DESIGN §3).
		{name: "conflict", h: h, r: c, want: string(processor.Conflict),
			wantCalls: []call{{"DynamoDB", "PutItem"}, {"DynamoDB", "Query"}, {"DynamoDB", "UpdateItem"}, {"SQS", "SendMessage"}}},
		{name: "transient failure", h: failing, r: gen.Lifecycles(32, 1, gen.Options{})[0].Events[0], wantErr: true, want: "error",
			wantCalls: []call{{"DynamoDB", "PutItem"}}},
	}
	for i, tc := range tests {
		root := fmt.Sprintf("1-67a0c0de-%024x", i+1)
		sampled := 1
		if tc.name == "unsampled" {
			sampled = 0
		}
		header := fmt.Sprintf("Root=%s;Parent=%s;Sampled=%d", root, testParent, sampled)
		_, err := tc.h.Process(invocation(t.Context(), "req-"+tc.name, header), reportEvent(tc.r))
		if (err != nil) != tc.wantErr {
			t.Fatalf("%s: Process error = %v, want error %v", tc.name, err, tc.wantErr)
		}
		if sampled == 0 {
			continue
		}
		inv, children := d.invocationSegments(t)
		if inv.TraceID != root || inv.ParentID != testParent {
			t.Errorf("%s: invocation segment trace %s parent %s, want %s and Lambda's segment %s", tc.name, inv.TraceID, inv.ParentID, root, testParent)
		}
		wantAnn := map[string]string{"orderId": tc.r.OrderID, "eventId": tc.r.EventID, "outcome": tc.want}
		if !reflect.DeepEqual(inv.Annotations, wantAnn) {
			t.Errorf("%s: annotations = %v, want %v", tc.name, inv.Annotations, wantAnn)
		}
		if inv.Fault != tc.wantErr {
			t.Errorf("%s: invocation fault = %v, want %v", tc.name, inv.Fault, tc.wantErr)
		}
		var calls []call
		for _, s := range children {
			calls = append(calls, call{s.Name, s.AWS.Operation})
			if s.TraceID != root || s.ParentID != inv.ID {
				t.Errorf("%s: %s %s segment trace %s parent %s, want %s and the invocation %s", tc.name, s.Name, s.AWS.Operation, s.TraceID, s.ParentID, root, inv.ID)
			}
			switch s.Name {
			case "DynamoDB":
				if s.AWS.TableName != f.cfg.TableName {
					t.Errorf("%s: %s table_name = %q, want %q", tc.name, s.AWS.Operation, s.AWS.TableName, f.cfg.TableName)
				}
			case "SQS":
				if s.AWS.QueueURL != f.cfg.ProcessingDLQURL {
					t.Errorf("%s: %s queue_url = %q, want %q", tc.name, s.AWS.Operation, s.AWS.QueueURL, f.cfg.ProcessingDLQURL)
				}
			}
		}
		if !reflect.DeepEqual(calls, tc.wantCalls) {
			t.Errorf("%s: AWS call subsegments = %v, want %v", tc.name, calls, tc.wantCalls)
		}
	}
}
