package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// order writes the state item of order i into r, with the attributes TAP
// writes (numbers, strings) and some of every other type.
func order(t *testing.T, r Replica, i int, extra map[string]types.AttributeValue) {
	t.Helper()
	attrs := map[string]types.AttributeValue{
		"status":    s("FILLED"),
		"cumQty":    n(fmt.Sprintf("%d.50", i)),
		"processed": &types.AttributeValueMemberBOOL{Value: true},
		"tags":      &types.AttributeValueMemberSS{Value: []string{"a", "b", "c"}},
		"legs":      &types.AttributeValueMemberL{Value: []types.AttributeValue{s("x"), n("1")}},
		"meta":      &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": s("v"), "q": n("2")}},
	}
	for k, v := range extra {
		attrs[k] = v
	}
	put(t, r, fmt.Sprintf("ORDER#%02d", i), "STATE", attrs)
}

// fill writes orders 0..count-1 into both replicas.
func (p *pair) fill(count int) {
	for i := range count {
		order(p.t, p.a, i, nil)
		order(p.t, p.b, i, nil)
	}
}

func TestIdenticalReplicasCompareEqual(t *testing.T) {
	p := newPair(t)
	for i := range 40 {
		order(t, p.a, i, nil)
		// The same values spelled otherwise: numbers by value, sets and
		// maps in another order.
		order(t, p.b, i, map[string]types.AttributeValue{
			"cumQty": n(fmt.Sprintf("%d.5", i)),
			"tags":   &types.AttributeValueMemberSS{Value: []string{"c", "a", "b"}},
			"meta":   &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"q": n("2.0"), "k": s("v")}},
		})
	}
	cfg := p.config(newFakeClock())
	cfg.Segments = 3
	res := p.run(cfg)
	if !res.Identical() || res.Items != 40 || res.Candidates != 0 {
		t.Fatalf("Run = %+v, want identical, 40 items, no candidates", res)
	}
	for i, r := range res.Regions {
		if r.Items != 40 || r.RCU <= 0 || r.Requests < 3 {
			t.Errorf("region %d stats %+v, want 40 items scanned in at least one page a segment, RCU counted", i, r)
		}
	}
}

func TestSegmentsCoverTheTableOnce(t *testing.T) {
	p := newPair(t)
	p.fill(50)
	for _, segments := range []int{1, 7} {
		cfg := p.config(newFakeClock())
		cfg.Segments, cfg.PageItems = segments, 3
		res := p.run(cfg)
		if !res.Identical() || res.Items != 50 || res.Regions[0].Items != 50 || res.Regions[1].Items != 50 {
			t.Errorf("%d segments: Run = %+v, want identical with every item scanned once in each region", segments, res)
		}
	}
}

func TestPlantedDifferencesAreReported(t *testing.T) {
	p := newPair(t)
	p.fill(20)
	order(t, p.b, 3, map[string]types.AttributeValue{"status": s("NEW"), "note": s("only here")}) // changed
	del(t, p.b, "ORDER#05", "STATE")                                                              // missing in B
	order(t, p.b, 99, nil)                                                                        // only in B
	clock := newFakeClock()
	pauses := 0
	clock.onSleep = func(from, to time.Time) {
		if to.Sub(from) == 7*time.Second {
			pauses++
		}
	}
	res := p.run(p.config(clock))

	if res.Items != 21 || res.Candidates != 3 || res.Settled != 0 || len(res.Differences) != 3 {
		t.Fatalf("Run = %+v, want 21 keys, 3 candidates, 3 differences", res)
	}
	if pauses != 1 {
		t.Errorf("%d pauses, want 1: a difference that held still is reported after one re-check", pauses)
	}
	changed, missing, extra := res.Differences[0], res.Differences[1], res.Differences[2]
	if got := changed.Key.String(); got != "PK=ORDER#03 SK=STATE" || changed.OnlyIn != "" || changed.Changing {
		t.Errorf("first difference %+v, want ORDER#03 in both, not changing", changed)
	}
	if len(changed.Attributes) != 2 {
		t.Fatalf("ORDER#03 differs in %+v, want note and status", changed.Attributes)
	}
	note, status := changed.Attributes[0], changed.Attributes[1]
	if note.Name != "note" || note.A != nil || note.B == nil || *note.B != `"only here"` {
		t.Errorf("note diff %+v, want absent in A, \"only here\" in B", note)
	}
	if status.Name != "status" || status.A == nil || *status.A != `"FILLED"` || status.B == nil || *status.B != `"NEW"` {
		t.Errorf("status diff %+v, want \"FILLED\" in A, \"NEW\" in B", status)
	}
	if missing.Key.String() != "PK=ORDER#05 SK=STATE" || missing.OnlyIn != east {
		t.Errorf("second difference %+v, want ORDER#05 only in %s", missing, east)
	}
	if extra.Key.String() != "PK=ORDER#99 SK=STATE" || extra.OnlyIn != west {
		t.Errorf("third difference %+v, want ORDER#99 only in %s", extra, west)
	}
}

func TestDifferenceRepairedDuringPauseIsNotReported(t *testing.T) {
	p := newPair(t)
	p.fill(10)
	del(t, p.b, "ORDER#07", "STATE")
	order(t, p.b, 2, map[string]types.AttributeValue{"status": s("NEW")})
	clock := newFakeClock()
	clock.onSleep = func(from, to time.Time) {
		if to.Sub(from) == 7*time.Second {
			// Replication in flight lands during the pause.
			order(t, p.b, 7, nil)
			order(t, p.b, 2, nil)
		}
	}
	res := p.run(p.config(clock))
	if !res.Identical() || res.Candidates != 2 || res.Settled != 2 {
		t.Errorf("Run = %+v, want 2 candidates, both settled on the re-check, none reported", res)
	}
}

func TestChangingItemIsRecheckedUntilTheLastRound(t *testing.T) {
	p := newPair(t)
	p.fill(5)
	order(t, p.a, 1, map[string]types.AttributeValue{"sentAt": n("0")})
	order(t, p.b, 1, map[string]types.AttributeValue{"sentAt": n("-1")})
	clock := newFakeClock()
	pauses := 0
	clock.onSleep = func(from, to time.Time) {
		if to.Sub(from) == 7*time.Second {
			// A heartbeat-like item, written again in A before each
			// re-check, replicated to B one step behind.
			pauses++
			order(t, p.a, 1, map[string]types.AttributeValue{"sentAt": n(fmt.Sprint(pauses))})
			order(t, p.b, 1, map[string]types.AttributeValue{"sentAt": n(fmt.Sprint(pauses - 1))})
		}
	}
	cfg := p.config(clock)
	cfg.Rechecks = 3
	res := p.run(cfg)
	if pauses != 3 {
		t.Errorf("%d pauses, want 3: a key that keeps changing is re-checked up to Rechecks times", pauses)
	}
	if len(res.Differences) != 1 || !res.Differences[0].Changing || res.Differences[0].Attributes[0].Name != "sentAt" {
		t.Errorf("differences %+v, want ORDER#01's sentAt, marked changing", res.Differences)
	}
}

func TestReplicationMetadataIsIgnored(t *testing.T) {
	p := newPair(t)
	// Legacy global tables stamp each replica's copy with its own values.
	rep := func(region, at string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"aws:rep:updateregion": s(region), "aws:rep:updatetime": n(at),
			"aws:rep:deleting": &types.AttributeValueMemberBOOL{Value: false},
		}
	}
	order(t, p.a, 1, rep(east, "1554766902.780001"))
	order(t, p.b, 1, rep(west, "1554766903.1"))
	order(t, p.a, 2, rep(east, "1554766902.780001"))
	order(t, p.b, 2, nil) // no metadata at all
	// Any other attribute counts, whatever its name.
	order(t, p.a, 3, map[string]types.AttributeValue{"aws:note": s("a")})
	order(t, p.b, 3, map[string]types.AttributeValue{"aws:note": s("b")})
	res := p.run(p.config(newFakeClock()))
	if len(res.Differences) != 1 || res.Differences[0].Key.String() != "PK=ORDER#03 SK=STATE" ||
		res.Differences[0].Attributes[0].Name != "aws:note" {
		t.Errorf("differences %+v, want only ORDER#03's aws:note", res.Differences)
	}
}

// TestBudgetIsHonoured checks the accounting of read capacity against what
// DynamoDB (here moto) reported, and that the run took at least the time
// the budget demands for it: virtual time, not the wall clock.
func TestBudgetIsHonoured(t *testing.T) {
	p := newPair(t)
	p.fill(30)
	a := &counting{Client: p.a.Client.(*dynamodb.Client)}
	b := &counting{Client: p.b.Client.(*dynamodb.Client)}
	clock := newFakeClock()
	start := clock.Now()
	cfg := p.config(clock)
	cfg.A.Client, cfg.B.Client = a, b
	const rcu = 2.0
	cfg.RCU, cfg.Segments, cfg.PageItems = rcu, 1, 4
	res := p.run(cfg)
	took := clock.Now().Sub(start).Seconds()

	if !res.Identical() || res.Items != 30 {
		t.Fatalf("Run = %+v, want 30 identical items", res)
	}
	// The bucket holds one second of budget, and a page's consumption is
	// known only once it is read: over the run a region may have consumed
	// at most burst + rcu·took + its last page.
	const burst, lastPage = rcu, 1.0
	for i, c := range []*counting{a, b} {
		got := res.Regions[i]
		if got.RCU != c.rcu || got.Requests != int64(c.requests) {
			t.Errorf("region %s: counted %.1f RCU in %d requests, DynamoDB reported %.1f in %d", got.Region, got.RCU, got.Requests, c.rcu, c.requests)
		}
		if got.RCU < 7 {
			t.Errorf("region %s consumed %.1f RCU, want at least a unit a page of 4 items (moto charges 1 a Scan)", got.Region, got.RCU)
		}
		if limit := burst + rcu*took + lastPage; got.RCU > limit {
			t.Errorf("region %s consumed %.1f RCU in %.2f s under a budget of %.0f RCU/s: more than %.2f", got.Region, got.RCU, took, rcu, limit)
		}
	}
	// The regions run side by side on one clock: while one waits, the
	// other's bucket fills too, so only their sum must show waiting.
	if res.Regions[0].Waited+res.Regions[1].Waited <= 0 {
		t.Error("no region ever waited on its budget")
	}
	if total := res.Regions[0].RCU + res.Regions[1].RCU; took > total/rcu {
		t.Errorf("the run took %.2f s of budget for %.1f RCU at %.0f RCU/s per region: it waited more than it needed", took, total, rcu)
	}
}

func TestFailedScanNamesRegionTableAndOperation(t *testing.T) {
	p := newPair(t)
	p.fill(3)
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: dynamodb:Scan"}
	cfg := p.config(newFakeClock())
	cfg.B.Client = &counting{Client: p.b.Client.(*dynamodb.Client), scanErr: denied}
	_, err := Run(context.Background(), cfg)
	var verr *Error
	var api smithy.APIError
	if !errors.As(err, &verr) || verr.Region != west || verr.Table != p.b.Table || verr.Op != "Scan" ||
		!errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("Run = %v, want a Scan error of %s in %s carrying the API error", err, p.b.Table, west)
	}
	if !strings.Contains(err.Error(), west) || !strings.Contains(err.Error(), p.b.Table) {
		t.Errorf("error %q does not name the region and the table", err)
	}
}

func TestConfigIsValidated(t *testing.T) {
	p := newPair(t)
	for _, tt := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.RCU = 0 }, "above 0"},
		{func(c *Config) { c.RCU = -5 }, "above 0"},
		{func(c *Config) { c.Segments = MaxSegments + 1 }, "segments"},
		{func(c *Config) { c.Pause = -time.Second }, "pause"},
		{func(c *Config) { c.Keys = nil }, "Keys"},
		{func(c *Config) { c.B.Client = nil }, "client"},
	} {
		cfg := p.config(newFakeClock())
		tt.change(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Run(%+v) = %v, want an error about %s", cfg, err, tt.want)
		}
	}
}

func TestProgressIsReportedByPhase(t *testing.T) {
	p := newPair(t)
	p.fill(5)
	del(t, p.b, "ORDER#01", "STATE")
	var phases []Phase
	cfg := p.config(newFakeClock())
	cfg.Progress = func(pr Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != pr.Phase {
			phases = append(phases, pr.Phase)
		}
	}
	p.run(cfg)
	want := []Phase{PhaseScanned, PhaseRecheck, PhaseDone}
	if len(phases) < len(want) || !slices.Equal(phases[len(phases)-len(want):], want) {
		t.Errorf("phases %v, want them to end %v", phases, want)
	}
}

// A table whose items lack the key attributes named is a configuration
// mistake, said as such.
func TestWrongKeysAreNamed(t *testing.T) {
	p := newPair(t)
	p.fill(1)
	cfg := p.config(newFakeClock())
	cfg.Keys = []string{"id"}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "without key attribute id") {
		t.Errorf("Run with key id = %v, want an error naming the missing key attribute", err)
	}
}
