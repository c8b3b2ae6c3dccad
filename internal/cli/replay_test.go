package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/metrics"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/replay"
)

// TestReplayLocalLeavesTableUnchanged replays a window of the local
// pipeline's archive that holds every event published, follows it to
// COMPLETED, and checks the table is unchanged item by item (I1), every
// replayed event settled as a duplicate, and the processor recorded no
// PipelineLatency for them (it saw replay-name).
//
// The pipeline runs in the test (local.Start with Archive, as tapctl local
// would) and records its state file, so `tapctl replay --local` finds it as
// it finds a running tapctl local.
func TestReplayLocalLeavesTableUnchanged(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	statePath := f.vars["TAPCTL_STATE"]
	logPath := strings.TrimSuffix(statePath, filepath.Ext(statePath)) + "-processor.log"
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	var procOut syncBuffer
	p, err := local.Start(ctx, local.Config{
		AWSEndpoint: motoEndpoint, Region: primary, Env: f.names.Env, Archive: true,
		ProcessorOutput: io.MultiWriter(logFile, &procOut),
		Invoker:         local.InvokerConfig{Concurrency: 2, RetryAttempts: 2, RetryBackoff: 100 * time.Millisecond, MaxEventAge: time.Hour, Timeout: 30 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	from := time.Now().UTC() // after the archive was created
	var mu sync.Mutex
	var settled []local.Result
	defer p.Subscribe(func(r local.Result) { mu.Lock(); settled = append(settled, r); mu.Unlock() })()
	results := func() []local.Result { mu.Lock(); defer mu.Unlock(); return append([]local.Result(nil), settled...) }
	runDone := make(chan error, 1)
	runCtx, stopRun := context.WithCancel(ctx)
	go func() { runDone <- p.Run(runCtx, time.Second) }()
	defer func() { stopRun(); <-runDone }()
	if err := local.WriteState(statePath, local.State{Resources: p.Resources, PID: os.Getpid(), StartedAt: from}); err != nil {
		t.Fatal(err)
	}

	// Publish two order lifecycles and wait until all are applied.
	var lines []string
	var ids []string
	for _, l := range gen.Lifecycles(16, 2, gen.Options{Start: time.Now().Add(-time.Hour)}) {
		for _, ev := range l.Events {
			lines = append(lines, string(event.EncodeDetail(&ev)))
			ids = append(ids, ev.EventID)
		}
	}
	n := len(ids)
	f.run(strings.Join(lines, "\n"), "send", "--local").want(t, ExitOK)
	waitFor(t, 60*time.Second, fmt.Sprintf("%d events settled", n), func() bool { return len(results()) >= n })
	for _, r := range results() {
		// Stale: a later seq of the order was applied first; its execution
		// is recorded all the same (DESIGN §3).
		if r.Outcome != string(processor.Applied) && r.Outcome != string(processor.Stale) {
			t.Fatalf("live event %s settled %s, want applied or stale", r.EventID, r.Outcome)
		}
	}
	ddb := dynamodb.NewFromConfig(f.cfg(primary))
	before := scanTable(t, ddb, p.Resources.Table)
	logBefore := procOut.String()

	r := f.run("", "replay", "--local", "--from", from.Format(time.RFC3339Nano), "--to", "now", "--poll", "50ms", "--settle", "30s")
	r.want(t, ExitOK)
	_, name, _ := strings.Cut(r.stderr, "started replay ")
	name, _, _ = strings.Cut(name, "\n")
	if !strings.HasPrefix(name, "tap-"+f.names.Env+"-replay-"+from.Format("20060102T150405Z")+"-") {
		t.Errorf("replay name %q, want tap-%s-replay-<from>-<to>", name, f.names.Env)
	}
	if !contains(r.stdout, name, "COMPLETED", "100% replayed", fmt.Sprintf("settled locally  %d duplicate, 0 applied, 0 stale, 0 rejected", n)) {
		t.Errorf("report lacks the replay, its state or the counts:\n%s", r.stdout)
	}
	if !contains(r.stderr, "started replay "+name, "cancel it with: tapctl replay cancel "+name, " --local",
		"aws events cancel-replay --replay-name "+name, "--endpoint-url "+p.Resources.Endpoint, "rules", p.Resources.RuleARN, "100%") {
		t.Errorf("stderr lacks the plan, the cancel commands or the progress:\n%s", r.stderr)
	}

	// Every replayed event settled again, as a duplicate.
	waitFor(t, 30*time.Second, fmt.Sprintf("%d replayed events settled", n), func() bool { return len(results()) >= 2*n })
	var again []string
	for _, res := range results()[n:] {
		if res.Outcome != string(processor.Duplicate) {
			t.Errorf("replayed event %s settled %s, want duplicate", res.EventID, res.Outcome)
		}
		again = append(again, res.EventID)
	}
	sort.Strings(ids)
	sort.Strings(again)
	if !reflect.DeepEqual(again, ids) {
		t.Errorf("replayed events %v, want the published %v", again, ids)
	}

	// I1: the table is unchanged, item by item.
	after := scanTable(t, ddb, p.Resources.Table)
	if len(after) != len(before) {
		t.Errorf("table has %d items after the replay, %d before", len(after), len(before))
	}
	for k, item := range before {
		if !reflect.DeepEqual(after[k], item) {
			t.Errorf("item %s changed by the replay:\nbefore %v\nafter  %v", k, item, after[k])
		}
	}

	// The replayed invocations' metrics: duplicates, and no PipelineLatency
	// (the processor skips it for an event with replay-name).
	docs := 0
	for _, line := range strings.Split(strings.TrimPrefix(procOut.String(), logBefore), "\n") {
		if !strings.HasPrefix(line, `{"_aws"`) {
			continue
		}
		docs++
		if strings.Contains(line, metrics.PipelineLatency) || !strings.Contains(line, metrics.EventsDuplicate) {
			t.Errorf("replayed invocation's metrics %s: want EventsDuplicate and no PipelineLatency", line)
		}
	}
	if docs != n {
		t.Errorf("%d metric documents for the replay, want %d", docs, n)
	}

	// The finished replay can be reported again.
	st := f.run("", "replay", "status", name, "--local", "-o", "json").want(t, ExitOK)
	var rep replayReport
	st.decode(t, &rep)
	if rep.Replay.Name != name || rep.Replay.State != replay.Completed {
		t.Errorf("replay status = %+v, want %s COMPLETED", rep.Replay, name)
	}
}

// scanTable reads every item of table, keyed by PK and SK.
func scanTable(t *testing.T, ddb *dynamodb.Client, table string) map[string]map[string]any {
	t.Helper()
	items := map[string]map[string]any{}
	p := dynamodb.NewScanPaginator(ddb, &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, av := range out.Items {
			var item map[string]any
			if err := attributevalue.UnmarshalMap(av, &item); err != nil {
				t.Fatal(err)
			}
			items[fmt.Sprintf("%v|%v", item["PK"], item["SK"])] = item
		}
	}
	return items
}

func TestReplayRefusesBadWindowsBeforeAnyCall(t *testing.T) {
	f := newFixture(t)
	fake := newFakeAWS(t, func(r recorded, w http.ResponseWriter) { awsJSON(w, 200, "{}") })
	f.env.Endpoints["EventBridge"] = fake.URL
	now := time.Now().UTC()
	at := now.Add(-time.Hour).Format(time.RFC3339)
	for _, tt := range []struct {
		args []string
		says []string
	}{
		{[]string{"--from", at, "--to", at}, []string{"zero length", "give a to after from"}},
		{[]string{"--from", "-1h", "--to", "-2h"}, []string{"swap them"}},
		{[]string{"--from", "-1h", "--to", now.Add(time.Hour).Format(time.RFC3339)}, []string{"is after now", "give a to of now or earlier"}},
		{[]string{"--from", "-1h", "--to", "+1h"}, []string{"--to \"+1h\"", "RFC 3339"}},
		{[]string{"--from", "yesterday", "--to", "now"}, []string{"--from \"yesterday\"", "RFC 3339"}},
		{[]string{"--to", "now"}, []string{"--from and --to are required"}},
		{[]string{"--from", "-1h", "--to", "now", "--poll", "0s"}, []string{"--poll"}},
	} {
		r := f.run("", append([]string{"replay"}, tt.args...)...)
		if r.code != ExitUsage || !contains(r.stderr, tt.says...) {
			t.Errorf("tapctl replay %v: exit %d, stderr %q; want %d saying %q", tt.args, r.code, r.stderr, ExitUsage, tt.says)
		}
	}
	if calls := fake.calls(); len(calls) != 0 {
		t.Errorf("refused windows made %d EventBridge calls, want none: %v", len(calls), calls)
	}
}

// deployArchive creates the env's bus, processor rule and archive in moto,
// as the Processing stack deploys them, and returns the archive's creation.
func (f *fixture) deployArchive(t *testing.T) time.Time {
	t.Helper()
	ctx := context.Background()
	eb := eventbridge.NewFromConfig(f.cfg(primary))
	bus, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(f.names.Bus())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(f.names.ProcessorRule()), EventBusName: aws.String(f.names.Bus()),
		EventPattern: aws.String(`{"source":["tap.trading"]}`)}); err != nil {
		t.Fatal(err)
	}
	a, err := eb.CreateArchive(ctx, &eventbridge.CreateArchiveInput{ArchiveName: aws.String(f.names.Archive()), EventSourceArn: bus.EventBusArn,
		EventPattern: aws.String(`{"source":["tap.trading"]}`), RetentionDays: aws.Int32(90)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToTime(a.CreationTime)
}

// replays lists the replays of the env's archive in moto.
func (f *fixture) replays(t *testing.T) []string {
	t.Helper()
	out, err := eventbridge.NewFromConfig(f.cfg(primary)).ListReplays(context.Background(), &eventbridge.ListReplaysInput{NamePrefix: aws.String("tap-" + f.names.Env + "-replay-")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range out.Replays {
		names = append(names, aws.ToString(r.ReplayName))
	}
	return names
}

func TestReplayRefusesWindowBeforeTheArchive(t *testing.T) {
	f := newFixture(t)
	created := f.deployArchive(t)
	r := f.run("", "replay", "--region", primary, "--from", created.Add(-time.Hour).Format(time.RFC3339), "--to", "now")
	r.want(t, ExitFailure)
	if !contains(r.stderr, "outside the archive's retention", f.names.Archive(), "give a from at or after") {
		t.Errorf("stderr %q: want the refusal naming the archive and the earliest from", r.stderr)
	}
	if got := f.replays(t); len(got) != 0 {
		t.Errorf("a refused replay started %v", got)
	}
}

func TestReplayDryRunStartsNothing(t *testing.T) {
	f := newFixture(t)
	created := f.deployArchive(t)
	r := f.run("", "replay", "--region", primary, "--from", created.Format(time.RFC3339Nano), "--to", "now", "--dry-run")
	r.want(t, ExitOK)
	if !contains(r.stdout, "dry run, nothing started", "tap-"+f.names.Env+"-replay-", f.names.Archive(), "keeps events 90 days",
		"event-bus/"+f.names.Bus(), "rule/"+f.names.Bus()+"/"+f.names.ProcessorRule()) {
		t.Errorf("dry run output lacks the archive, bus or rule:\n%s", r.stdout)
	}
	if got := f.replays(t); len(got) != 0 {
		t.Errorf("a dry run started %v", got)
	}
	all := f.run("", "replay", "--region", primary, "--from", created.Format(time.RFC3339Nano), "--to", "now", "--dry-run", "--all-rules")
	if all.want(t, ExitOK); !strings.Contains(all.stdout, "every rule of the bus") {
		t.Errorf("--all-rules dry run:\n%s", all.stdout)
	}
}

// fakeReplayAWS is a loopback EventBridge for what moto cannot show: a
// replay that is STARTING or RUNNING, and its progress (moto 5.2.1 runs a
// replay to completion inside StartReplay and has no
// EventLastReplayedTime), and archives older than their retention (moto's
// archives are created when the test creates them).
type fakeReplayAWS struct {
	*fakeAWS
	mu       sync.Mutex
	describe []string // DescribeReplay answers in turn; the last repeats
}

const fakeBusARN = "arn:aws:events:us-east-1:111122223333:event-bus/"

func (f *fixture) fakeReplay(t *testing.T, created time.Time, retentionDays int, listed string, describe ...string) *fakeReplayAWS {
	t.Helper()
	fr := &fakeReplayAWS{describe: describe}
	archiveARN := "arn:aws:events:us-east-1:111122223333:archive/" + f.names.Archive()
	fr.fakeAWS = newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		switch strings.TrimPrefix(r.Target, "AWSEvents.") {
		case "DescribeArchive":
			awsJSON(w, 200, fmt.Sprintf(`{"ArchiveName":%q,"ArchiveArn":%q,"EventSourceArn":%q,"State":"ENABLED","CreationTime":%d,"RetentionDays":%d,"EventCount":7}`,
				f.names.Archive(), archiveARN, fakeBusARN+f.names.Bus(), created.Unix(), retentionDays))
		case "ListReplays":
			if strings.Contains(string(r.Body), "NamePrefix") {
				awsJSON(w, 200, `{"Replays":[]}`)
				return
			}
			awsJSON(w, 200, `{"Replays":[`+listed+`]}`)
		case "DescribeRule":
			awsJSON(w, 200, fmt.Sprintf(`{"Name":%q,"Arn":"arn:aws:events:us-east-1:111122223333:rule/%s/%s"}`, f.names.ProcessorRule(), f.names.Bus(), f.names.ProcessorRule()))
		case "StartReplay":
			awsJSON(w, 200, fmt.Sprintf(`{"ReplayArn":"arn:aws:events:us-east-1:111122223333:replay/x","State":"STARTING","ReplayStartTime":%d}`, time.Now().Unix()))
		case "DescribeReplay":
			fr.mu.Lock()
			body := fr.describe[0]
			if len(fr.describe) > 1 {
				fr.describe = fr.describe[1:]
			}
			fr.mu.Unlock()
			awsJSON(w, 200, body)
		case "CancelReplay":
			awsJSON(w, 200, `{"ReplayArn":"arn:aws:events:us-east-1:111122223333:replay/x","State":"CANCELLING"}`)
		default:
			awsError(w, 400, "UnknownOperationException", r.Target)
		}
	})
	f.env.Endpoints["EventBridge"] = fr.URL
	return fr
}

func (fr *fakeReplayAWS) ops() []string {
	var ops []string
	for _, c := range fr.calls() {
		ops = append(ops, strings.TrimPrefix(c.Target, "AWSEvents."))
	}
	return ops
}

// replayJSON is a Replay or DescribeReplay answer.
func replayJSON(name, state string, w replay.Window, last time.Time) string {
	s := fmt.Sprintf(`{"ReplayName":%q,"State":%q,"EventStartTime":%d,"EventEndTime":%d,"ReplayStartTime":%d`,
		name, state, w.From.Unix(), w.To.Unix(), time.Now().Add(-time.Minute).Unix())
	if !last.IsZero() {
		s += fmt.Sprintf(`,"EventLastReplayedTime":%d`, last.Unix())
	}
	if state == "COMPLETED" {
		s += fmt.Sprintf(`,"ReplayEndTime":%d`, time.Now().Unix())
	}
	return s + "}"
}

func TestReplayRefusesOutsideRetentionDays(t *testing.T) {
	f := newFixture(t)
	now := time.Now().UTC()
	fr := f.fakeReplay(t, now.Add(-400*24*time.Hour), 90, "")
	r := f.run("", "replay", "--from", "-2400h", "--to", "-2376h")
	r.want(t, ExitFailure)
	if !contains(r.stderr, "keeps events 90 days", "give a from at or after") {
		t.Errorf("stderr %q: want the retention named", r.stderr)
	}
	if ops := fr.ops(); fmt.Sprint(ops) != "[DescribeArchive]" {
		t.Errorf("calls %v, want only DescribeArchive", ops)
	}
}

func TestReplayRefusesOverlapWithRunningReplay(t *testing.T) {
	f := newFixture(t)
	now := time.Now().UTC().Truncate(time.Second)
	other := "tap-" + f.names.Env + "-replay-other"
	fr := f.fakeReplay(t, now.Add(-24*time.Hour), 0, replayJSON(other, "RUNNING", replay.Window{From: now.Add(-3 * time.Hour), To: now.Add(-90 * time.Minute)}, time.Time{}))
	r := f.run("", "replay", "--from", "-2h", "--to", "-1h")
	r.want(t, ExitFailure)
	if !contains(r.stderr, "overlaps an active replay", other, "RUNNING", "tapctl replay cancel "+other+" --env "+f.names.Env,
		"aws events cancel-replay --replay-name "+other+" --region us-east-1") {
		t.Errorf("stderr %q: want the other replay named with how to cancel it", r.stderr)
	}
	for _, op := range fr.ops() {
		if op == "StartReplay" {
			t.Errorf("an overlapping replay was started: %v", fr.ops())
		}
	}
}

func TestReplayFollowsProgressToCompleted(t *testing.T) {
	f := newFixture(t)
	now := time.Now().UTC().Truncate(time.Second)
	w := replay.Window{From: now.Add(-2 * time.Hour), To: now.Add(-time.Hour)}
	name := replay.BaseName(f.names, w)
	fr := f.fakeReplay(t, now.Add(-24*time.Hour), 0, "",
		replayJSON(name, "STARTING", w, time.Time{}),
		replayJSON(name, "RUNNING", w, w.From.Add(15*time.Minute)),
		replayJSON(name, "RUNNING", w, w.From.Add(45*time.Minute)),
		replayJSON(name, "COMPLETED", w, w.To))
	r := f.run("", "replay", "--from", w.From.Format(time.RFC3339), "--to", w.To.Format(time.RFC3339), "--poll", "1ms")
	r.want(t, ExitOK)
	if !contains(r.stderr, "started replay "+name, "cancel it with: tapctl replay cancel "+name+" --env "+f.names.Env+" --region us-east-1",
		"aws events cancel-replay --replay-name "+name+" --region us-east-1",
		name+": STARTING   0%", name+": RUNNING  25%", name+": RUNNING  75%", name+": COMPLETED 100%") {
		t.Errorf("stderr lacks the cancel commands or the progress lines:\n%s", r.stderr)
	}
	if !contains(r.stdout, name, "COMPLETED", "100% replayed", w.String()) {
		t.Errorf("report:\n%s", r.stdout)
	}
	// The replay asked for: the archive into its own bus, the window, only
	// the processor rule.
	for _, c := range fr.calls() {
		if c.Target != "AWSEvents.StartReplay" {
			continue
		}
		var in struct {
			ReplayName, EventSourceArn   string
			EventStartTime, EventEndTime float64
			Destination                  struct {
				Arn        string
				FilterArns []string
			}
		}
		if err := json.Unmarshal(c.Body, &in); err != nil {
			t.Fatal(err)
		}
		if in.ReplayName != name || !strings.HasSuffix(in.EventSourceArn, f.names.Archive()) || in.Destination.Arn != fakeBusARN+f.names.Bus() ||
			int64(in.EventStartTime) != w.From.Unix() || int64(in.EventEndTime) != w.To.Unix() ||
			len(in.Destination.FilterArns) != 1 || !strings.HasSuffix(in.Destination.FilterArns[0], "/"+f.names.ProcessorRule()) {
			t.Errorf("StartReplay %s", c.Body)
		}
	}
}

func TestReplayInterruptedKeepsRunningUnlessAsked(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	w := replay.Window{From: now.Add(-2 * time.Hour), To: now.Add(-time.Hour)}
	for _, cancelIt := range []bool{false, true} {
		f := newFixture(t)
		name := replay.BaseName(f.names, w)
		fr := f.fakeReplay(t, now.Add(-24*time.Hour), 0, "", replayJSON(name, "RUNNING", w, w.From.Add(30*time.Minute)))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond) // Ctrl-C
		args := []string{"replay", "--from", w.From.Format(time.RFC3339), "--to", w.To.Format(time.RFC3339), "--poll", "10ms"}
		if cancelIt {
			args = append(args, "--cancel-on-interrupt")
		}
		r := f.runContext(ctx, "", args...)
		cancel()
		r.want(t, ExitFailure)
		cancelled := strings.Contains(strings.Join(fr.ops(), " "), "CancelReplay")
		switch {
		case !cancelIt && (cancelled || !contains(r.stderr, "replay "+name+" goes on in EventBridge", "RUNNING, 50%",
			"follow it with: tapctl replay status "+name, "cancel it with: tapctl replay cancel "+name)):
			t.Errorf("interrupted, cancel %v: calls %v, stderr:\n%s", cancelIt, fr.ops(), r.stderr)
		case cancelIt && (!cancelled || !strings.Contains(r.stderr, "replay "+name+" is CANCELLING")):
			t.Errorf("interrupted with --cancel-on-interrupt: calls %v, stderr:\n%s", fr.ops(), r.stderr)
		}
	}
}

func TestReplayCancelCommand(t *testing.T) {
	f := newFixture(t)
	fr := f.fakeReplay(t, time.Now().Add(-time.Hour), 0, "")
	r := f.run("", "replay", "cancel", "tap-x-replay-1")
	r.want(t, ExitOK)
	if !strings.Contains(r.stdout, "replay tap-x-replay-1 is CANCELLING") || fmt.Sprint(fr.ops()) != "[CancelReplay]" {
		t.Errorf("cancel: %+v, calls %v", r, fr.ops())
	}
	var body bytes.Buffer
	body.Write(fr.calls()[0].Body)
	if !strings.Contains(body.String(), `"ReplayName":"tap-x-replay-1"`) {
		t.Errorf("CancelReplay %s", body.String())
	}
}

func TestReplayProgressRedrawsOnlyOnATerminal(t *testing.T) {
	w := replay.Window{From: time.Date(2026, 1, 5, 14, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)}
	states := []replay.Status{
		{Name: "r", State: replay.Running, Window: w, LastReplayed: w.From.Add(30 * time.Minute)},
		{Name: "r", State: replay.Running, Window: w, LastReplayed: w.From.Add(30 * time.Minute)},
		{Name: "r", State: replay.Completed, Window: w, LastReplayed: w.To},
	}
	var term, plain bytes.Buffer
	pt := &replayProgress{w: &term, interactive: true}
	pp := &replayProgress{w: &plain}
	for _, s := range states {
		pt.show(s)
		pp.show(s)
	}
	pt.done()
	pp.done()
	if got, want := plain.String(), "replay r: RUNNING  50% (events up to 2026-01-05T14:30:00Z)\nreplay r: COMPLETED 100% (events up to 2026-01-05T15:00:00Z)\n"; got != want {
		t.Errorf("plain progress:\n%q\nwant:\n%q", got, want)
	}
	if got := term.String(); strings.Count(got, "\r\033[K") != 3 || !strings.HasSuffix(got, "100% (events up to 2026-01-05T15:00:00Z)\n") {
		t.Errorf("terminal progress %q: want three redraws ending in a newline", got)
	}
}
