package cloudwatch

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is a minute boundary.
var t0 = time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)

func newAlarm(t *testing.T, cfg AlarmConfig) *Alarm {
	t.Helper()
	a, err := NewAlarm(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// period is the start of the i-th period after t0.
func period(cfg AlarmConfig, i int) time.Time { return t0.Add(time.Duration(i) * cfg.Period) }

// evaluateAt evaluates and checks the state.
func evaluateAt(t *testing.T, a *Alarm, now time.Time, want State) {
	t.Helper()
	if got, _ := a.Evaluate(now); got != want {
		t.Fatalf("at %s: %s, want %s (range %v; history %v)", now.Sub(t0), got, want, a.Range(now), a.History())
	}
}

func TestNewAlarmStartsInsufficientData(t *testing.T) {
	a := newAlarm(t, config(5, 5, Breaching))
	if a.State() != StateInsufficientData {
		t.Errorf("new alarm: %s, want INSUFFICIENT_DATA", a.State())
	}
	if len(a.History()) != 0 {
		t.Errorf("new alarm history: %v", a.History())
	}
	if _, err := NewAlarm(AlarmConfig{Name: "bad"}, t0); err == nil || !strings.Contains(err.Error(), `alarm "bad"`) {
		t.Errorf("invalid config: %v", err)
	}
}

// TestMissingWithNoDataStaysInsufficientData: treated as missing, an alarm
// with no datapoint at all stays INSUFFICIENT_DATA; with data it leaves it,
// and when the data stops it returns to INSUFFICIENT_DATA once the whole
// evaluation range is empty.
func TestMissingWithNoDataStaysInsufficientData(t *testing.T) {
	cfg := config(3, 3, Missing)
	a := newAlarm(t, cfg)
	for i := range 10 {
		evaluateAt(t, a, period(cfg, i), StateInsufficientData)
	}
	// Good data in periods 10..12.
	for i := 10; i < 13; i++ {
		a.Put(period(cfg, i).Add(time.Second), 1)
	}
	evaluateAt(t, a, period(cfg, 11), StateOK) // period 10 only: a good datapoint decides
	evaluateAt(t, a, period(cfg, 13), StateOK)
	// Silence from period 13: the last datapoint (period 12) leaves the
	// 5-period range at the start of period 18.
	evaluateAt(t, a, period(cfg, 17), StateOK)
	evaluateAt(t, a, period(cfg, 18), StateInsufficientData)
}

// TestDeliveryDelay: a breaching sample is not seen before its period has
// ended and the delivery delay passed, and is seen from then on.
func TestDeliveryDelay(t *testing.T) {
	cfg := config(1, 1, NotBreaching)
	cfg.DeliveryDelay = 20 * time.Second
	a := newAlarm(t, cfg)
	a.Put(period(cfg, 0).Add(5*time.Second), threshold*3)
	end := period(cfg, 1)
	for _, at := range []time.Time{period(cfg, 0).Add(6 * time.Second), end.Add(-time.Nanosecond), end, end.Add(cfg.DeliveryDelay - time.Nanosecond)} {
		evaluateAt(t, a, at, StateOK)
		if r := a.Range(at); r[len(r)-1].Value != nil && r[len(r)-1].Start.Equal(period(cfg, 0)) {
			t.Fatalf("at %s the datapoint is already visible: %v", at.Sub(t0), r)
		}
	}
	evaluateAt(t, a, end.Add(cfg.DeliveryDelay), StateAlarm)
	h := a.History()
	if last := h[len(h)-1]; !last.At.Equal(end.Add(cfg.DeliveryDelay)) || last.From != StateOK || last.To != StateAlarm {
		t.Errorf("last change %+v", last)
	}
}

// TestDelayedDatapointIsMissingUntilVisible: a period that has ended but is
// not yet visible is a missing datapoint of the range (the range is anchored
// on the evaluation time); with enough older real datapoints in the range
// that does not change the state.
func TestDelayedDatapointIsMissingUntilVisible(t *testing.T) {
	cfg := config(3, 3, Breaching)
	cfg.DeliveryDelay = 10 * time.Second
	a := newAlarm(t, cfg)
	for i := range 6 {
		a.Put(period(cfg, i).Add(time.Second), 1)
	}
	now := period(cfg, 6) // period 5 ended but is not visible
	r := a.Range(now)
	if len(r) != 5 || !r[4].Start.Equal(period(cfg, 5)) || r[4].Value != nil || r[4].Visible || r[4].Samples != 1 {
		t.Fatalf("range at %s: %+v", now.Sub(t0), r)
	}
	if !r[3].Visible || r[3].Value == nil {
		t.Fatalf("period 4 at %s: %+v", now.Sub(t0), r[3])
	}
	evaluateAt(t, a, now, StateOK)
}

// TestAverageAggregation: a period's samples are reduced by the statistic;
// the Average is compared with the threshold strictly or not per the
// operator.
func TestAverageAggregation(t *testing.T) {
	for _, c := range []struct {
		stat string
		want float64
	}{{Average, 40}, {Sum, 120}, {Minimum, 10}, {Maximum, 90}, {SampleCount, 3}} {
		cfg := config(1, 1, Missing)
		cfg.Statistic = c.stat
		a := newAlarm(t, cfg)
		for _, v := range []float64{10, 20, 90} {
			a.Put(period(cfg, 0).Add(time.Duration(v)*100*time.Millisecond), v)
		}
		r := a.Range(period(cfg, 1))
		if got := r[len(r)-1]; got.Value == nil || *got.Value != c.want || got.Samples != 3 {
			t.Errorf("%s: datapoint %+v, want %v of 3 samples", c.stat, got, c.want)
		}
	}
	for _, c := range []struct {
		op   Comparison
		want State
	}{{GreaterThanThreshold, StateOK}, {GreaterThanOrEqualToThreshold, StateAlarm}} {
		cfg := config(1, 1, Missing)
		cfg.Threshold, cfg.Comparison = 40, c.op
		a := newAlarm(t, cfg)
		for _, v := range []float64{10, 20, 90} {
			a.Put(period(cfg, 0).Add(time.Second), v)
		}
		evaluateAt(t, a, period(cfg, 1), c.want)
	}
}

// TestPeriodAlignment: without an epoch, periods are aligned as
// time.Truncate aligns them — on the minute for 60 s; with one, on
// multiples of the period from it, before it too.
func TestPeriodAlignment(t *testing.T) {
	cfg := config(1, 1, Missing)
	for at, want := range map[time.Time]time.Time{
		t0.Add(59*time.Second + 999*time.Millisecond): t0,
		t0.Add(time.Minute):                           t0.Add(time.Minute),
		t0.Add(-time.Nanosecond):                      t0.Add(-time.Minute),
	} {
		if got := cfg.PeriodStart(at); !got.Equal(want) {
			t.Errorf("60 s, %s: period starts %s, want %s", at.Format(time.TimeOnly+".000"), got.Format(time.TimeOnly), want.Format(time.TimeOnly))
		}
	}
	scaled := cfg
	scaled.Period = 1200 * time.Millisecond
	for _, at := range []time.Time{t0, t0.Add(777 * time.Millisecond), t0.Add(5 * time.Second)} {
		if got := scaled.PeriodStart(at); !got.Equal(at.Truncate(scaled.Period)) {
			t.Errorf("1.2 s, %s: %s, want Truncate's %s", at, got, at.Truncate(scaled.Period))
		}
	}
	epoch := t0.Add(300 * time.Millisecond)
	scaled.Period, scaled.Epoch = time.Second, epoch
	for at, want := range map[time.Time]time.Time{
		epoch:                               epoch,
		epoch.Add(999 * time.Millisecond):   epoch,
		epoch.Add(time.Second):              epoch.Add(time.Second),
		epoch.Add(-time.Nanosecond):         epoch.Add(-time.Second),
		epoch.Add(-1001 * time.Millisecond): epoch.Add(-2 * time.Second),
	} {
		if got := scaled.PeriodStart(at); !got.Equal(want) {
			t.Errorf("epoch+%s: period starts epoch+%s, want epoch+%s", at.Sub(epoch), got.Sub(epoch), want.Sub(epoch))
		}
	}
	// Two samples either side of a boundary are two datapoints.
	a := newAlarm(t, scaled)
	a.Put(epoch.Add(999*time.Millisecond), 1)
	a.Put(epoch.Add(time.Second), 2)
	r := a.Range(epoch.Add(2 * time.Second))
	if r[len(r)-2].Value == nil || *r[len(r)-2].Value != 1 || r[len(r)-1].Value == nil || *r[len(r)-1].Value != 2 {
		t.Errorf("range %+v", r)
	}
}

// TestFiguresSequence replays the guide's figure ("Alarm evaluation",
// 3 of 3): ALARM when periods 3 to 5 breach, OK at period 6 when one does
// not, and still OK when period 9 alone breaches.
func TestFiguresSequence(t *testing.T) {
	cfg := config(3, 3, Missing)
	a := newAlarm(t, cfg)
	values := []float64{1, 2, 12, 14, 13, 5, 4, 6, 15, 3} // periods 1..10
	want := []State{StateOK, StateOK, StateOK, StateOK, StateAlarm, StateOK, StateOK, StateOK, StateOK, StateOK}
	for i, v := range values {
		a.Put(period(cfg, i).Add(30*time.Second), v)
		evaluateAt(t, a, period(cfg, i+1), want[i])
	}
	var got []State
	for _, c := range a.History() {
		got = append(got, c.To)
	}
	if strings.Join(toStrings(got), " ") != "OK ALARM OK" {
		t.Errorf("history %v", a.History())
	}
}

func toStrings(s []State) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return out
}

// TestFiveOfFiveAlarmReturnsToOKAfterOneGoodPeriod, on the clock.
func TestFiveOfFiveAlarmReturnsToOKAfterOneGoodPeriod(t *testing.T) {
	cfg := config(5, 5, Breaching)
	a := newAlarm(t, cfg)
	for i := range 5 {
		a.Put(period(cfg, i).Add(time.Second), threshold*2)
	}
	evaluateAt(t, a, period(cfg, 5), StateAlarm)
	a.Put(period(cfg, 5).Add(time.Second), 1)
	evaluateAt(t, a, period(cfg, 6), StateOK)
	h := a.History()
	if len(h) != 2 || h[1].From != StateAlarm || h[1].To != StateOK || !strings.Contains(h[1].Reason, "4 of the last 5 datapoints") {
		t.Errorf("history %+v", h)
	}
}

// TestReasonNamesTheDatapoints: a change's reason lists the deciding
// datapoints, newest first, with their period starts, as CloudWatch's
// StateReason does.
func TestReasonNamesTheDatapoints(t *testing.T) {
	cfg := config(2, 2, Missing)
	a := newAlarm(t, cfg)
	a.Put(period(cfg, 0).Add(time.Second), 11)
	a.Put(period(cfg, 1).Add(time.Second), 12.5)
	evaluateAt(t, a, period(cfg, 2), StateAlarm)
	r := a.History()[0].Reason
	for _, w := range []string{"2 of the last 2 datapoints", "[12.5 (12:01:00.000), 11 (12:00:00.000)]", "greater than the threshold (10)"} {
		if !strings.Contains(r, w) {
			t.Errorf("reason %q does not say %q", r, w)
		}
	}
}

// TestDataFromBeforeCreationCounts: "If data points are missing soon after
// you create an alarm, and the metric was being reported to CloudWatch
// before you created the alarm, CloudWatch retrieves the most recent data
// points from before the alarm was created".
func TestDataFromBeforeCreationCounts(t *testing.T) {
	cfg := config(3, 3, Missing)
	a := newAlarm(t, cfg)
	for i := -3; i < 0; i++ {
		a.Put(period(cfg, i).Add(time.Second), threshold*2)
	}
	evaluateAt(t, a, t0.Add(time.Second), StateAlarm)
}

func TestNonFiniteSamplesAreDropped(t *testing.T) {
	cfg := config(1, 1, Missing)
	a := newAlarm(t, cfg)
	a.Put(t0, math.NaN())
	a.Put(t0, math.Inf(1))
	a.Put(t0, 1)
	r := a.Range(period(cfg, 1))
	if d := r[len(r)-1]; d.Samples != 1 || d.Value == nil || *d.Value != 1 {
		t.Errorf("datapoint %+v", d)
	}
}

// TestEvaluateIsIdempotentAndBounded: evaluating twice at one time changes
// nothing, and periods older than the range are let go.
func TestEvaluateIsIdempotentAndBounded(t *testing.T) {
	cfg := config(5, 5, Breaching)
	a := newAlarm(t, cfg)
	for i := range 100 {
		a.Put(period(cfg, i).Add(time.Second), 1)
		a.Evaluate(period(cfg, i+1))
		if _, changed := a.Evaluate(period(cfg, i+1)); changed {
			t.Fatalf("second evaluation at period %d changed the state", i+1)
		}
	}
	a.mu.Lock()
	n := len(a.periods)
	a.mu.Unlock()
	if n > cfg.RangePeriods()+1 {
		t.Errorf("%d periods kept, want at most the range (%d) and the current one", n, cfg.RangePeriods())
	}
	// A sample for a period no later evaluation can see is dropped.
	a.Put(period(cfg, 0), 1)
	a.mu.Lock()
	if _, ok := a.periods[period(cfg, 0).UnixNano()]; ok {
		t.Error("a sample of a pruned period was kept")
	}
	a.mu.Unlock()
}

// TestConcurrentUse exercises Put, Evaluate and the readers together (run
// with -race).
func TestConcurrentUse(t *testing.T) {
	cfg := config(5, 5, Breaching)
	a := newAlarm(t, cfg)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				at := t0.Add(time.Duration(i) * time.Second)
				switch g {
				case 0, 1:
					a.Put(at, float64(i))
				case 2:
					a.Evaluate(at)
				default:
					_ = a.State()
					_ = a.History()
					_ = a.Range(at)
				}
			}
		})
	}
	wg.Wait()
}

// TestNewAlarmEvaluatedBeforeItsDataIsVisible: a new alarm evaluated before
// any datapoint is visible sees an empty range — a breaching one goes to
// ALARM, a missing one stays INSUFFICIENT_DATA — and once one good datapoint
// is delivered both are OK. (A deployment creates the health alarm on a
// metric that already has data for this reason.)
func TestNewAlarmEvaluatedBeforeItsDataIsVisible(t *testing.T) {
	for _, c := range []struct {
		treat TreatMissingData
		first State
	}{{Breaching, StateAlarm}, {Missing, StateInsufficientData}, {NotBreaching, StateOK}, {Ignore, StateInsufficientData}} {
		cfg := config(5, 5, c.treat)
		cfg.DeliveryDelay = 10 * time.Second
		a := newAlarm(t, cfg)
		a.Put(t0.Add(time.Second), 1)
		evaluateAt(t, a, period(cfg, 1), c.first)
		evaluateAt(t, a, period(cfg, 1).Add(cfg.DeliveryDelay), StateOK)
	}
}
