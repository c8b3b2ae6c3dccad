package bench

import (
	"math"
	"slices"
	"strings"
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
// read unit; successful writes replicate, with their index writes, by the
// revision's index rule.
func TestUnitsOf(t *testing.T) {
	sz := ItemSizes{Execution: 400, State: 1500, IndexKeys: 150}
	for _, tc := range []struct {
		name    string
		c       CallCounts
		created float64
		rule    IndexRule
		want    Units
	}{
		{"first delivery, new order, set once", CallCounts{PutOK: 1, UpdateOK: 1}, 1, IndexSetOnce,
			Units{WRU: 1 + 2 + 1, ReplicatedOut: 3, IndexOut: 1}},
		{"first delivery, known order, set once", CallCounts{PutOK: 1, UpdateOK: 1}, 0, IndexSetOnce,
			Units{WRU: 1 + 2, ReplicatedOut: 3}},
		{"first delivery, known order, key moves", CallCounts{PutOK: 1, UpdateOK: 1}, 0, IndexMovesOnUpdate,
			Units{WRU: 1 + 2 + 2*2, ReplicatedOut: 3, IndexOut: 2 * 2}},
		{"first delivery, new order, key moves", CallCounts{PutOK: 1, UpdateOK: 1}, 1, IndexMovesOnUpdate,
			Units{WRU: 1 + 2 + 2, ReplicatedOut: 3, IndexOut: 2}},
		{"second region before", CallCounts{PutFailed: 1, UpdateFailed: 1, QueryConsistent: 1}, 0, IndexMovesOnUpdate, Units{WRU: 3, RRU: 1}},
		{"second region read first", CallCounts{QueryEventual: 1}, 0, IndexSetOnce, Units{RRU: 0.5}},
		{"creations without a successful update write no index", CallCounts{UpdateFailed: 1}, 1, IndexSetOnce, Units{WRU: 2}},
	} {
		if got := UnitsOf(tc.c, tc.created, tc.rule, sz); got != tc.want {
			t.Errorf("%s: UnitsOf = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// A pass of 100 events over N new orders makes N creations and 100
// successful state updates: the set-once index writes N entries in each
// replica, the moving key N + 2 × (100 − N).
func TestIndexRulePerRevision(t *testing.T) {
	sz := ItemSizes{Execution: 354, State: 437, IndexKeys: 120}
	const events = 100
	for _, tc := range []struct {
		created, updated float64
		setOnce, moves   float64 // index WRU per replica over the pass
	}{
		{created: 27, updated: 100, setOnce: 27, moves: 27 + 2*73},
		{created: 100, updated: 100, setOnce: 100, moves: 100},
		{created: 0, updated: 100, setOnce: 0, moves: 200},
		{created: 0, updated: 0, setOnce: 0, moves: 0},
	} {
		c := CallCounts{PutOK: 1, UpdateOK: tc.updated / events}
		for _, r := range []struct {
			rule IndexRule
			want float64
		}{{IndexSetOnce, tc.setOnce}, {IndexMovesOnUpdate, tc.moves}} {
			u := UnitsOf(c, tc.created/events, r.rule, sz)
			if got := u.IndexOut * events; math.Abs(got-r.want) > 1e-9 {
				t.Errorf("%s, %v created, %v updated: index WRU in the other replica = %v, want %v", r.rule.Name, tc.created, tc.updated, got, r.want)
			}
			own := u.WRU*events - (events + tc.updated) // the execution and state writes, one unit each
			if math.Abs(own-r.want) > 1e-9 {
				t.Errorf("%s, %v created, %v updated: index WRU in the publishing replica = %v, want %v", r.rule.Name, tc.created, tc.updated, own, r.want)
			}
		}
	}
	// The index before issue 15 projected the whole state: a 1.5 KB state
	// costs two units an index write; issue 15's entry is the keys: one.
	big := ItemSizes{Execution: 354, State: 1500, IndexKeys: 120}
	if got := UnitsOf(CallCounts{UpdateOK: 1}, 0, IndexMovesOnUpdate, big).IndexOut; got != 4 {
		t.Errorf("moving key, 1.5 KB state: index WRU = %v, want 4", got)
	}
	if got := UnitsOf(CallCounts{UpdateOK: 1}, 1, IndexSetOnce, big).IndexOut; got != 1 {
		t.Errorf("set once, 1.5 KB state: index WRU = %v, want 1", got)
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

// The median of an odd count is the middle value, of an even count the mean
// of the middle two; the spread is the least and the greatest.
func TestSpreadOf(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want Spread
	}{
		{[]float64{3, 1, 2}, Spread{Median: 2, Min: 1, Max: 3}},
		{[]float64{4, 1, 3, 2}, Spread{Median: 2.5, Min: 1, Max: 4}},
		{[]float64{7}, Spread{Median: 7, Min: 7, Max: 7}},
		{nil, Spread{}},
	} {
		if got := SpreadOf(tc.xs); got != tc.want {
			t.Errorf("SpreadOf(%v) = %+v, want %+v", tc.xs, got, tc.want)
		}
	}
}

// The rounds' summary takes each figure's median across rounds on its own,
// so the median of the per-round ratios and the ratio of the medians differ
// when TAP's slow round is not the floor's.
func TestSummarize(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	pass := func(cpu, p50, mean float64, logs float64) PassStats {
		return PassStats{Events: 400, CPU: ms(cpu), SelfP50: ms(p50), SelfMean: ms(mean), LogBytes: logs,
			Calls: CallCounts{PutOK: 1, UpdateOK: 1}, Created: 0.25, PeakRSS: int64(cpu * 1e6)}
	}
	rounds := []Round{
		{TapFirst: true, Tap: pass(2.0, 1.8, 2.4, 280), SDK: pass(2.0, 1.5, 1.6, 0)},  // ratio 1.0
		{TapFirst: false, Tap: pass(3.0, 2.2, 3.0, 300), SDK: pass(1.5, 1.4, 1.5, 0)}, // ratio 2.0
		{TapFirst: true, Tap: pass(2.2, 1.9, 2.5, 290), SDK: pass(1.6, 1.6, 1.7, 0)},  // ratio 1.375
	}
	s := Summarize(rounds)
	if s.TapCPU != (Spread{Median: float64(ms(2.2)), Min: float64(ms(2.0)), Max: float64(ms(3.0))}) {
		t.Errorf("TapCPU = %+v, want median 2.2 ms, 2.0–3.0 ms", s.TapCPU)
	}
	if got, want := s.CPURatio, (Spread{Median: 1.375, Min: 1, Max: 2}); math.Abs(got.Median-want.Median) > 1e-9 || got.Min != want.Min || got.Max != want.Max {
		t.Errorf("CPURatio = %+v, want %+v", got, want)
	}
	if want := 2.2 / 1.6; math.Abs(s.RatioOfMedians-want) > 1e-9 {
		t.Errorf("RatioOfMedians = %v, want %v", s.RatioOfMedians, want)
	}
	if s.Tap.CPU != ms(2.2) || s.Tap.SelfP50 != ms(1.9) || s.Tap.SelfMean != ms(2.5) || s.Tap.LogBytes != 290 {
		t.Errorf("median TAP pass = CPU %v, p50 %v, mean %v, logs %v; want 2.2 ms, 1.9 ms, 2.5 ms, 290 B",
			s.Tap.CPU, s.Tap.SelfP50, s.Tap.SelfMean, s.Tap.LogBytes)
	}
	if s.Tap.Calls != (CallCounts{PutOK: 1, UpdateOK: 1}) || math.Abs(s.Tap.Created-0.25) > 1e-9 || s.Tap.PeakRSS != 3e6 {
		t.Errorf("median TAP pass calls %+v, created %v, peak RSS %v; want the rounds' calls, 0.25, the greatest", s.Tap.Calls, s.Tap.Created, s.Tap.PeakRSS)
	}
	if s.SDKSelfP50.Median != float64(ms(1.5)) {
		t.Errorf("SDKSelfP50 = %+v, want median 1.5 ms", s.SDKSelfP50)
	}
	d := Deployed{TapA: pass(9, 9, 9, 999), Rounds: rounds}
	if d.TapPublishing().CPU != ms(2.2) || d.SDKFloor().CPU != ms(1.6) {
		t.Errorf("with rounds the bill uses their medians: TapPublishing CPU %v, SDKFloor CPU %v", d.TapPublishing().CPU, d.SDKFloor().CPU)
	}
	if single := (Deployed{TapA: pass(9, 9, 9, 999)}); single.TapPublishing().CPU != ms(9) {
		t.Errorf("without rounds the bill uses the single pass")
	}
}

// An order's state is created by the first of its events a table applies.
func TestCreated(t *testing.T) {
	ev := func(order string) []byte { return []byte(`{"detail":{"orderId":"` + order + `","seq":1}}`) }
	events := func(orders ...string) [][]byte {
		out := make([][]byte, len(orders))
		for i, o := range orders {
			out[i] = ev(o)
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		prior, timed [][]byte
		want         float64
	}{
		{"fresh table", nil, events("a", "a", "b", "c"), 3.0 / 4},
		{"an order begun in the warm-up", events("a"), events("a", "b", "b", "c"), 2.0 / 4},
		{"a copy holding every order", events("a", "b"), events("a", "b"), 0},
		{"no timed events", events("a"), nil, 0},
	} {
		if got := Created(tc.prior, tc.timed); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: Created = %v, want %v", tc.name, got, tc.want)
		}
	}
	// The generated sequence: over all its events, one creation per order.
	all, orders := Events(5, 300, "us-east-1")
	if got := Created(nil, all) * 300; math.Abs(got-float64(orders)) > 1e-9 {
		t.Errorf("Created over the generated events = %v states, want %d (one per order)", got, orders)
	}
}

// Each of issue 15's targets is met at its bound and missed past it.
func TestIssue15Targets(t *testing.T) {
	ok := targetFigures{
		bill: 6.75, before: 8.9, floor: 6.2, memoryMB: 1769, rounds: 5,
		selfP50: 2 * time.Millisecond, selfMin: time.Millisecond, selfMax: 3 * time.Millisecond,
		ratioMedian: 1.15, ratioMin: 1, ratioMax: 1.3, ratioOfMedians: 1.15,
		tapCPU: 2300 * time.Microsecond, sdkCPU: 2 * time.Millisecond, logA: 300, logB: 300,
	}
	met := func(f targetFigures) []bool {
		var out []bool
		for _, tg := range issue15Targets(f) {
			out = append(out, tg.Met)
		}
		return out
	}
	if got := met(ok); !slices.Equal(got, []bool{true, true, true, true, true}) {
		t.Errorf("at the bounds: verdicts %v, want all met", got)
	}
	for _, tc := range []struct {
		name   string
		change func(*targetFigures)
		want   []bool
	}{
		{"bill over $6.75", func(f *targetFigures) { f.bill = 6.76 }, []bool{false, true, true, true, true}},
		{"bill over 1.10× the floor", func(f *targetFigures) { f.floor = 6.0 }, []bool{true, false, true, true, true}},
		{"own time p50 over 2 ms", func(f *targetFigures) { f.selfP50 = 2001 * time.Microsecond }, []bool{true, true, false, true, true}},
		{"median of ratios over 1.15", func(f *targetFigures) { f.ratioMedian = 1.16 }, []bool{true, true, true, false, true}},
		{"ratio of medians over 1.15", func(f *targetFigures) { f.ratioOfMedians = 1.16 }, []bool{true, true, true, false, true}},
		{"other region logs over 300 B", func(f *targetFigures) { f.logB = 301 }, []bool{true, true, true, true, false}},
		{"publishing region logs over 300 B", func(f *targetFigures) { f.logA = 436 }, []bool{true, true, true, true, false}},
	} {
		f := ok
		tc.change(&f)
		if got := met(f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: verdicts %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A missed own-time target is explained from the SDK floor's own time in
// the same rounds and from the profiles: a floor over the target names the
// machine; a handler no heavier than the floor in process puts the rest
// around it; a heavier one names the handler.
func TestOwnTimeMissedNamesTheCause(t *testing.T) {
	f := targetFigures{selfP50: 2100 * time.Microsecond, sdkSelfP50: 1930 * time.Microsecond,
		sdkSelfMin: 1680 * time.Microsecond, sdkSelfMax: 2080 * time.Microsecond,
		handlerCPU: 1120 * time.Microsecond, floorCPU: 1210 * time.Microsecond}
	got := ownTimeMissed(f)
	for _, want := range []string{"1.93 ms p50", "92 % of TAP's 2.10 ms", "TAP adds 0.170 ms", "floor itself is over 2.00 ms", "aws-lambda-go"} {
		if !strings.Contains(got, want) {
			t.Errorf("ownTimeMissed = %q, want it to contain %q", got, want)
		}
	}
	f.sdkSelfMax = 1900 * time.Microsecond
	f.handlerCPU = 1360 * time.Microsecond
	got = ownTimeMissed(f)
	if strings.Contains(got, "floor itself") || !strings.Contains(got, "the handler adds 0.150 ms") {
		t.Errorf("with the floor under the target and a heavier handler: %q, want the handler named", got)
	}
	f.handlerCPU, f.floorCPU = 0, 0
	if got := ownTimeMissed(f); !strings.Contains(got, "No profile") {
		t.Errorf("without profiles: %q, want it said", got)
	}
}
