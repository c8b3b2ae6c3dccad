package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/names"
)

var motoEndpoint string

func TestMain(m *testing.M) { os.Exit(motoserver.RunTests(m, "replay", &motoEndpoint)) }

var envs atomic.Int64

func testNames() names.Names { return names.For(fmt.Sprintf("r%d", envs.Add(1))) }

var t0 = time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC)

func TestReplayWindowCheck(t *testing.T) {
	now := t0
	for _, tt := range []struct {
		name string
		w    Window
		want error
		says string
	}{
		{"past hour", Window{now.Add(-time.Hour), now}, nil, ""},
		{"zero length", Window{now.Add(-time.Hour), now.Add(-time.Hour)}, ErrEmptyWindow, "zero length"},
		{"reversed", Window{now, now.Add(-time.Hour)}, ErrEmptyWindow, "swap them"},
		{"no start", Window{To: now}, ErrEmptyWindow, "required"},
		{"future end", Window{now.Add(-time.Hour), now.Add(time.Second)}, ErrFutureWindow, "give a to of now or earlier"},
		{"all future", Window{now.Add(time.Hour), now.Add(2 * time.Hour)}, ErrFutureWindow, "after now"},
	} {
		err := tt.w.Check(now)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: Check = %v, want %v", tt.name, err, tt.want)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: Check = %q, want it to say %q", tt.name, err, tt.says)
		}
	}
}

func TestReplayWindowOverlaps(t *testing.T) {
	w := Window{t0, t0.Add(time.Hour)}
	for _, tt := range []struct {
		o    Window
		want bool
	}{
		{Window{t0.Add(-time.Hour), t0}, false}, // touches the start
		{Window{t0.Add(time.Hour), t0.Add(2 * time.Hour)}, false},
		{Window{t0.Add(-time.Hour), t0.Add(time.Second)}, true},
		{Window{t0.Add(59 * time.Minute), t0.Add(2 * time.Hour)}, true},
		{Window{t0.Add(10 * time.Minute), t0.Add(20 * time.Minute)}, true},
		{Window{t0.Add(-time.Hour), t0.Add(2 * time.Hour)}, true},
	} {
		if got := w.Overlaps(tt.o); got != tt.want || tt.o.Overlaps(w) != tt.want {
			t.Errorf("%v.Overlaps(%v) = %v, want %v both ways", w, tt.o, got, tt.want)
		}
	}
}

func TestReplayProgressIsEventTimeAgainstWindow(t *testing.T) {
	w := Window{t0, t0.Add(100 * time.Minute)}
	for _, tt := range []struct {
		s    Status
		want float64
	}{
		{Status{State: Starting, Window: w}, 0},
		{Status{State: Running, Window: w, LastReplayed: t0.Add(25 * time.Minute)}, 0.25},
		{Status{State: Running, Window: w, LastReplayed: t0.Add(-time.Minute)}, 0},
		{Status{State: Running, Window: w, LastReplayed: t0.Add(200 * time.Minute)}, 1},
		{Status{State: Completed, Window: w}, 1},
		{Status{State: Cancelled, Window: w, LastReplayed: t0.Add(50 * time.Minute)}, 0.5},
	} {
		if got := tt.s.Progress(); got != tt.want {
			t.Errorf("%+v.Progress() = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestReplayNameIsReadableAndValid(t *testing.T) {
	w := Window{t0, t0.Add(30 * time.Minute)}
	n := names.For("dev")
	got, err := Name(n, w, func(string) bool { return false })
	if want := "tap-dev-replay-20260105T143000Z-20260105T150000Z"; err != nil || got != want {
		t.Errorf("Name = %q, %v; want %q", got, err, want)
	}
	taken := map[string]bool{got: true, got + "-2": true}
	if got, err := Name(n, w, func(s string) bool { return taken[s] }); err != nil || got != "tap-dev-replay-20260105T143000Z-20260105T150000Z-3" {
		t.Errorf("Name with two taken = %q, %v; want the -3 suffix", got, err)
	}
	// The longest env name config allows (16 characters) still fits
	// EventBridge's 64, with room for a suffix.
	long := names.For("abcdefghijklmnop")
	if got, err := Name(long, w, func(string) bool { return false }); err != nil || len(got) > 61 || !ValidName(got) {
		t.Errorf("Name for a 16-character env = %q (%d), %v", got, len(got), err)
	}
	for _, bad := range []string{"", "a b", "x:y", strings.Repeat("a", 65)} {
		if ValidName(bad) {
			t.Errorf("ValidName(%q) = true", bad)
		}
	}
}

func TestReplayArchiveEarliest(t *testing.T) {
	now := t0
	created := now.Add(-400 * 24 * time.Hour)
	for _, tt := range []struct {
		a    Archive
		want time.Time
	}{
		{Archive{Created: created, RetentionDays: 0}, created},
		{Archive{Created: created, RetentionDays: 90}, now.Add(-90 * 24 * time.Hour)},
		{Archive{Created: now.Add(-time.Hour), RetentionDays: 90}, now.Add(-time.Hour)},
	} {
		if got := tt.a.Earliest(now); !got.Equal(tt.want) {
			t.Errorf("Earliest(%+v) = %v, want %v", tt.a, got, tt.want)
		}
	}
}

// motoBus is a bus in moto with one rule delivering to a queue, and (when
// archived) an archive of the bus, named as the stack names them.
type motoBus struct {
	n        names.Names
	eb       *eventbridge.Client
	sqs      *sqs.Client
	busARN   string
	queueURL string
}

func newMotoBus(t *testing.T, archived bool) *motoBus {
	t.Helper()
	ctx := context.Background()
	cfg, err := awslocal.Config(ctx, motoEndpoint, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	b := &motoBus{n: testNames(), eb: eventbridge.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg)}
	bus, err := b.eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(b.n.Bus())})
	if err != nil {
		t.Fatal(err)
	}
	b.busARN = aws.ToString(bus.EventBusArn)
	q, err := b.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(b.n.Env + "-q")})
	if err != nil {
		t.Fatal(err)
	}
	b.queueURL = aws.ToString(q.QueueUrl)
	attrs, err := b.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(b.n.ProcessorRule()), EventBusName: aws.String(b.n.Bus()),
		EventPattern: aws.String(`{"source":["tap.trading"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(b.n.ProcessorRule()), EventBusName: aws.String(b.n.Bus()),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatal(err)
	}
	if archived {
		if _, err := b.eb.CreateArchive(ctx, &eventbridge.CreateArchiveInput{ArchiveName: aws.String(b.n.Archive()), EventSourceArn: &b.busARN,
			EventPattern: aws.String(`{"source":["tap.trading"]}`), RetentionDays: aws.Int32(90)}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// put publishes one event per detail, at time at when not zero.
func (b *motoBus) put(t *testing.T, at time.Time, details ...string) {
	t.Helper()
	var entries []ebtypes.PutEventsRequestEntry
	for _, d := range details {
		e := ebtypes.PutEventsRequestEntry{EventBusName: aws.String(b.n.Bus()), Source: aws.String("tap.trading"), DetailType: aws.String("ExecutionReport"), Detail: aws.String(d)}
		if !at.IsZero() {
			e.Time = aws.Time(at)
		}
		entries = append(entries, e)
	}
	out, err := b.eb.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: entries})
	if err != nil || out.FailedEntryCount > 0 {
		t.Fatalf("PutEvents: %v, %d failed", err, out.FailedEntryCount)
	}
}

// drain receives and deletes every message of the queue.
func (b *motoBus) drain(t *testing.T) []map[string]any {
	t.Helper()
	var events []map[string]any
	for {
		out, err := b.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &b.queueURL, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return events
		}
		for _, m := range out.Messages {
			var ev map[string]any
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatalf("message %q: %v", aws.ToString(m.Body), err)
			}
			events = append(events, ev)
			if _, err := b.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &b.queueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestReplayOnMotoAndItsGaps runs a replay on moto 5.2.1 through this
// package and pins down where moto differs from EventBridge's documented
// behaviour (DESIGN §8; the package comment cites the pages). If moto
// changes, this test says which note to update.
func TestReplayOnMotoAndItsGaps(t *testing.T) {
	ctx := context.Background()
	b := newMotoBus(t, true)
	// A second rule the replay is not limited to, whose target reshapes
	// the event with an input transformer.
	other := b.n.Env + "-other"
	q, err := b.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(other)})
	if err != nil {
		t.Fatal(err)
	}
	otherQ := &motoBus{sqs: b.sqs, queueURL: aws.ToString(q.QueueUrl)}
	if _, err := b.eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: &other, EventBusName: aws.String(b.n.Bus()), EventPattern: aws.String(`{"source":["tap.trading"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: &other, EventBusName: aws.String(b.n.Bus()), Targets: []ebtypes.Target{{
		Id: aws.String("q"), Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:" + other),
		InputTransformer: &ebtypes.InputTransformer{InputTemplate: aws.String(`{"wrapped": <n>}`), InputPathsMap: map[string]string{"n": "$.detail.n"}},
	}}}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	b.put(t, time.Time{}, `{"n":1}`, `{"n":2}`)
	b.put(t, old, `{"n":3}`) // an event time 30 days before the archive existed
	if live := b.drain(t); len(live) != 3 {
		t.Fatalf("live delivery: %d events, want 3", len(live))
	}
	if live := otherQ.drain(t); len(live) != 3 || live[0]["wrapped"] == nil {
		t.Fatalf("live delivery through the transformer: %v, want 3 {\"wrapped\": n}", live)
	}

	// A window from the archive's creation to now: it holds the two live
	// events, not the one 30 days old.
	created, err := describeArchive(ctx, b.eb, b.n.Archive())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	w := Window{From: created.Created, To: now}
	p, err := NewPlan(ctx, b.eb, Request{Names: b.n, Archive: b.n.Archive(), Window: w, Rules: []string{b.n.ProcessorRule()}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if p.Destination != b.busARN || len(p.Rules) != 1 || !strings.HasSuffix(p.Rules[0].ARN, "rule/"+b.n.Bus()+"/"+b.n.ProcessorRule()) ||
		p.Name != BaseName(b.n, w) || p.Archive.RetentionDays != 90 {
		t.Fatalf("plan = %+v", p)
	}
	started, err := Start(ctx, b.eb, p)
	if err != nil {
		t.Fatal(err)
	}
	final, err := Follow(ctx, b.eb, p.Name, 10*time.Millisecond, nil)
	if err != nil || final.State != Completed {
		t.Fatalf("Follow = %+v, %v; want COMPLETED", final, err)
	}
	replayed := b.drain(t)

	// As AWS documents: replayed events carry replay-name, the original
	// time, and reach the bus's rules again (not the archive: its managed
	// rule excludes them).
	for _, ev := range replayed {
		if ev["replay-name"] != p.Name {
			t.Errorf("replayed event has replay-name %v, want %s: %v", ev["replay-name"], p.Name, ev)
		}
	}
	a, err := describeArchive(ctx, b.eb, b.n.Archive())
	if err != nil || a.EventCount != 3 {
		t.Errorf("archive after the replay: %+v, %v; want the 3 live events only", a, err)
	}

	// moto gap 1: the window is ignored. AWS replays only events whose time
	// lies in the window; moto replays every archived event, so the event
	// from 30 days ago comes back too.
	if len(replayed) != 3 {
		t.Errorf("moto replayed %d events of a window holding 2, want all 3 archived (moto ignores EventStartTime/EventEndTime)", len(replayed))
	}
	// moto gap 2: the replay runs inside StartReplay. It answers STARTING,
	// but the replay is COMPLETED before the answer is sent, never RUNNING,
	// and DescribeReplay has no EventLastReplayedTime.
	if started.State != Starting || !final.LastReplayed.IsZero() {
		t.Errorf("moto: StartReplay state %s, EventLastReplayedTime %v; want STARTING and none", started.State, final.LastReplayed)
	}
	// moto gap 3: ListReplays' State filter matches nothing (moto compares
	// its enum with the string), though the replay is COMPLETED.
	if got, err := list(ctx, b.eb, &eventbridge.ListReplaysInput{State: Completed}); err != nil || len(got) != 0 {
		t.Errorf("moto: ListReplays(State=COMPLETED) = %v, %v; want nothing", got, err)
	}
	if got, err := list(ctx, b.eb, &eventbridge.ListReplaysInput{EventSourceArn: &p.Archive.ARN}); err != nil || len(got) != 1 || got[0].State != Completed {
		t.Errorf("ListReplays(EventSourceArn) = %v, %v; want the replay, COMPLETED", got, err)
	}
	// moto gap 4: a COMPLETED replay can be cancelled (AWS: only STARTING
	// or RUNNING, else IllegalStatusException), and becomes CANCELLED.
	if st, err := Cancel(ctx, b.eb, p.Name); err != nil || st.State != Cancelling {
		t.Errorf("moto: Cancel(COMPLETED) = %+v, %v; want CANCELLING accepted", st, err)
	}
	if st, _ := Describe(ctx, b.eb, p.Name); st.State != Cancelled {
		t.Errorf("moto: after cancelling a completed replay its state is %s, want CANCELLED", st.State)
	}
	// moto gap 5: FilterArns is ignored: the replay, limited to the
	// processor rule, reaches the other rule too; and (gap 6) a replayed
	// event skips its target's input transformer: the target gets the raw
	// event, with moto's internal ingestion-time.
	otherReplayed := otherQ.drain(t)
	if len(otherReplayed) != 3 || otherReplayed[0]["wrapped"] != nil || otherReplayed[0]["replay-name"] != p.Name {
		t.Errorf("moto: the rule outside FilterArns got %v; want the 3 raw replayed events", otherReplayed)
	}
	// moto gap 7: replay names are not checked against [.\-_A-Za-z0-9]{1,64}.
	bad := p
	bad.Name = "not valid!"
	if _, err := Start(ctx, b.eb, bad); err != nil {
		t.Errorf("moto: StartReplay with name %q: %v; want it accepted", bad.Name, err)
	}
	b.drain(t)
}

// TestReplayPlanRefusesOnMoto: what NewPlan refuses with moto's own
// archive: a window starting before the archive existed, a missing
// archive, a missing rule.
func TestReplayPlanRefusesOnMoto(t *testing.T) {
	ctx := context.Background()
	b := newMotoBus(t, true)
	now := time.Now()
	a, err := describeArchive(ctx, b.eb, b.n.Archive())
	if err != nil {
		t.Fatal(err)
	}
	w := Window{From: a.Created.Add(-time.Hour), To: now}
	_, err = NewPlan(ctx, b.eb, Request{Names: b.n, Archive: b.n.Archive(), Window: w, Now: now})
	if !errors.Is(err, ErrOutsideRetention) || !strings.Contains(err.Error(), "give a from at or after "+stamp(a.Created)) {
		t.Errorf("window before the archive's creation: %v", err)
	}
	_, err = NewPlan(ctx, b.eb, Request{Names: b.n, Archive: "tap-nope-trading-archive", Window: Window{now.Add(-time.Minute), now}, Now: now})
	if !errors.Is(err, ErrNoArchive) {
		t.Errorf("missing archive: %v, want ErrNoArchive", err)
	}
	_, err = NewPlan(ctx, b.eb, Request{Names: b.n, Archive: b.n.Archive(), Window: Window{a.Created, now}, Rules: []string{"nope"}, Now: now})
	if !errors.Is(err, ErrNoRule) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing rule: %v, want ErrNoRule naming it", err)
	}
	_, err = NewPlan(ctx, b.eb, Request{Names: b.n, Archive: b.n.Archive(), Window: Window{now, now}, Now: now})
	if !errors.Is(err, ErrEmptyWindow) {
		t.Errorf("zero-length window: %v, want ErrEmptyWindow", err)
	}
}

// fakeEventBridge answers EventBridge's JSON protocol on loopback for what
// moto cannot show: replays that are STARTING or RUNNING (moto 5.2.1 runs a
// replay to completion inside StartReplay), their progress, and archives
// older than their retention (moto's are created now).
type fakeEventBridge struct {
	*httptest.Server
	mu      sync.Mutex
	answers map[string][]string // by operation; the last one repeats
	calls   []string
}

func newFakeEventBridge(t *testing.T, answers map[string][]string) (*fakeEventBridge, *eventbridge.Client) {
	t.Helper()
	f := &fakeEventBridge{answers: answers}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSEvents.")
		f.mu.Lock()
		f.calls = append(f.calls, op)
		as := f.answers[op]
		var body string
		if len(as) > 0 {
			body = as[0]
			if len(as) > 1 {
				f.answers[op] = as[1:]
			}
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if code, msg, ok := strings.Cut(body, "!"); ok && !strings.HasPrefix(body, "{") {
			w.Header().Set("X-Amzn-ErrorType", code)
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
			return
		}
		if body == "" {
			body = "{}"
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(f.Close)
	cfg, err := awslocal.Config(context.Background(), f.URL, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	return f, eventbridge.NewFromConfig(cfg)
}

func epoch(t time.Time) string { return fmt.Sprintf("%.3f", float64(t.UnixMilli())/1000) }

func archiveJSON(created time.Time, days int) string {
	return fmt.Sprintf(`{"ArchiveName":"tap-dev-trading-archive","ArchiveArn":"arn:aws:events:us-east-1:111122223333:archive/tap-dev-trading-archive",
		"EventSourceArn":"arn:aws:events:us-east-1:111122223333:event-bus/tap-dev-trading","State":"ENABLED","CreationTime":%s,"RetentionDays":%d,"EventCount":42}`,
		epoch(created), days)
}

func TestReplayPlanRefusesOutsideRetentionDays(t *testing.T) {
	now := t0
	_, api := newFakeEventBridge(t, map[string][]string{"DescribeArchive": {archiveJSON(now.Add(-400*24*time.Hour), 90)}})
	w := Window{From: now.Add(-100 * 24 * time.Hour), To: now.Add(-99 * 24 * time.Hour)}
	_, err := NewPlan(context.Background(), api, Request{Names: names.For("dev"), Archive: "tap-dev-trading-archive", Window: w, Now: now})
	if !errors.Is(err, ErrOutsideRetention) || !contains(err.Error(), "keeps events 90 days", stamp(now.Add(-90*24*time.Hour))) {
		t.Errorf("window 100 days back in a 90-day archive: %v", err)
	}
}

func TestReplayPlanRefusesOverlapWithActiveReplay(t *testing.T) {
	now := t0
	other := func(state string, from, to time.Time) string {
		return fmt.Sprintf(`{"ReplayName":"tap-dev-replay-other","EventSourceArn":"arn:aws:events:us-east-1:111122223333:archive/tap-dev-trading-archive","State":%q,"EventStartTime":%s,"EventEndTime":%s}`,
			state, epoch(from), epoch(to))
	}
	w := Window{From: now.Add(-2 * time.Hour), To: now.Add(-time.Hour)}
	for _, tt := range []struct {
		listed string
		want   error
	}{
		{other("RUNNING", now.Add(-90*time.Minute), now), ErrOverlap},
		{other("STARTING", now.Add(-3*time.Hour), now.Add(-110*time.Minute)), ErrOverlap},
		{other("COMPLETED", now.Add(-90*time.Minute), now), nil}, // finished: no conflict
		{other("RUNNING", now.Add(-time.Hour), now), nil},        // only touches the end
		{other("CANCELLED", now.Add(-3*time.Hour), now), nil},    // finished
	} {
		_, api := newFakeEventBridge(t, map[string][]string{
			"DescribeArchive": {archiveJSON(now.Add(-24*time.Hour), 0)},
			"ListReplays":     {`{"Replays":[` + tt.listed + `]}`, `{"Replays":[]}`},
		})
		_, err := NewPlan(context.Background(), api, Request{Names: names.For("dev"), Archive: "tap-dev-trading-archive", Window: w, Now: now})
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("with %s listed: %v, want %v", tt.listed, err, tt.want)
			continue
		}
		var oe *OverlapError
		if err != nil && (!errors.As(err, &oe) || oe.Other.Name != "tap-dev-replay-other" || !strings.Contains(err.Error(), "tap-dev-replay-other")) {
			t.Errorf("overlap error %q does not name the other replay", err)
		}
	}
}

func TestReplayFollowReportsProgressToTheEnd(t *testing.T) {
	w := Window{From: t0, To: t0.Add(100 * time.Minute)}
	describe := func(state string, last time.Time) string {
		s := fmt.Sprintf(`{"ReplayName":"r","State":%q,"EventStartTime":%s,"EventEndTime":%s,"ReplayStartTime":%s`, state, epoch(w.From), epoch(w.To), epoch(t0.Add(200*time.Minute)))
		if !last.IsZero() {
			s += `,"EventLastReplayedTime":` + epoch(last)
		}
		if state == "COMPLETED" {
			s += `,"ReplayEndTime":` + epoch(t0.Add(203*time.Minute))
		}
		return s + "}"
	}
	_, api := newFakeEventBridge(t, map[string][]string{"DescribeReplay": {
		describe("STARTING", time.Time{}), describe("RUNNING", t0.Add(25*time.Minute)), describe("RUNNING", t0.Add(75*time.Minute)), describe("COMPLETED", t0.Add(100*time.Minute)),
	}})
	var seen []float64
	final, err := Follow(context.Background(), api, "r", time.Millisecond, func(s Status) { seen = append(seen, s.Progress()) })
	if err != nil || final.State != Completed || final.Took(time.Time{}) != 3*time.Minute {
		t.Fatalf("Follow = %+v, %v", final, err)
	}
	if want := []float64{0, 0.25, 0.75, 1}; fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("progress %v, want %v", seen, want)
	}

	// Ctrl-C: Follow returns the last status and the context's error.
	_, api = newFakeEventBridge(t, map[string][]string{"DescribeReplay": {describe("RUNNING", t0.Add(50*time.Minute))}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	last, err := Follow(ctx, api, "r", 5*time.Millisecond, nil)
	if !errors.Is(err, context.DeadlineExceeded) || last.State != Running || last.Progress() != 0.5 {
		t.Errorf("interrupted Follow = %+v, %v", last, err)
	}
}

func TestReplayCancelOnlyWhileActive(t *testing.T) {
	_, api := newFakeEventBridge(t, map[string][]string{
		"CancelReplay":   {"IllegalStatusException!A replay can be canceled only when the state is Running or Starting."},
		"DescribeReplay": {`{"ReplayName":"r","State":"COMPLETED"}`},
	})
	_, err := Cancel(context.Background(), api, "r")
	if !errors.Is(err, ErrNotCancellable) || !strings.Contains(err.Error(), "is COMPLETED") {
		t.Errorf("Cancel(COMPLETED) = %v, want ErrNotCancellable naming the state", err)
	}
	_, api = newFakeEventBridge(t, map[string][]string{"CancelReplay": {`{"ReplayArn":"arn:aws:events:us-east-1:111122223333:replay/r","State":"CANCELLING"}`}})
	if st, err := Cancel(context.Background(), api, "r"); err != nil || st.State != Cancelling {
		t.Errorf("Cancel(RUNNING) = %+v, %v; want CANCELLING", st, err)
	}
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
