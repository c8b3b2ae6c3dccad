package drill

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/twin"
)

// short is a drill scaled to run in well under a minute per scenario on two
// cores: the deployed alarm and health check at 2 s periods, the shortest
// warm-up and outage the drill allows.
func short(s Scenario) Config {
	return Config{
		Scenario: s, Seed: 42, Period: 2 * time.Second,
		Rate: 3, Duplicates: 0.1, Conflicts: 0.05, Lag: 50 * time.Millisecond, LagJitter: 150 * time.Millisecond,
		Warmup: 4 * time.Second, Outage: 2 * time.Second, Cooldown: 2 * time.Second,
		PhaseTimeout: time.Minute,
	}
}

func runDrill(t *testing.T, cfg Config) *Report {
	t.Helper()
	var progress bytes.Buffer
	cfg.Progress = func(p Progress) { progress.WriteString(p.Line() + "\n") }
	cfg.TimelineDir = t.TempDir()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Logf("progress:\n%s", progress.String())
		t.Fatalf("Run: %v", err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if !rep.OK() {
		t.Logf("progress:\n%s", progress.String())
		t.Logf("report:\n%s", text.String())
		t.Error("the drill failed its checks")
	}
	if rep.Lost != 0 || rep.Accepted == 0 || !strings.HasPrefix(rep.Replicas, "identical") {
		t.Errorf("lost %d of %d accepted, replicas %s; want 0 lost and identical replicas", rep.Lost, rep.Accepted, rep.Replicas)
	}
	name := string(cfg.Scenario)
	if cfg.Consistency == schema.Strong {
		name += "-strong"
	}
	if rep.Consistency != cfg.Consistency && !(cfg.Consistency == "" && rep.Consistency == schema.Eventual) {
		t.Errorf("report's table mode %q, want %q", rep.Consistency, cfg.Consistency)
	}
	if b, err := os.ReadFile(filepath.Join(cfg.TimelineDir, name+".html")); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("timeline: %v (%d bytes), want an HTML file with an SVG", err, len(b))
	}
	return rep
}

// TestScenarios runs a short version of every scenario; each asserts its
// own checks through Report.OK, and a few figures are asserted here too, so
// a check that silently passed would still be caught.
func TestScenarios(t *testing.T) {
	for _, mode := range []schema.Consistency{schema.Eventual, schema.Strong} {
		t.Run(string(mode), func(t *testing.T) { testScenarios(t, mode) })
	}
}

// testScenarios runs every scenario with the table in mode.
func testScenarios(t *testing.T, mode schema.Consistency) {
	for _, s := range All() {
		t.Run(string(s), func(t *testing.T) {
			cfg := short(s)
			cfg.Consistency = mode
			rep := runDrill(t, cfg)
			if mode == schema.Strong {
				// Every acknowledged write was in both replicas or the
				// witness's log: nothing was at risk with a region.
				if rep.Strong == nil || rep.Strong.AckedBoth+rep.Strong.AckedViaWitness == 0 || rep.RPOWrites != 0 {
					t.Errorf("MRSC figures %+v, RPO %d: want writes acknowledged by the quorum and an RPO of 0", rep.Strong, rep.RPOWrites)
				}
			}

			switch s {
			case RegionLoss, RegionLossHang, Brownout:
				if !rep.FailureToRouted.Measured || !rep.HealToFailback.Measured || rep.AcceptedDuringOutage == 0 {
					t.Errorf("routed %s, failback %s, accepted during the outage %d: want a failover and a failback under load",
						rep.FailureToRouted, rep.HealToFailback, rep.AcceptedDuringOutage)
				}
				if len(rep.Routes) != 2 {
					t.Errorf("routes %v, want exactly two changes", rep.Routes)
				}
			case SecondaryLoss, Partition, LambdaRefusal, ProcessorFailure:
				if len(rep.Routes) != 0 {
					t.Errorf("routes %v, want none", rep.Routes)
				}
			}
			if s == LambdaRefusal && rep.Redriven == 0 {
				t.Error("nothing was redriven from the delivery DLQ")
			}
		})
	}
}

// TestLastKnownStatusNeverFailsOverOnRegionLoss is the evidence for the
// deployed InsufficientDataHealthStatus (DESIGN §1): with LastKnownStatus,
// a region loss that takes the primary's CloudWatch with it leaves routing
// on the dead primary.
func TestLastKnownStatusNeverFailsOverOnRegionLoss(t *testing.T) {
	cfg := short(RegionLoss)
	cfg.InsufficientData = "LastKnownStatus"
	cfg.PhaseTimeout = cfg.windowsOf().detect + cfg.windowsOf().recover
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The drill gives up waiting after PhaseTimeout and heals the primary
	// then; the alarm it evaluated inside the cut region reads ALARM on
	// its return, so routing may move after the heal — backwards, but not
	// during the outage.
	if rep.FailureToRouted.Measured && rep.FailureToRouted.Local <= cfg.PhaseTimeout {
		t.Errorf("routing moved %s after the cut, while the primary was still cut, with LastKnownStatus; want it to stay (Route 53 keeps the last status of an alarm it cannot read)", rep.FailureToRouted)
	}
	if rep.OK() {
		t.Error("the drill passed; want its routing check to fail")
	}
	if rep.Lost != 0 {
		t.Errorf("lost %d: routing stuck on a dead primary refuses entries, the producer keeps them", rep.Lost)
	}
}

func TestConfigValidateNamesTheFlag(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Primary: "us-east-1", Secondary: "us-east-1"}, "--regions"},
		{Config{Primary: "useast1"}, "--regions"},
		{Config{Scenario: "flood"}, "--scenario"},
		{Config{Period: time.Millisecond}, "--period"},
		{Config{InsufficientData: "Maybe"}, "--insufficient-data"},
		{Config{Rate: 500}, "--rate"},
		{Config{Duplicates: 2}, "--duplicates"},
		{Config{Conflicts: 0.9}, "--conflicts"},
		{Config{Lag: -time.Second}, "--lag"},
		{Config{Skew: 3 * time.Second}, "--skew"},
		{Config{Warmup: time.Millisecond}, "--warmup"},
		{Config{PhaseTimeout: time.Second}, "--phase-timeout"},
	} {
		if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tt.cfg, err, tt.want)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

// TestCrashedAWSGivesAVerdict crashes the secondary's local AWS after the
// scenario, under load (an emulator that stopped answering): the drill
// still ends within its phase timeouts with a report, not an error; the
// checks that could not read fail and name the region, and the loss check
// is "not established" rather than passed.
func TestCrashedAWSGivesAVerdict(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts the two-region twin")
	}
	cfg := short(RegionLoss)
	cfg.PhaseTimeout = 30 * time.Second
	var crashed string
	cfg.afterScenario = func(e *twin.Env) {
		crashed = e.Secondary()
		if err := e.CrashAWS(crashed); err != nil {
			t.Errorf("crash: %v", err)
		}
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v, want a report with failed checks", err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if rep.OK() {
		t.Fatalf("the drill passed with a crashed region:\n%s", text.String())
	}
	if crashed == "" || len(rep.Unreadable) == 0 || !strings.Contains(strings.Join(rep.Unreadable, "\n"), crashed) {
		t.Errorf("unreadable %q, want the crashed region named", rep.Unreadable)
	}
	for _, c := range rep.Checks {
		if c.Name == "0 events lost" && (c.OK || !strings.Contains(c.Detail, "not established")) {
			t.Errorf("loss check %v %q, want failed as not established", c.OK, c.Detail)
		}
	}
	if !strings.Contains(rep.Cause, "the local AWS of "+crashed+" does not answer") || strings.Contains(rep.Cause, "of "+rep.Primary) {
		t.Errorf("cause %q, want the crashed region %s alone named", rep.Cause, crashed)
	}
	if !strings.Contains(text.String(), "UNREADABLE") {
		t.Errorf("the text report does not show what was unreadable:\n%s", text.String())
	}
	t.Logf("the verdict, in %s:\n%s", rep.Elapsed.Round(time.Second), text.String())
}

// TestMeasureCapacity holds the measurement to what it claims, whatever
// the machine's load (CI runs other packages beside it): the steps stop at
// the first rate not sustained, a rate no producer reaches is never
// sustained, the capacity is the last sustained rate with what bounded the
// next, and each event's emulator calls are counted per region.
func TestMeasureCapacity(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts the two-region twin")
	}
	var steps []CapacityStep
	rates := []float64{2, 2000}
	c, err := MeasureCapacity(context.Background(), CapacityConfig{
		Rates: rates, Step: 5 * time.Second, Progress: func(s CapacityStep) { steps = append(steps, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	c.WriteText(&text)
	t.Logf("\n%s", text.String())
	if len(c.Steps) == 0 || len(steps) != len(c.Steps) {
		t.Fatalf("%d steps, %d told to Progress: want every step measured and told", len(c.Steps), len(steps))
	}
	last := c.Steps[len(c.Steps)-1]
	if last.Sustained {
		t.Fatalf("steps %+v: want the measurement to end at a rate not sustained (2000/s is out of reach)", c.Steps)
	}
	want := 0.0
	for i, s := range c.Steps[:len(c.Steps)-1] {
		if !s.Sustained || s.Offered != rates[i] {
			t.Fatalf("step %d %+v: want every step before the last sustained, at the rates asked", i, s)
		}
		want = s.Offered
	}
	if c.EventsPerSecond != want || !strings.Contains(c.Limit, fmt.Sprintf("at %g events/s", last.Offered)) {
		t.Errorf("capacity %g, limit %q: want %g and what bounded %g/s", c.EventsPerSecond, c.Limit, want, last.Offered)
	}
	counted := 0
	for region, calls := range c.Steps[0].Calls {
		if c.Steps[0].Processed[region] == 0 {
			continue
		}
		counted++
		if calls["DynamoDB_20120810.PutItem"]+calls["DynamoDB_20120810.UpdateItem"] <= 0 || calls["AmazonSQS.ReceiveMessage"] <= 0 {
			t.Errorf("%s: calls per event %v, want DynamoDB writes and SQS receives counted", region, calls)
		}
	}
	if counted == 0 {
		t.Errorf("first step %+v: no region processed an event after the warm-up", c.Steps[0])
	}
}

// TestSustains pins the rule a step is judged by.
func TestSustains(t *testing.T) {
	both := func(a, b int) map[string]int { return map[string]int{"us-east-1": a, "us-west-2": b} }
	for _, tc := range []struct {
		name             string
		accepted         int
		settled, backlog map[string]int
		want             bool
	}{
		{"all accepted and settled", 100, both(100, 100), both(0, 0), true},
		{"two events of slack", 88, both(78, 78), both(10, 10), true},
		{"the endpoint accepted too few", 80, both(80, 80), both(0, 0), false},
		{"one region settled too few", 100, both(100, 80), both(0, 20), false},
		{"a backlog over 2 s of the rate", 100, both(100, 100), both(0, 21), false},
	} {
		if got := sustains(10, 10, tc.accepted, tc.settled, tc.backlog); got != tc.want {
			t.Errorf("%s: sustains = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestOverloadGivesAVerdict drives the twin far above its capacity (the
// drill's own refusal is the CLI's, --capacity): the drill still ends
// within its phase timeouts with a report, its quiesce check failed naming
// what each region still had to do, and the accepted rate below the
// offered one.
func TestOverloadGivesAVerdict(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts the two-region twin")
	}
	cfg := short(RegionLoss)
	cfg.Rate = 40
	cfg.PhaseTimeout = 30 * time.Second
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v, want a report with failed checks", err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Logf("the verdict, in %s:\n%s", rep.Elapsed.Round(time.Second), text.String())
	if rep.OK() {
		t.Fatal("the drill passed at 40 events/s on the twin; want its checks to fail")
	}
	if !(rep.Achieved > 0 && rep.Achieved < cfg.Rate) {
		t.Errorf("accepted %.1f/s of %g offered: want the shortfall measured", rep.Achieved, cfg.Rate)
	}
	var quiesced bool
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.Name, "quiesced") {
			quiesced = true
			if c.OK || !strings.Contains(c.Detail, "table-backlog") {
				t.Errorf("quiesce check %v %q: want failed, naming each region's backlog", c.OK, c.Detail)
			}
		}
	}
	if !quiesced {
		t.Error("no quiesce check in the report")
	}
}
