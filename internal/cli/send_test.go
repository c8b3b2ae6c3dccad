package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
)

// sendInput has an ExecutionReport detail, a heartbeat detail, a comment,
// a blank line and a full PutEvents entry with a string Detail.
const sendInput = `{"eventId":"11111111-1111-4111-8111-111111111111","orderId":"o1","seq":1}
# a comment
{"region":"us-east-1","sentAt":"2026-01-05T14:30:00Z"}

{"Source":"tap.trading","DetailType":"ExecutionReport","Detail":"{\"eventId\":\"22222222-2222-4222-8222-222222222222\",\"orderId\":\"o2\"}"}
`

func TestSendToRegionalBus(t *testing.T) {
	f := newFixture(t)
	d := f.deploy(primary)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, []byte(sendInput), 0o600); err != nil {
		t.Fatal(err)
	}
	var res sendResult
	f.run("", "send", "--bus", f.names.Bus(), "--file", path, "-o", "json").want(t, ExitOK).decode(t, &res)
	if res.Events != 3 || res.Accepted != 3 || len(res.Failed) != 0 || res.Calls != 1 {
		t.Errorf("send result = %+v, want 3 events accepted in 1 call", res)
	}
	got := map[string]bool{}
	for _, det := range d.captured(t) {
		got[fmt.Sprint(det["eventId"], det["region"])] = true
	}
	for _, want := range []string{"11111111-1111-4111-8111-111111111111<nil>", "<nil>us-east-1", "22222222-2222-4222-8222-222222222222<nil>"} {
		if !got[want] {
			t.Errorf("bus did not receive %s; got %v", want, got)
		}
	}
}

func TestSendStdinTextSummary(t *testing.T) {
	f := newFixture(t)
	f.deploy(primary)
	r := f.run(sendInput, "send", "--bus", f.names.Bus()).want(t, ExitOK)
	if !contains(r.stdout, "sent 3 of 3 events", "bus "+f.names.Bus(), "1 call") {
		t.Errorf("stdout = %q", r.stdout)
	}
}

func TestSendRejectsBadInput(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		input string
		code  int
		says  string
	}{
		{"{\"eventId\":\"x\"}\nnot json\n", ExitFailure, "line 2: want a JSON object: an event detail or a PutEvents entry: invalid JSON at byte 2"},
		{`{"Source":"tap.trading","Detail":"{}"}`, ExitFailure, "line 1: a PutEvents entry needs DetailType and Detail"},
		{"# only a comment\n", ExitUsage, "no events in stdin"},
	} {
		r := f.run(tc.input, "send", "--bus", "b")
		if r.code != tc.code || !contains(r.stderr, tc.says) {
			t.Errorf("send %q: exit %d stderr %q, want %d and %q", tc.input, r.code, r.stderr, tc.code, tc.says)
		}
	}
	r := f.run(sendInput, "send", "--bus", "b", "--endpoint-id", "e")
	if r.code != ExitUsage || !contains(r.stderr, "give one of them") {
		t.Errorf("send --bus --endpoint-id: exit %d stderr %q, want usage error", r.code, r.stderr)
	}
}

// putEventsRequest is the body of a PutEvents call.
type putEventsRequest struct {
	EndpointID string `json:"EndpointId"`
	Entries    []struct {
		Source, DetailType, Detail, EventBusName string
	}
}

// TestSendThroughGlobalEndpointSignsWithSigV4a sends through --endpoint-id to
// a loopback EventBridge that fails one entry once: the request is
// PutEvents with the EndpointId, signed with SigV4a for every region, and
// the failed entry alone is retried.
func TestSendThroughGlobalEndpointSignsWithSigV4a(t *testing.T) {
	f := newFixture(t)
	var calls atomic.Int64
	fake := newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		var in putEventsRequest
		_ = json.Unmarshal(r.Body, &in)
		var out []string
		failed := 0
		for i := range in.Entries {
			if calls.Load() == 0 && i == 1 {
				out = append(out, `{"ErrorCode":"ThrottlingException","ErrorMessage":"Rate exceeded"}`)
				failed++
				continue
			}
			out = append(out, fmt.Sprintf(`{"EventId":"ev-%d"}`, i))
		}
		calls.Add(1)
		awsJSON(w, 200, fmt.Sprintf(`{"FailedEntryCount":%d,"Entries":[%s]}`, failed, strings.Join(out, ",")))
	})
	f.env.Endpoints[eventbridge.ServiceID] = fake.URL

	var res sendResult
	f.run(sendInput, "send", "--endpoint-id", "abcde.veo", "-o", "json").want(t, ExitOK).decode(t, &res)
	if res.Accepted != 3 || res.Calls != 2 || !strings.Contains(res.Destination, "global endpoint abcde.veo") {
		t.Errorf("send result = %+v, want 3 accepted in 2 calls through abcde.veo", res)
	}
	reqs := fake.calls()
	if len(reqs) != 2 {
		t.Fatalf("fake EventBridge got %d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		if r.Target != "AWSEvents.PutEvents" {
			t.Errorf("request %d X-Amz-Target = %q, want AWSEvents.PutEvents", i, r.Target)
		}
		if got := authAlgorithm(r.Auth); got != "AWS4-ECDSA-P256-SHA256" {
			t.Errorf("request %d Authorization algorithm = %q, want AWS4-ECDSA-P256-SHA256 (SigV4a)", i, got)
		}
		if r.RegionSet != "*" {
			t.Errorf("request %d X-Amz-Region-Set = %q, want *", i, r.RegionSet)
		}
		var in putEventsRequest
		if err := json.Unmarshal(r.Body, &in); err != nil {
			t.Fatal(err)
		}
		if in.EndpointID != "abcde.veo" {
			t.Errorf("request %d EndpointId = %q, want abcde.veo", i, in.EndpointID)
		}
		for _, e := range in.Entries {
			if e.EventBusName != f.names.Bus() || e.Source != "tap.trading" {
				t.Errorf("request %d entry bus %q source %q, want %s and tap.trading", i, e.EventBusName, e.Source, f.names.Bus())
			}
		}
	}
	var retried putEventsRequest
	_ = json.Unmarshal(reqs[1].Body, &retried)
	if len(retried.Entries) != 1 || retried.Entries[0].DetailType != "Heartbeat" {
		t.Errorf("retry carried %+v, want only the heartbeat (entry 2)", retried.Entries)
	}
}

func TestSendReportsEntriesThatKeepFailing(t *testing.T) {
	f := newFixture(t)
	fake := newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		var in putEventsRequest
		_ = json.Unmarshal(r.Body, &in)
		var out []string
		for _, e := range in.Entries {
			if e.DetailType == "Heartbeat" {
				out = append(out, `{"ErrorCode":"InternalFailure","ErrorMessage":"internal error"}`)
			} else {
				out = append(out, `{"EventId":"ok"}`)
			}
		}
		awsJSON(w, 200, fmt.Sprintf(`{"FailedEntryCount":1,"Entries":[%s]}`, strings.Join(out, ",")))
	})
	f.env.Endpoints[eventbridge.ServiceID] = fake.URL
	r := f.run(sendInput, "send", "--endpoint-id", "abcde.veo", "--timeout", "0", "--max-attempts", "2").want(t, ExitFailure)
	if !contains(r.stdout, "sent 2 of 3 events") || !contains(r.stderr, "line 3", "InternalFailure", "2 attempts", "1 of 3 events NOT accepted") {
		t.Errorf("stdout %q\nstderr %q", r.stdout, r.stderr)
	}
	// Bounded by time, the entry is tried more often, and the bound is said.
	r = f.run(sendInput, "send", "--endpoint-id", "abcde.veo", "--timeout", "1s").want(t, ExitFailure)
	if !contains(r.stderr, "retried for up to 1s (--timeout)", "line 3", "InternalFailure", "1 of 3 events NOT accepted") {
		t.Errorf("--timeout 1s: stderr %q", r.stderr)
	}
}

// A send rides through a failover: entries the endpoint refuses for a while
// (here its first 3 calls) are retried until accepted, within --timeout,
// however many attempts that takes.
func TestSendRidesThroughAFailover(t *testing.T) {
	f := newFixture(t)
	var calls atomic.Int32
	fake := newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		var in putEventsRequest
		_ = json.Unmarshal(r.Body, &in)
		var out []string
		failed := 0
		for range in.Entries {
			if calls.Load() < 3 {
				out = append(out, `{"ErrorCode":"InternalFailure","ErrorMessage":"the endpoint is failing over"}`)
				failed++
			} else {
				out = append(out, `{"EventId":"ok"}`)
			}
		}
		calls.Add(1)
		awsJSON(w, 200, fmt.Sprintf(`{"FailedEntryCount":%d,"Entries":[%s]}`, failed, strings.Join(out, ",")))
	})
	f.env.Endpoints[eventbridge.ServiceID] = fake.URL
	var res sendResult
	f.run(sendInput, "send", "--endpoint-id", "abcde.veo", "--max-attempts", "1", "--timeout", "30s", "-o", "json").want(t, ExitOK).decode(t, &res)
	if res.Accepted != 3 || res.Calls != 4 {
		t.Errorf("send result = %+v, want 3 accepted in 4 calls (3 refused, then accepted)", res)
	}
	r := f.run(sendInput, "send", "--bus", "b", "--timeout", "-1s")
	if r.code != ExitUsage || !contains(r.stderr, "--timeout -1s") {
		t.Errorf("--timeout -1s: exit %d stderr %q, want a usage error", r.code, r.stderr)
	}
}

func TestSendAccessDeniedSaysWhatToDo(t *testing.T) {
	f := newFixture(t)
	fake := newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		awsError(w, 400, "AccessDeniedException", "User is not authorized to perform: events:PutEvents")
	})
	f.env.Endpoints[eventbridge.ServiceID] = fake.URL
	r := f.run(sendInput, "send", "--endpoint-id", "abcde.veo").want(t, ExitFailure)
	if !contains(r.stderr, "AccessDeniedException", "what to do", "IAM permissions") || !contains(r.stderr, "3 of 3 events NOT accepted") {
		t.Errorf("stderr = %q", r.stderr)
	}
	if n := len(fake.calls()); n != 1 {
		t.Errorf("calls = %d, want 1 (AccessDenied is not retried)", n)
	}
}

// TestSendFindsEndpointIDInFailoverStack deploys a stand-in Tap-<env>-Failover
// stack with an EndpointId output in moto: send uses it with no flag or env.
func TestSendFindsEndpointIDInFailoverStack(t *testing.T) {
	f := newFixture(t)
	fake := newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		awsJSON(w, 200, `{"FailedEntryCount":0,"Entries":[{"EventId":"a"}]}`)
	})
	f.env.Endpoints[eventbridge.ServiceID] = fake.URL
	one := `{"eventId":"11111111-1111-4111-8111-111111111111"}`

	r := f.run(one, "send").want(t, ExitFailure)
	if !contains(r.stderr, "no global endpoint ID", "--endpoint-id", "TAP_ENDPOINT_ID", "--bus", f.names.FailoverStack()) {
		t.Errorf("without a stack: stderr %q", r.stderr)
	}

	tpl := `{"Resources":{"Q":{"Type":"AWS::SQS::Queue"}},"Outputs":{"EndpointId":{"Value":"fromstack.veo"}}}`
	cfn := cloudformation.NewFromConfig(f.cfg(primary))
	if _, err := cfn.CreateStack(context.Background(), &cloudformation.CreateStackInput{StackName: aws.String(f.names.FailoverStack()), TemplateBody: &tpl}); err != nil {
		t.Fatal(err)
	}
	f.run(one, "send").want(t, ExitOK)
	var in putEventsRequest
	_ = json.Unmarshal(fake.calls()[0].Body, &in)
	if in.EndpointID != "fromstack.veo" {
		t.Errorf("EndpointId = %q, want fromstack.veo (the stack output)", in.EndpointID)
	}

	f.vars[EnvEndpointID] = "fromenv.veo"
	f.run(one, "send").want(t, ExitOK)
	_ = json.Unmarshal(fake.calls()[1].Body, &in)
	if in.EndpointID != "fromenv.veo" {
		t.Errorf("EndpointId = %q, want fromenv.veo (TAP_ENDPOINT_ID wins over the stack)", in.EndpointID)
	}
}

// The AWS CLI's form — one JSON array of entries, as `aws events put-events
// --entries file://…` takes it — is read like JSON lines, and its entries
// are named by their place and line in errors.
func TestSendTakesAnArrayOfEntries(t *testing.T) {
	f := newFixture(t)
	d := f.deploy(primary)
	input := `
[
  {"Source": "tap.trading", "DetailType": "ExecutionReport",
   "Detail": "{\"eventId\":\"33333333-3333-4333-8333-333333333333\",\"orderId\":\"o3\"}"},
  {"region": "us-east-1", "sentAt": "2026-01-05T14:30:00Z"}
]
`
	var res sendResult
	f.run(input, "send", "--bus", f.names.Bus(), "-o", "json").want(t, ExitOK).decode(t, &res)
	if res.Events != 2 || res.Accepted != 2 || len(res.Failed) != 0 {
		t.Errorf("send result = %+v, want 2 events accepted", res)
	}
	got := map[string]bool{}
	for _, det := range d.captured(t) {
		got[fmt.Sprint(det["eventId"], det["region"])] = true
	}
	for _, want := range []string{"33333333-3333-4333-8333-333333333333<nil>", "<nil>us-east-1"} {
		if !got[want] {
			t.Errorf("bus did not receive %s; got %v", want, got)
		}
	}

	for _, tc := range []struct{ input, says string }{
		{"[\n {\"eventId\":\"x\"},\n 5\n]", "entry 2 (line 3): want a JSON object: an event detail or a PutEvents entry, got a JSON number"},
		{"[\n {\"Source\":\"tap.trading\",\"Detail\":\"{}\"}\n]", "entry 1 (line 2): a PutEvents entry needs DetailType and Detail"},
		{"[{\"eventId\":\"x\"}", "the array of entries does not end"},
		{"[{\"eventId\":\"x\"}]\n{\"eventId\":\"y\"}\n", "line 2: text after the array of entries"},
		{"[\n {\"eventId\":\"x\",}\n]", "entry 1 (line 2): invalid JSON"},
		{"[]", "no events in stdin"},
	} {
		r := f.run(tc.input, "send", "--bus", "b")
		if r.code == ExitOK || !contains(r.stderr, tc.says) {
			t.Errorf("send %q: exit %d stderr %q, want a failure saying %q", tc.input, r.code, r.stderr, tc.says)
		}
	}
}

// With --spool, events not accepted within --timeout stay in the spool, and
// the next send --spool sends them — once: an event accepted is never sent
// again.
func TestSendSpoolKeepsWhatIsNotAcceptedForTheNextSend(t *testing.T) {
	f := newFixture(t)
	var down atomic.Bool
	down.Store(true)
	var mu sync.Mutex
	accepted := map[string]int{}
	fake := newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		var in putEventsRequest
		_ = json.Unmarshal(r.Body, &in)
		var out []string
		failed := 0
		for _, e := range in.Entries {
			// The first entry gets in; the rest are refused while down.
			if down.Load() && e.DetailType != "ExecutionReport" {
				out = append(out, `{"ErrorCode":"InternalFailure","ErrorMessage":"the endpoint is failing over"}`)
				failed++
				continue
			}
			mu.Lock()
			accepted[e.Detail]++
			mu.Unlock()
			out = append(out, `{"EventId":"ok"}`)
		}
		awsJSON(w, 200, fmt.Sprintf(`{"FailedEntryCount":%d,"Entries":[%s]}`, failed, strings.Join(out, ",")))
	})
	f.env.Endpoints[eventbridge.ServiceID] = fake.URL
	dir := filepath.Join(t.TempDir(), "spool")

	// sendInput's heartbeat is refused until the endpoint is back.
	r := f.run(sendInput, "send", "--endpoint-id", "abcde.veo", "--spool", dir, "--timeout", "1s").want(t, ExitFailure)
	if !contains(r.stdout, "sent 2 of 3 events") || !contains(r.stderr, "through the spool "+dir, "1 of 3 events NOT accepted yet stay in the spool "+dir, "tapctl send --spool "+dir+" --file /dev/null") {
		t.Fatalf("first send: stdout %q\nstderr %q", r.stdout, r.stderr)
	}

	down.Store(false)
	var res sendResult
	f.run("", "send", "--endpoint-id", "abcde.veo", "--spool", dir, "--file", "/dev/null", "-o", "json").want(t, ExitOK).decode(t, &res)
	if res.Events != 0 || res.Resumed != 1 || res.Accepted != 1 || res.LeftInSpool != 0 || res.Spool != dir {
		t.Errorf("resumed send = %+v, want the 1 event left in the spool accepted", res)
	}
	if len(accepted) != 3 {
		t.Errorf("endpoint accepted %d distinct events, want 3", len(accepted))
	}
	for d, n := range accepted {
		if n != 1 {
			t.Errorf("event %s accepted %d times, want once", d, n)
		}
	}
	r = f.run("", "send", "--endpoint-id", "abcde.veo", "--spool", dir)
	if r.code != ExitUsage || !contains(r.stderr, "no events in stdin, and none waiting in the spool "+dir) {
		t.Errorf("send with nothing to send: exit %d stderr %q, want a usage error", r.code, r.stderr)
	}
}

// A spool that cannot be used fails the send before anything is sent, says
// what to fix, and leaves nothing behind.
func TestSendSpoolThatCannotBeWritten(t *testing.T) {
	f := newFixture(t)
	fake := newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		awsJSON(w, 200, `{"FailedEntryCount":0,"Entries":[{"EventId":"a"},{"EventId":"b"},{"EventId":"c"}]}`)
	})
	f.env.Endpoints[eventbridge.ServiceID] = fake.URL
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := f.run(sendInput, "send", "--endpoint-id", "abcde.veo", "--spool", file).want(t, ExitFailure)
	if !contains(r.stderr, file+" is a file, not a directory", "what to do", "--spool") || len(fake.calls()) != 0 {
		t.Errorf("stderr %q after %d calls, want the reason, what to do, and no call", r.stderr, len(fake.calls()))
	}

	if os.Geteuid() == 0 {
		t.Skip("running as root: chmod does not stop root from writing, so the read-only case cannot be made here")
	}
	ro := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(ro, 0o700) })
	r = f.run(sendInput, "send", "--endpoint-id", "abcde.veo", "--spool", ro).want(t, ExitFailure)
	if !contains(r.stderr, "spool directory not writable", ro, "permission denied", "chmod u+w") || len(fake.calls()) != 0 {
		t.Errorf("read-only spool: stderr %q after %d calls", r.stderr, len(fake.calls()))
	}
	if left, _ := os.ReadDir(ro); len(left) != 0 {
		t.Errorf("the refused send left %v in %s", left, ro)
	}
}

// A send that would pass the spool's bound writes nothing and names the
// flag to raise.
func TestSendSpoolFull(t *testing.T) {
	f := newFixture(t)
	fake := newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		awsJSON(w, 200, `{"FailedEntryCount":0,"Entries":[]}`)
	})
	f.env.Endpoints[eventbridge.ServiceID] = fake.URL
	var in strings.Builder
	for i := range 6 {
		fmt.Fprintf(&in, `{"eventId":"11111111-1111-4111-8111-11111111111%d","pad":"%s"}`+"\n", i, strings.Repeat("x", 200<<10))
	}
	dir := t.TempDir()
	r := f.run(in.String(), "send", "--endpoint-id", "abcde.veo", "--spool", dir, "--spool-max-mb", "1").want(t, ExitFailure)
	if !contains(r.stderr, "spool "+dir+" is full", "1 MiB bound", "--spool-max-mb") || len(fake.calls()) != 0 {
		t.Errorf("stderr %q after %d calls, want the full spool named with its bound and flag, and no call", r.stderr, len(fake.calls()))
	}
}
