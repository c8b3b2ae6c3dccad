package bench

import (
	"math"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/lambdaruntime"
)

// Calls are attributed to the invocation whose fetch-to-response window
// holds their start; calls outside every window (warm-up) are not counted.
func TestAnalyzeAttributesCallsToInvocations(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ph := Phase{Events: 2, CPU: 4 * time.Millisecond, LogBytes: 600, Results: []lambdaruntime.Result{
		{Fetched: at(100), Completed: at(130)},
		{Fetched: at(200), Completed: at(210)},
	}}
	calls := []Call{
		{Op: "PutItem", Status: 200, Start: at(10), End: at(20)}, // warm-up
		{Op: "PutItem", Status: 200, Start: at(101), End: at(111)},
		{Op: "UpdateItem", Status: 200, Start: at(112), End: at(122)},
		{Op: "Query", Start: at(201), End: at(205), Status: 200},
	}
	st := Analyze(ph, calls)
	want := CallCounts{PutOK: 0.5, UpdateOK: 0.5, QueryEventual: 0.5}
	if st.Calls != want {
		t.Errorf("Calls = %+v, want %+v", st.Calls, want)
	}
	if st.WaitMean != 12*time.Millisecond || st.BilledMean != 20*time.Millisecond || st.SelfMean != 8*time.Millisecond {
		t.Errorf("wait %v billed %v self %v, want 12ms 20ms 8ms", st.WaitMean, st.BilledMean, st.SelfMean)
	}
	if st.LogBytes != 300 || st.CPU != 2*time.Millisecond {
		t.Errorf("log bytes %v, CPU %v; want 300 and 2ms", st.LogBytes, st.CPU)
	}
}

// Failed conditions cost write units; eventually consistent reads half a
// read unit; a state update writes the index twice and replicates.
func TestUnitsOf(t *testing.T) {
	sz := ItemSizes{Execution: 400, State: 1500}
	for _, tc := range []struct {
		name string
		c    CallCounts
		want Units
	}{
		{"first delivery", CallCounts{PutOK: 1, UpdateOK: 1}, Units{WRU: 1 + 2 + 4, ReplicatedOut: 3, IndexOut: 4}},
		{"second region before", CallCounts{PutFailed: 1, UpdateFailed: 1, QueryConsistent: 1}, Units{WRU: 3, RRU: 1}},
		{"second region read first", CallCounts{QueryEventual: 1}, Units{RRU: 0.5}},
	} {
		if got := UnitsOf(tc.c, sz); got != tc.want {
			t.Errorf("%s: UnitsOf = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// Billed duration as deployed: in-region waits plus own time stretched by
// the CPU share, rounded up to the millisecond; no stretch from 1769 MB up.
func TestDeployedBilled(t *testing.T) {
	st := PassStats{Calls: CallCounts{PutOK: 1, UpdateOK: 1}}
	for _, tc := range []struct {
		mb   int
		self time.Duration
		want time.Duration
	}{
		{1769, 1500 * time.Microsecond, 10 * time.Millisecond},          // 8 + 1.5 → 10
		{3538, 1500 * time.Microsecond, 10 * time.Millisecond},          // no faster than one vCPU
		{MBPerVCPU / 2, 1400 * time.Microsecond, 11 * time.Millisecond}, // 8 + 2.8 → 11
	} {
		if got := DeployedBilled(st, tc.mb, tc.self); got != tc.want {
			t.Errorf("DeployedBilled(%d MB, own %v) = %v, want %v", tc.mb, tc.self, got, tc.want)
		}
	}
}

// The two-region bill adds up its lines, and a pass that writes nothing
// replicates nothing.
func TestTwoRegionBill(t *testing.T) {
	p, _ := PublishedPrices()
	a := PassCost{Units: Units{WRU: 4, ReplicatedOut: 2, IndexOut: 2}, Billed: 10 * time.Millisecond, LogBytes: 1 << 10}
	b := PassCost{Units: Units{RRU: 0.5}, Billed: 5 * time.Millisecond}
	bill := TwoRegionBill("t", p, Deployment{Arch: "arm64", MemoryMB: 1024}, a, b, true)
	var sum float64
	for _, l := range bill.Lines {
		sum += l.Dollars
	}
	if math.Abs(bill.Total()-sum) > 1e-9 {
		t.Errorf("Total = %v, lines sum to %v", bill.Total(), sum)
	}
	if got, want := bill.Line(LineDDBReplication).Dollars, 2*p.RWRUPerM+2*p.WRUPerM; math.Abs(got-want) > 1e-9 {
		t.Errorf("replication = $%v, want $%v", got, want)
	}
	if got, want := bill.Line(LineDDBSecondary).Dollars, 0.5*p.RRUPerM; math.Abs(got-want) > 1e-9 {
		t.Errorf("other region's DynamoDB = $%v, want $%v", got, want)
	}
	if got, want := bill.Line(LineLambdaPrimary).Dollars, 1e6*0.010*p.LambdaArmGBs; math.Abs(got-want) > 1e-9 {
		t.Errorf("Lambda compute = $%v, want $%v", got, want)
	}
}
