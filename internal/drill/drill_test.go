package drill

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/partition"
)

var hang = flag.Bool("hang", false, "cut the primary with hung connections instead of refused ones")

// short is a drill scaled to run in well under a minute per scenario on two
// cores: 2 s periods, N = 2.
func short(s Scenario) Config {
	return Config{
		Scenario: s, Seed: 42,
		Period: 2 * time.Second, Periods: 2, Threshold: 5 * time.Second,
		Rate: 2, Duplicates: 0.1, Lag: 50 * time.Millisecond,
		Warmup: 4 * time.Second, Outage: 4 * time.Second, Cooldown: 2 * time.Second,
		PhaseTimeout: time.Minute,
	}
}

func runDrill(t *testing.T, cfg Config) *Report {
	t.Helper()
	var progress bytes.Buffer
	cfg.Progress = func(p Progress) { progress.WriteString(p.Line() + "\n"); t.Log(p.Line()) }
	cfg.OnError = func(err error) { t.Log("survived:", err) }
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Logf("progress:\n%s", progress.String())
		t.Fatalf("Run: %v", err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Logf("report:\n%s", text.String())
	if !rep.OK() {
		t.Logf("progress:\n%s", progress.String())
		t.Error("the drill failed its checks")
	}
	if rep.Lost != 0 || rep.Accepted == 0 || !strings.HasPrefix(rep.Replicas, "identical") {
		t.Errorf("lost %d of %d accepted, replicas %s; want 0 lost and identical replicas", rep.Lost, rep.Accepted, rep.Replicas)
	}
	return rep
}

func TestRegionLossFailsOverAndBackWithoutLoss(t *testing.T) {
	cfg := short(RegionLoss)
	cfg.Mode = partition.Refuse
	if *hang {
		cfg.Mode = partition.Hang
	}
	rep := runDrill(t, cfg)
	if !rep.FailureToRouted.Measured || !rep.HealToFailback.Measured || !rep.FailureToFirstApplied.Measured {
		t.Errorf("routing: cut→routed %s, heal→failback %s, cut→first applied %s; want all three", rep.FailureToRouted, rep.HealToFailback, rep.FailureToFirstApplied)
	}
	if rep.AcceptedDuringOutage == 0 {
		t.Error("no event was accepted during the outage: the load did not go on through the secondary")
	}
	var transitions []string
	for _, h := range rep.Health {
		if h.Region == rep.Primary {
			transitions = append(transitions, map[bool]string{true: "healthy", false: "unhealthy"}[h.Healthy])
		}
	}
	if strings.Join(transitions, ",") != "unhealthy,healthy" {
		t.Errorf("primary transitions %v, want [unhealthy healthy]", transitions)
	}
}

func TestProcessorFailureDoesNotFailOver(t *testing.T) {
	cfg := short(ProcessorFailure)
	// N = 3, as `make drill`: "must not move" is checked on a machine
	// running other test packages too, where a 4 s stall of the local AWS
	// alone would read as two missing periods. The fault lasts 2N periods.
	cfg.Periods = 3
	cfg.Outage = 2 * cfg.Period * time.Duration(cfg.Periods)
	rep := runDrill(t, cfg)
	for _, h := range rep.Health {
		if h.Region == rep.Primary && !h.Healthy {
			t.Errorf("the primary turned unhealthy at %s: a processor failure must not fail over", h.At)
		}
	}
	if rep.Regions[0].DynamoDBOps[OpError] == 0 {
		t.Error("the primary's processor saw no DynamoDB error: the fault was not injected")
	}
	if rep.Redriven == 0 {
		t.Error("nothing was redriven: no event waited in the DLQ")
	}
}

func TestCutOfAnUnknownRegionFails(t *testing.T) {
	var e Env
	if err := e.Cut("eu-west-9"); err == nil || !strings.Contains(err.Error(), "not a region of this run") {
		t.Errorf("Cut(eu-west-9) = %v, want an error naming the run's regions", err)
	}
	if err := e.Heal("eu-west-9"); err == nil {
		t.Error("Heal(eu-west-9) = nil, want an error")
	}
	if err := e.FailProcessor("eu-west-9"); err == nil {
		t.Error("FailProcessor(eu-west-9) = nil, want an error")
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
		{Config{Periods: 11}, "--periods"},
		{Config{Rate: 500}, "--rate"},
		{Config{Duplicates: 2}, "--duplicates"},
		{Config{Lag: -time.Second}, "--lag"},
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
