package processor_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/faultproxy"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/logging"
	"github.com/tap-trading/tap/internal/metrics"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
)

// testNow is the processing clock of tests that assert times: after every
// generated transactTime (January 2026), so no event is "in the future".
var testNow = time.Date(2026, time.March, 2, 9, 30, 0, 123456789, time.UTC)

func fixedClock() time.Time { return testNow }

func TestNewRequiresItsDependencies(t *testing.T) {
	f := newFixture(t)
	full := processor.Deps{DynamoDB: f.ddb, SQS: f.sqs, Stdout: &syncBuffer{}}
	tests := []struct {
		name   string
		change func(*processor.Config, *processor.Deps)
		want   string
	}{
		{"no DynamoDB", func(_ *processor.Config, d *processor.Deps) { d.DynamoDB = nil }, "Deps.DynamoDB"},
		{"no SQS", func(_ *processor.Config, d *processor.Deps) { d.SQS = nil }, "Deps.SQS"},
		{"no stdout", func(_ *processor.Config, d *processor.Deps) { d.Stdout = nil }, "Deps.Stdout"},
		{"reserved namespace", func(c *processor.Config, _ *processor.Deps) { c.MetricsNamespace = "AWS/Lambda" }, processor.EnvMetricsNamespace},
		{"namespace too long", func(c *processor.Config, _ *processor.Deps) { c.MetricsNamespace = strings.Repeat("N", 256) }, processor.EnvMetricsNamespace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, deps := f.cfg, full
			tc.change(&cfg, &deps)
			h, err := processor.New(cfg, deps)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, %v; want an error naming %s", h, err, tc.want)
			}
		})
	}
	if _, err := processor.New(f.cfg, full); err != nil {
		t.Errorf("New(complete) error = %v", err)
	}
}

// One order's events delivered out of order and twice: each delivery gets
// the outcome its place dictates, and the table ends with one execution per
// seq and the state of the highest seq.
func TestProcessClassifiesAndAppliesOnce(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, f.cfg, processor.Deps{Now: fixedClock})
	e := lifecycle(t, 11, 3).Events[:3]
	steps := []struct {
		name      string
		r         event.ExecutionReport
		want      processor.Outcome
		wantState event.ExecutionReport // the state after the step
		wantExecs []event.ExecutionReport
	}{
		{"seq 2 first", e[1], processor.Applied, e[1], []event.ExecutionReport{e[1]}},
		{"seq 2 again", e[1], processor.Duplicate, e[1], []event.ExecutionReport{e[1]}},
		{"seq 1 after seq 2", e[0], processor.Stale, e[1], []event.ExecutionReport{e[0], e[1]}},
		{"seq 1 again", e[0], processor.Duplicate, e[1], []event.ExecutionReport{e[0], e[1]}},
		{"seq 3", e[2], processor.Applied, e[2], e},
		{"seq 2 a third time", e[1], processor.Duplicate, e[2], e},
	}
	for _, s := range steps {
		got, err := h.Process(t.Context(), reportEvent(s.r))
		if err != nil {
			t.Fatalf("%s: Process error = %v", s.name, err)
		}
		if got != s.want {
			t.Errorf("%s: Process = %q, want %q", s.name, got, s.want)
		}
		f.checkOrder(t, s.wantExecs, s.wantState)
	}
	execs, err := f.store.Executions(t.Context(), e[0].OrderID)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range execs {
		if !x.ReceivedAt.Equal(testNow.Truncate(time.Millisecond)) && !x.ReceivedAt.Equal(testNow) {
			t.Errorf("execution seq %d receivedAt = %v, want the processing time %v", x.Seq, x.ReceivedAt, testNow)
		}
	}
	f.checkDLQEmpty(t)
}

func TestProcessRecordsHeartbeats(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, f.cfg, processor.Deps{Now: fixedClock})
	newer := event.Heartbeat{Region: "us-west-2", SentAt: testNow.Add(-2 * time.Second)}
	older := event.Heartbeat{Region: "us-west-2", SentAt: testNow.Add(-time.Minute)}
	for _, hb := range []event.Heartbeat{newer, older, newer} {
		got, err := h.Process(t.Context(), heartbeatEvent(hb))
		if err != nil || got != processor.Heartbeat {
			t.Fatalf("Process(heartbeat sent %v) = %q, %v; want %q, nil", hb.SentAt, got, err, processor.Heartbeat)
		}
	}
	got, err := f.store.GetHeartbeat(t.Context(), "us-west-2")
	if err != nil {
		t.Fatalf("GetHeartbeat: %v", err)
	}
	if !got.SentAt.Equal(newer.SentAt) || got.ProcessedRegion != testRegion || !got.ProcessedAt.Equal(testNow) {
		t.Errorf("heartbeat item = %+v, want sentAt %v (the newest), processed in %s at %v", got, newer.SentAt, testRegion, testNow)
	}
	if _, err := f.store.GetHeartbeat(t.Context(), testRegion); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetHeartbeat(%s) error = %v, want ErrNotFound: the item is keyed by the region the heartbeat was sent to", testRegion, err)
	}
	f.checkDLQEmpty(t)
}

// Invalid events are dead-lettered over the wire with what an operator needs
// (the event itself, its reason, a message, where and when it failed, its
// IDs) and the invocation succeeds.
func TestProcessDeadLettersInvalidEvents(t *testing.T) {
	valid := lifecycle(t, 12, 1).Events[0]
	negative := valid
	negative.EventID = "0b0e9f9c-61a4-4d3a-9b0f-2f4d6d1c1e01"
	negative.OrderQty = event.MustDecimal("-" + valid.OrderQty.String())
	// Invalid UTF-8 in orderId: encoding/json reads it as U+FFFD, which
	// the ID rule refuses; SQS cannot carry the raw byte in a body.
	badBytes := bytes.Replace(reportEvent(valid), []byte(`"orderId":"`+valid.OrderID), []byte(`"orderId":"`+valid.OrderID+"\xff"), 1)
	// A control character, escaped in the JSON, in the orderId SQS gets as
	// an attribute: SQS refuses it in attribute values as in bodies.
	ctrl := bytes.Replace(reportEvent(valid), []byte(`"orderId":"`+valid.OrderID), []byte(`"orderId":"`+valid.OrderID+`\u0001`), 1)
	// A noncharacter (U+FFFF) in the event: valid UTF-8, refused by SQS.
	nonchar := bytes.Replace(reportEvent(negative), []byte(`"version":"0"`), []byte("\"version\":\"0\",\"note\":\"\uffff\""), 1)
	// An orderId over the attributes' 256-byte cap, cut inside a rune.
	long := valid
	long.OrderID = "a" + strings.Repeat("é", 200)
	huge := []byte(`{"source":"tap.trading","detail-type":"ExecutionReport","pad":"` + strings.Repeat("x", event.MaxEventBytes) + `"}`)

	tests := []struct {
		name        string
		raw         []byte
		wantReason  event.Reason
		wantMessage string // a substring
		wantEventID string // "" means the attribute must be absent
		wantOrderID string
		idPartial   bool   // the ID attributes only contain wantEventID, wantOrderID
		wantBody    string // default: the raw event
		truncated   bool   // the body is a prefix of the raw event, cut to fit SQS
	}{
		{name: "negative qty", raw: reportEvent(negative), wantReason: event.ReasonNegativeQty, wantMessage: "orderQty",
			wantEventID: negative.EventID, wantOrderID: negative.OrderID},
		{name: "malformed JSON", raw: []byte(`{"source":"tap.trading","detail-type":"ExecutionReport","detail":{"eventId":`),
			wantReason: event.ReasonMalformedJSON, wantMessage: "JSON"},
		{name: "unknown detail-type", raw: envelope("OrderCancelRequest", event.EncodeDetail(&valid)),
			wantReason: event.ReasonUnknownDetailType, wantMessage: "OrderCancelRequest",
			wantEventID: valid.EventID, wantOrderID: valid.OrderID},
		{name: "not an object", raw: []byte(`["tap.trading"]`), wantReason: event.ReasonInvalidEnvelope},
		{name: "invalid UTF-8", raw: badBytes, wantReason: event.ReasonInvalidID, wantMessage: "orderId",
			wantEventID: valid.EventID, wantOrderID: valid.OrderID + "\uFFFD", wantBody: strconv.Quote(string(badBytes))},
		{name: "control character in orderId", raw: ctrl, wantReason: event.ReasonInvalidID, wantMessage: "orderId",
			wantEventID: valid.EventID, wantOrderID: valid.OrderID, idPartial: true},
		{name: "noncharacter in the event", raw: nonchar, wantReason: event.ReasonNegativeQty, wantMessage: "orderQty",
			wantEventID: negative.EventID, wantOrderID: negative.OrderID, wantBody: strconv.Quote(string(nonchar))},
		{name: "orderId over 256 bytes", raw: reportEvent(long), wantReason: event.ReasonInvalidID, wantMessage: "orderId",
			wantEventID: valid.EventID, wantOrderID: "a" + strings.Repeat("é", 127), idPartial: true},
		{name: "too large", raw: huge, wantReason: event.ReasonTooLarge, wantMessage: "bytes", truncated: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			out := &syncBuffer{}
			h := f.handler(t, f.cfg, processor.Deps{Now: fixedClock, Stdout: out})
			got, err := h.Process(t.Context(), tc.raw)
			if err != nil || got != processor.Rejected {
				t.Fatalf("Process = %q, %v; want %q, nil", got, err, processor.Rejected)
			}
			msgs := f.dlqMessages(t)
			if len(msgs) != 1 {
				t.Fatalf("processing DLQ holds %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			wantBody := tc.wantBody
			if wantBody == "" {
				wantBody = string(tc.raw)
			}
			switch body := aws.ToString(m.Body); {
			case tc.truncated:
				if !strings.HasPrefix(wantBody, body) || len(body) < len(wantBody)/2 {
					t.Errorf("DLQ body of %d bytes is not the head of the %d-byte event", len(body), len(wantBody))
				}
				if got, want := attrs(m)[processor.AttrTruncated], strconv.Itoa(len(tc.raw)); got != want {
					t.Errorf("attribute %s = %q, want the original size %s", processor.AttrTruncated, got, want)
				}
			case body != wantBody:
				t.Errorf("DLQ body = %q, want %q", body, wantBody)
			}
			if tc.wantBody != "" {
				if unq, err := strconv.Unquote(aws.ToString(m.Body)); err != nil || unq != string(tc.raw) {
					t.Errorf("quoted DLQ body does not give the event back: %q, %v", unq, err)
				}
			}
			checkDeadLetter(t, m, deadLetter{
				reason: string(tc.wantReason), message: tc.wantMessage,
				eventID: tc.wantEventID, orderID: tc.wantOrderID, idPartial: tc.idPartial,
			})
			if r := dlq.Parse(m); json.Valid(tc.raw) && tc.wantBody == "" && !tc.truncated && !bytes.Equal(r.Event, tc.raw) {
				t.Errorf("dlq.Parse(m).Event = %s, want the original event", r.Event)
			}
			if tc.wantOrderID != "" && !tc.idPartial {
				f.checkNoOrder(t, tc.wantOrderID)
			}
			f.checkNoOrder(t, valid.OrderID)
			if !strings.Contains(out.String(), `"reason":"`+string(tc.wantReason)+`"`) {
				t.Errorf("no log line carries reason %s:\n%s", tc.wantReason, out.String())
			}
		})
	}
}

// deadLetter is what a processor dead-letter message must say.
type deadLetter struct {
	reason, message  string // message is a substring
	eventID, orderID string // "" means absent
	// idPartial: the ID attributes only contain eventID and orderID (an
	// ID that had to be cut or made safe for SQS).
	idPartial bool
}

// checkDeadLetter asserts m's attributes, and that dlq.Parse reads them the
// same way.
func checkDeadLetter(t *testing.T, m sqstypes.Message, want deadLetter) {
	t.Helper()
	a := attrs(m)
	for name, v := range m.MessageAttributes {
		if aws.ToString(v.DataType) != "String" {
			t.Errorf("attribute %s has data type %q, want String", name, aws.ToString(v.DataType))
		}
	}
	if a[dlq.AttrReason] != want.reason {
		t.Errorf("attribute %s = %q, want %q", dlq.AttrReason, a[dlq.AttrReason], want.reason)
	}
	if a[dlq.AttrMessage] == "" || !strings.Contains(a[dlq.AttrMessage], want.message) {
		t.Errorf("attribute %s = %q, want a message mentioning %q", dlq.AttrMessage, a[dlq.AttrMessage], want.message)
	}
	if a[dlq.AttrRegion] != testRegion {
		t.Errorf("attribute %s = %q, want %q", dlq.AttrRegion, a[dlq.AttrRegion], testRegion)
	}
	failedAt, err := time.Parse(time.RFC3339, a[dlq.AttrFailedAt])
	if err != nil || !failedAt.Equal(testNow) {
		t.Errorf("attribute %s = %q (%v), want RFC 3339 of the processing time %v", dlq.AttrFailedAt, a[dlq.AttrFailedAt], err, testNow)
	}
	for _, id := range []struct{ name, want string }{{dlq.AttrEventID, want.eventID}, {dlq.AttrOrderID, want.orderID}} {
		got, present := a[id.name]
		match := got == id.want
		if want.idPartial {
			match = strings.Contains(got, id.want)
		}
		if present != (id.want != "") || !match {
			t.Errorf("attribute %s = %q (present %v), want %q (present %v, partial %v)", id.name, got, present, id.want, id.want != "", want.idPartial)
		}
	}
	r := dlq.Parse(m)
	if r.Format != dlq.FormatProcessor || r.Reason != want.reason || r.Region != testRegion ||
		r.EventID != a[dlq.AttrEventID] || r.OrderID != a[dlq.AttrOrderID] || !r.FailedAt.Equal(testNow) || r.Message != a[dlq.AttrMessage] {
		t.Errorf("dlq.Parse = %+v, want format %s, reason %s, region %s, eventId %q, orderId %q, failedAt %v",
			r, dlq.FormatProcessor, want.reason, testRegion, want.eventID, want.orderID, testNow)
	}
}

// Extreme eventIds, for conflicts whose winner a test must know: every
// generated eventId sorts between them.
const (
	lowestID  = "00000000-0000-4000-8000-000000000000"
	highestID = "ffffffff-ffff-4fff-bfff-ffffffffffff"
)

// withEventID is an event reusing r's (orderId, seq) under eventId id.
func withEventID(r event.ExecutionReport, id string) event.ExecutionReport {
	c := gen.Conflict(r, 1)
	c.EventID = id
	return c
}

// A second event under a taken (orderId, seq) with a higher eventId loses:
// dead-lettered as SEQ_CONFLICT, the recorded execution and state left as
// they were.
func TestProcessDeadLettersConflicts(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, f.cfg, processor.Deps{Now: fixedClock})
	orig := lifecycle(t, 13, 1).Events[0]
	if got, err := h.Process(t.Context(), reportEvent(orig)); err != nil || got != processor.Applied {
		t.Fatalf("Process(original) = %q, %v; want applied", got, err)
	}
	c := withEventID(orig, highestID)
	raw := reportEvent(c)
	for i := range 2 { // a redelivered conflict is dead-lettered again
		if got, err := h.Process(t.Context(), raw); err != nil || got != processor.Conflict {
			t.Fatalf("Process(conflicting, delivery %d) = %q, %v; want %q, nil", i+1, got, err, processor.Conflict)
		}
	}
	f.checkOrder(t, []event.ExecutionReport{orig}, orig)
	msgs := f.dlqMessages(t)
	if len(msgs) != 2 {
		t.Fatalf("processing DLQ holds %d messages, want 2 (one per delivery)", len(msgs))
	}
	for _, m := range msgs {
		if body := aws.ToString(m.Body); body != string(raw) {
			t.Errorf("DLQ body = %s, want the conflicting event %s", body, raw)
		}
		checkDeadLetter(t, m, deadLetter{reason: processor.ReasonConflict, message: orig.EventID, eventID: c.EventID, orderID: c.OrderID})
	}
}

// A second event under a taken (orderId, seq) with a lower eventId wins the
// seq: it is applied, and the event it displaces is dead-lettered as
// SEQ_CONFLICT — rebuilt from its execution item, with the attributes of
// every dead letter, a message naming the winner — and logged at WARN. A
// redelivery of the displaced event loses; of the winner, is a duplicate.
func TestProcessDeadLettersTheDisplacedEvent(t *testing.T) {
	f := newFixture(t)
	out := &syncBuffer{}
	h := f.handler(t, f.cfg, processor.Deps{Now: fixedClock, Stdout: out})
	orig := lifecycle(t, 13, 1).Events[0]
	if got, err := h.Process(t.Context(), reportEvent(orig)); err != nil || got != processor.Applied {
		t.Fatalf("Process(original) = %q, %v; want applied", got, err)
	}
	win := withEventID(orig, lowestID)
	before := out.Len()
	if got, err := h.Process(t.Context(), reportEvent(win)); err != nil || got != processor.Applied {
		t.Fatalf("Process(lower eventId) = %q, %v; want %q, nil", got, err, processor.Applied)
	}
	f.checkOrder(t, []event.ExecutionReport{win}, win)
	logs, docs := splitStdout(t, out.LinesFrom(before))
	warned := false
	for _, l := range logs {
		warned = warned || l["level"] == "WARN" && l["message"] == "outranked execution dead-lettered" &&
			l["outranked_event_id"] == orig.EventID && l[logging.KeyCorrelationID] == win.EventID
	}
	if !warned {
		t.Errorf("no WARN line for the displaced event:\n%s", strings.Join(out.LinesFrom(before), "\n"))
	}
	if len(docs) != 1 {
		t.Fatalf("%d EMF documents, want 1", len(docs))
	}
	for name, want := range map[string]int{metrics.EventsApplied: 1, metrics.EventsRejected: 1} {
		if got := len(checkEMF(t, docs[0], testNow.Add(-time.Hour))[name].values); got != want {
			t.Errorf("%s = %d values, want %d (the displacing event applied, the displaced one dead-lettered)", name, got, want)
		}
	}

	msgs := f.dlqMessages(t)
	if len(msgs) != 1 {
		t.Fatalf("processing DLQ holds %d messages, want 1 (the displaced event)", len(msgs))
	}
	m := msgs[0]
	checkDeadLetter(t, m, deadLetter{reason: processor.ReasonConflict, message: win.EventID, eventID: orig.EventID, orderID: orig.OrderID})
	rec := dlq.Parse(m)
	d, err := event.Decode(rec.Event, testNow)
	if err != nil || d.Report == nil {
		t.Fatalf("the displaced event's dead letter does not decode as an event: %v\n%s", err, rec.Event)
	}
	if !reflect.DeepEqual(*d.Report, normalized(orig)) {
		t.Errorf("dead-lettered event =\n%+v\nwant the displaced one\n%+v", *d.Report, normalized(orig))
	}
	if _, err := dlq.EntryFor(rec.Event, "tap-test-trading"); err != nil {
		t.Errorf("the dead letter cannot be redriven: %v", err)
	}

	if got, err := h.Process(t.Context(), reportEvent(orig)); err != nil || got != processor.Conflict {
		t.Errorf("Process(displaced event again) = %q, %v; want %q", got, err, processor.Conflict)
	}
	if got, err := h.Process(t.Context(), reportEvent(win)); err != nil || got != processor.Duplicate {
		t.Errorf("Process(winner again) = %q, %v; want %q", got, err, processor.Duplicate)
	}
	// The messages already read stay invisible: only the new one is read.
	if msgs = f.dlqMessages(t); len(msgs) != 1 {
		t.Fatalf("processing DLQ then holds %d more messages, want 1: the displaced event, delivered again and lost", len(msgs))
	}
	checkDeadLetter(t, msgs[0], deadLetter{reason: processor.ReasonConflict, message: win.EventID, eventID: orig.EventID, orderID: orig.OrderID})
	f.checkOrder(t, []event.ExecutionReport{win}, win)
}

// Transient DynamoDB failures are retried by the SDK and then returned: the
// event is neither dead-lettered nor half-applied, and a redelivery (or the
// SDK's own retry) applies it exactly once.
func TestProcessDynamoDBFaults(t *testing.T) {
	r := lifecycle(t, 14, 1).Events[0]
	hb := event.Heartbeat{Region: "us-west-2", SentAt: testNow.Add(-time.Second)}
	tests := []struct {
		name     string
		raw      []byte
		proxy    *faultproxy.Config // nil: DynamoDB at a closed port
		attempts int
		wantErr  string // "" means the event must be applied
		want     processor.Outcome
		injected int // faults the proxy must have injected
	}{
		{name: "throttled", raw: reportEvent(r), proxy: &faultproxy.Config{Rates: map[faultproxy.Fault]float64{faultproxy.Throttling: 1}},
			attempts: 3, wantErr: "ThrottlingException", injected: 3},
		{name: "throughput exceeded", raw: reportEvent(r), proxy: &faultproxy.Config{Rates: map[faultproxy.Fault]float64{faultproxy.ThroughputExceeded: 1}},
			attempts: 2, wantErr: "ProvisionedThroughputExceeded", injected: 2},
		{name: "500s", raw: reportEvent(r), proxy: &faultproxy.Config{Rates: map[faultproxy.Fault]float64{faultproxy.InternalError: 1}},
			attempts: 2, wantErr: "500", injected: 2},
		{name: "connections dropped", raw: reportEvent(r), proxy: &faultproxy.Config{Rates: map[faultproxy.Fault]float64{faultproxy.DropBefore: 1}},
			attempts: 2, wantErr: "request send failed", injected: 2},
		{name: "unreachable", raw: reportEvent(r), attempts: 2, wantErr: "refused"},
		{name: "heartbeat throttled", raw: heartbeatEvent(hb), proxy: &faultproxy.Config{Rates: map[faultproxy.Fault]float64{faultproxy.Throttling: 1}},
			attempts: 2, wantErr: "ThrottlingException", injected: 2},
		{name: "retried to success", raw: reportEvent(r),
			proxy:    &faultproxy.Config{Schedule: []faultproxy.Fault{faultproxy.Throttling, faultproxy.InternalError, faultproxy.DropBefore}},
			attempts: 4, want: processor.Applied, injected: 3},
		// The put is applied and its response lost: the SDK's retry finds
		// its own execution, a duplicate, and still writes the state.
		{name: "response lost", raw: reportEvent(r),
			proxy:    &faultproxy.Config{Match: faultproxy.Operations("PutItem"), Schedule: []faultproxy.Fault{faultproxy.DropAfter}},
			attempts: 2, want: processor.Duplicate, injected: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			endpoint := closedEndpoint(t)
			var p *faultproxy.Proxy
			if tc.proxy != nil {
				cfg := *tc.proxy
				cfg.Target = motoEndpoint
				var err error
				if p, err = faultproxy.Start(cfg); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = p.Close() })
				endpoint = p.URL
			}
			ddb := dynamodb.NewFromConfig(awsConfig(t, endpoint, fastRetries(tc.attempts)))
			out := &syncBuffer{}
			h := f.handler(t, f.cfg, processor.Deps{DynamoDB: ddb, Now: fixedClock, Stdout: out})
			got, err := h.Process(t.Context(), tc.raw)
			if p != nil && p.Injected() != tc.injected {
				t.Errorf("proxy injected %d faults (%v), want %d", p.Injected(), p.Counts(), tc.injected)
			}
			f.checkDLQEmpty(t)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("Process = %q, %v; want %q, nil", got, err, tc.want)
				}
				f.checkOrder(t, []event.ExecutionReport{r}, r)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Process = %q, %v; want an error mentioning %q", got, err, tc.wantErr)
			}
			if got != "" {
				t.Errorf("Process returned outcome %q with its error, want none", got)
			}
			if !strings.Contains(out.String(), `"level":"ERROR"`) {
				t.Errorf("no ERROR log line for a failed invocation:\n%s", out.String())
			}
			f.checkNoOrder(t, r.OrderID)
			// Lambda redelivers once DynamoDB is back: applied exactly once.
			healthy := f.handler(t, f.cfg, processor.Deps{Now: fixedClock})
			want := processor.Applied
			if bytes.Contains(tc.raw, []byte(schema.DetailTypeHeartbeat)) {
				want = processor.Heartbeat
			}
			if got, err := healthy.Process(t.Context(), tc.raw); err != nil || got != want {
				t.Fatalf("redelivery = %q, %v; want %q", got, err, want)
			}
			if want == processor.Applied {
				f.checkOrder(t, []event.ExecutionReport{r}, r)
			}
		})
	}
}

// A dead letter that cannot be sent is an error, never swallowed: Lambda
// retries the event and, in the end, its on-failure destination keeps it.
func TestProcessDLQFailureIsAnError(t *testing.T) {
	base := lifecycle(t, 15, 1).Events[0]
	invalid := base
	invalid.Symbol = "not a symbol"
	tests := []struct {
		name     string
		sqsAt    string // SQS endpoint; "" means moto
		queueURL string // "" means the fixture's queue
		conflict string // "" (an invalid event), or an eventId under base's seq
		wantErr  string
	}{
		{name: "SQS unreachable", sqsAt: "closed", wantErr: "refused"},
		{name: "queue does not exist", queueURL: "missing", wantErr: "NonExistentQueue"},
		{name: "conflict, queue does not exist", queueURL: "missing", conflict: highestID, wantErr: "NonExistentQueue"},
		// The displaced event is dead-lettered before it is overwritten:
		// when that fails, nothing is.
		{name: "displacement, queue does not exist", queueURL: "missing", conflict: lowestID, wantErr: "NonExistentQueue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			cfg := f.cfg
			if tc.queueURL == "missing" {
				cfg.ProcessingDLQURL = motoEndpoint + "/123456789012/no-such-queue-" + uniqueName(t)
			}
			var sq processor.SQS = f.sqs
			if tc.sqsAt == "closed" {
				sq = sqs.NewFromConfig(awsConfig(t, closedEndpoint(t), fastRetries(2)))
			}
			out := &syncBuffer{}
			h := f.handler(t, cfg, processor.Deps{SQS: sq, Now: fixedClock, Stdout: out})
			raw := reportEvent(invalid)
			if tc.conflict != "" {
				if got, err := h.Process(t.Context(), reportEvent(base)); err != nil || got != processor.Applied {
					t.Fatalf("Process(original) = %q, %v; want applied", got, err)
				}
				raw = reportEvent(withEventID(base, tc.conflict))
			}
			got, err := h.Process(t.Context(), raw)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "processing DLQ") {
				t.Fatalf("Process = %q, %v; want an error about the processing DLQ mentioning %q", got, err, tc.wantErr)
			}
			if got != "" {
				t.Errorf("Process returned outcome %q with its error, want none", got)
			}
			if !strings.Contains(out.String(), `"message":"dead letter not sent, will be retried"`) {
				t.Errorf("no log line says the dead letter was not sent:\n%s", out.String())
			}
			if tc.conflict != "" {
				f.checkOrder(t, []event.ExecutionReport{base}, base)
			}
			f.checkDLQEmpty(t)
		})
	}
}
