package eventbus

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/event"
)

// TestPatternSemantics checks the matcher against the behaviour the
// EventBridge User Guide documents for each filter.
func TestPatternSemantics(t *testing.T) {
	ev := `{"version":"0","id":"i","source":"tap.trading","detail-type":"ExecutionReport","account":"123456789012",
		"time":"2026-03-04T05:06:07Z","region":"us-west-2","resources":[],
		"detail":{"status":"FILLED","qty":25,"price":"1.5","venue":"XNYSE","tags":["urgent","eod"],"note":null,
		"ip":"10.0.0.7","legs":[{"side":"BUY","n":1},{"side":"SELL","n":2}],"empty":""}}`
	cases := []struct {
		pattern string
		want    bool
	}{
		{`{"source":["tap.trading"],"detail-type":["ExecutionReport","Heartbeat"]}`, true},
		{`{"source":["tap.trading"],"detail-type":["Heartbeat"]}`, false},
		{`{"detail":{"status":["FILLED"]}}`, true},
		{`{"detail":{"status":["filled"]}}`, false},
		{`{"detail":{"qty":[25]}}`, true},
		{`{"detail":{"qty":[25.0]}}`, true},
		{`{"detail":{"qty":["25"]}}`, false},
		{`{"detail":{"price":[1.5]}}`, false},
		{`{"detail":{"note":[null]}}`, true},
		{`{"detail":{"empty":[""]}}`, true},
		{`{"detail":{"tags":["eod"]}}`, true},
		{`{"detail":{"tags":["late"]}}`, false},
		{`{"detail":{"legs":{"side":["SELL"]}}}`, true},
		{`{"detail":{"legs":{"side":["SHORT"]}}}`, false},
		{`{"detail":{"missing":["x"]}}`, false},
		{`{"detail":{"missing":[{"exists":false}]}}`, true},
		{`{"detail":{"status":[{"exists":false}]}}`, false},
		{`{"detail":{"status":[{"exists":true}]}}`, true},
		{`{"detail":{"note":[{"exists":true}]}}`, true},
		{`{"detail":{"legs":[{"exists":true}]}}`, false}, // exists matches leaves only
		{`{"detail":{"venue":[{"prefix":"XN"}]}}`, true},
		{`{"detail":{"venue":[{"prefix":{"equals-ignore-case":"xn"}}]}}`, true},
		{`{"detail":{"venue":[{"suffix":"SE"}]}}`, true},
		{`{"detail":{"venue":[{"suffix":{"equals-ignore-case":"nyse"}}]}}`, true},
		{`{"detail":{"status":[{"equals-ignore-case":"filled"}]}}`, true},
		{`{"detail":{"venue":[{"wildcard":"X*E"}]}}`, true},
		{`{"detail":{"venue":[{"wildcard":"X*Q"}]}}`, false},
		{`{"detail":{"qty":[{"numeric":[">",10,"<=",25]}]}}`, true},
		{`{"detail":{"qty":[{"numeric":["<",25]}]}}`, false},
		{`{"detail":{"price":[{"numeric":[">",1]}]}}`, false}, // a string is not a number
		{`{"detail":{"status":[{"anything-but":["NEW","CANCELED"]}]}}`, true},
		{`{"detail":{"status":[{"anything-but":"FILLED"}]}}`, false},
		{`{"detail":{"missing":[{"anything-but":"FILLED"}]}}`, false},
		{`{"detail":{"venue":[{"anything-but":{"prefix":"XN"}}]}}`, false},
		{`{"detail":{"venue":[{"anything-but":{"suffix":"X"}}]}}`, true},
		{`{"detail":{"ip":[{"cidr":"10.0.0.0/24"}]}}`, true},
		{`{"detail":{"ip":[{"cidr":"10.0.1.0/24"}]}}`, false},
		{`{"$or":[{"detail":{"status":["NEW"]}},{"detail":{"qty":[{"numeric":[">",20]}]}}]}`, true},
		{`{"$or":[{"detail":{"status":["NEW"]}},{"region":["eu-west-1"]}]}`, false},
		{`{"detail":{"$or":[{"status":["NEW"]},{"venue":["XNYSE"]}]}}`, true},
	}
	for _, c := range cases {
		p, err := CompilePattern(c.pattern)
		if err != nil {
			t.Errorf("CompilePattern(%s): %v", c.pattern, err)
			continue
		}
		if got, err := p.Matches([]byte(ev)); err != nil || got != c.want {
			t.Errorf("%s matches = %v, %v; want %v", c.pattern, got, err, c.want)
		}
	}
	for _, bad := range []string{
		`[]`, `{"source":"tap.trading"}`, `{"source":[]}`, `{"source":[{"contains":"x"}]}`,
		`{"source":[{"prefix":"a","suffix":"b"}]}`, `{"detail":{"n":[{"numeric":["!",1]}]}}`, `{"$or":[]}`,
	} {
		if _, err := CompilePattern(bad); err == nil {
			t.Errorf("CompilePattern(%s) succeeded, want an error", bad)
		}
	}
}

// TestPatternAgreesWithMotosRules puts each pattern on a rule of a bus on
// moto, publishes events through PutEvents, and checks that the rules moto
// matched are the ones the matcher matches. Only cases where moto follows
// EventBridge are used (moto does not match through arrays of objects).
func TestPatternAgreesWithMotosRules(t *testing.T) {
	patterns := []string{
		`{"source":["tap.trading"],"detail-type":["ExecutionReport","Heartbeat"]}`,
		`{"detail":{"status":["FILLED"]}}`,
		`{"detail":{"qty":[{"numeric":[">",10,"<=",100]}]}}`,
		`{"detail":{"venue":[{"prefix":"XN"}]}}`,
		`{"detail":{"venue":[{"suffix":"SE"}]}}`,
		`{"detail":{"status":[{"anything-but":["FILLED","CANCELED"]}]}}`,
		`{"detail":{"note":[{"exists":false}]}}`,
		`{"detail":{"note":[{"exists":true}]}}`,
		`{"detail":{"tags":["urgent"]}}`,
		`{"detail":{"status":[{"equals-ignore-case":"filled"}]}}`,
		`{"$or":[{"detail":{"status":["NEW"]}},{"detail":{"qty":[{"numeric":["<",5]}]}}]}`,
		`{"detail":{"venue":[{"wildcard":"X*E"}]}}`,
		`{"detail":{"ip":[{"cidr":"10.0.0.0/24"}]}}`,
		`{"detail-type":["Heartbeat"],"detail":{"region":["us-east-1"]}}`,
	}
	events := []struct{ source, detailType, detail string }{
		{"tap.trading", "ExecutionReport", `{"status":"FILLED","qty":25,"venue":"XNYSE","tags":["urgent"],"ip":"10.0.0.9"}`},
		{"tap.trading", "ExecutionReport", `{"status":"NEW","qty":2,"venue":"BATS","note":"x","ip":"10.0.1.9"}`},
		{"tap.trading", "ExecutionReport", `{"status":"filled","qty":500,"venue":"XLON","tags":["eod","late"]}`},
		{"tap.trading", "Heartbeat", `{"region":"us-east-1","sentAt":"2026-01-01T00:00:00Z"}`},
		{"other.source", "ExecutionReport", `{"status":"CANCELED","qty":10,"venue":"XNSE","note":null}`},
		{"tap.trading", "Other", `{"status":"REPLACED","qty":100.5}`},
	}
	eb, q, _ := clients(t)
	ctx := context.Background()
	bus := uniq("xcheck")
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: &bus}); err != nil {
		t.Fatal(err)
	}
	urls := make([]string, len(patterns))
	for i, p := range patterns {
		var arn string
		urls[i], arn = queue(t, q, fmt.Sprintf("%s-%d", bus, i))
		// The local pipeline's transformer: the whole event, fast on moto.
		putRule(t, eb, bus, fmt.Sprintf("p%d", i), p, ebtypes.RuleStateEnabled, ebtypes.Target{Arn: &arn, InputTransformer: &ebtypes.InputTransformer{
			InputTemplate: aws.String("<aws.events.event.json>"), InputPathsMap: map[string]string{"id": "$.id"},
		}})
	}
	var entries []ebtypes.PutEventsRequestEntry
	for j, e := range events {
		// The event's index rides in the detail, so a delivery says which
		// event it is.
		detail := strings.Replace(e.detail, "{", fmt.Sprintf(`{"n":%d,`, j), 1)
		events[j].detail = detail
		entries = append(entries, ebtypes.PutEventsRequestEntry{EventBusName: &bus, Source: aws.String(e.source), DetailType: aws.String(e.detailType), Detail: aws.String(detail)})
	}
	if out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries}); err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %v (%+v)", err, out)
	}
	matched := 0
	for i, p := range patterns {
		moto := map[int]bool{}
		for _, body := range drain(t, q, urls[i]) {
			var d struct {
				Detail struct {
					N int `json:"n"`
				} `json:"detail"`
			}
			if err := json.Unmarshal([]byte(body), &d); err != nil {
				t.Fatalf("delivery %s: %v", body, err)
			}
			moto[d.Detail.N] = true
		}
		compiled, err := CompilePattern(p)
		if err != nil {
			t.Fatal(err)
		}
		for j, e := range events {
			ev := event.EncodeEnvelope(event.Envelope{
				ID: "x", Source: e.source, DetailType: e.detailType, Account: awslocal.AccountID, Region: testRegion,
				Time: time.Now().UTC(), Detail: json.RawMessage(e.detail),
			})
			ours, err := compiled.Matches(ev)
			if err != nil {
				t.Fatal(err)
			}
			if ours {
				matched++
			}
			if ours != moto[j] {
				t.Errorf("pattern %s, event %d %s: matcher %v, moto's rule %v", p, j, e.detail, ours, moto[j])
			}
		}
	}
	t.Logf("%d patterns × %d events: %d matches, %d non-matches, each as moto's rules decided", len(patterns), len(events), matched, len(patterns)*len(events)-matched)
	if matched < len(patterns) || matched > len(patterns)*len(events)-len(patterns) {
		t.Errorf("%d matches: the cases do not exercise both outcomes enough", matched)
	}
}
