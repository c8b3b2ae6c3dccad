package cloudwatch

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// threshold is the tests' threshold: a "0" datapoint is below it, an "X"
// above.
const threshold = 10.0

// dps parses the guide's notation, oldest first: 0 within the threshold, X
// breaching, - missing.
func dps(t *testing.T, notation string) []*float64 {
	t.Helper()
	var out []*float64
	for _, tok := range strings.Fields(notation) {
		switch tok {
		case "0":
			v := threshold / 2
			out = append(out, &v)
		case "X":
			v := threshold * 2
			out = append(out, &v)
		case "-":
			out = append(out, nil)
		default:
			t.Fatalf("datapoint %q in %q: want 0, X or -", tok, notation)
		}
	}
	return out
}

func config(n, m int, treat TreatMissingData) AlarmConfig {
	return AlarmConfig{
		Name: "test", Period: time.Minute, EvaluationPeriods: n, DatapointsToAlarm: m,
		Threshold: threshold, Comparison: GreaterThanThreshold, Statistic: Average, TreatMissingData: treat,
	}
}

// retain stands for the guide's "Retain current state".
const retain State = "RETAIN"

var states = []State{StateOK, StateAlarm, StateInsufficientData}

// guideRow is one row of a table in "Configuring how CloudWatch alarms treat
// missing data"
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html):
// the evaluation range (5 datapoints, newest on the right), the "# of data
// points that must be filled" column, and the state for each treatment.
type guideRow struct {
	datapoints                               string
	filled                                   int
	missing, ignore, breaching, notBreaching State
}

// TestGuideMissingDataTables encodes both tables of the User Guide's
// "How alarm state is evaluated when data is missing", row by row, for all
// four treatments, plus the two rows the archived edition of the page had
// (github.com/awsdocs/amazon-cloudwatch-user-guide,
// doc_source/AlarmThatSendsEmail.md at 05fd32f6): Evaluation Periods 3,
// evaluation range 5. A "Retain current state" cell is checked from each
// of the three prior states, so it cannot pass by coinciding with one; every
// other cell must not depend on the prior state.
func TestGuideMissingDataTables(t *testing.T) {
	tables := []struct {
		name string
		m    int
		rows []guideRow
	}{
		{"table 1: Datapoints to Alarm 3 of 3", 3, []guideRow{
			{"0 - X - X", 0, StateOK, StateOK, StateOK, StateOK},
			{"0 - - - -", 2, StateOK, StateOK, StateOK, StateOK},
			{"- - - - -", 3, StateInsufficientData, retain, StateAlarm, StateOK},
			{"0 X X - X", 0, StateAlarm, StateAlarm, StateAlarm, StateAlarm},
			{"- - X - -", 2, StateAlarm, retain, StateAlarm, StateOK},
		}},
		{"table 2: Datapoints to Alarm 2 of 3", 2, []guideRow{
			{"0 - X - X", 0, StateAlarm, StateAlarm, StateAlarm, StateAlarm},
			{"0 0 X 0 X", 0, StateAlarm, StateAlarm, StateAlarm, StateAlarm},
			{"0 - X - -", 1, StateOK, StateOK, StateAlarm, StateOK},
			{"- - - - 0", 2, StateOK, StateOK, StateAlarm, StateOK},
			{"- - - X -", 2, StateAlarm, retain, StateAlarm, StateOK},
		}},
		{"archived table 1 rows: 3 of 3", 3, []guideRow{
			{"- - - - X", 2, StateInsufficientData, retain, StateAlarm, StateOK},
			{"X - - - -", 2, StateAlarm, retain, StateAlarm, StateOK},
		}},
		{"archived table 2 row: 2 of 3", 2, []guideRow{
			{"- - - - X", 2, StateInsufficientData, retain, StateAlarm, StateOK},
		}},
	}
	for _, tb := range tables {
		for _, row := range tb.rows {
			cells := []struct {
				treat TreatMissingData
				want  State
			}{{Missing, row.missing}, {Ignore, row.ignore}, {Breaching, row.breaching}, {NotBreaching, row.notBreaching}}
			for _, c := range cells {
				t.Run(fmt.Sprintf("%s/%s/%s", tb.name, row.datapoints, c.treat), func(t *testing.T) {
					cfg := config(3, tb.m, c.treat)
					if got := cfg.RangePeriods(); got != 5 {
						t.Fatalf("evaluation range %d, want the guide's 5 for 3 evaluation periods", got)
					}
					for _, prior := range states {
						want := c.want
						if want == retain {
							want = prior
						}
						d := Decide(cfg, dps(t, row.datapoints), prior)
						if d.State != want {
							t.Errorf("from %s: %s (%s), want %s", prior, d.State, d.Reason, want)
						}
						if d.Filled != row.filled {
							t.Errorf("from %s: %d datapoints to fill, want the guide's %d", prior, d.Filled, row.filled)
						}
						if d.Reason == "" {
							t.Errorf("from %s: no reason", prior)
						}
					}
				})
			}
		}
	}
}

// TestGuidePrematureTransitionExamples follows the prose of "Avoiding
// premature transitions to alarm state" (same page) for data treated as
// missing, 3 of 3: a lone recent breach does not alarm, because the next
// datapoint may not breach — and when it does not, the alarm is OK.
func TestGuidePrematureTransitionExamples(t *testing.T) {
	for _, c := range []struct {
		datapoints string
		want       State
	}{
		{"- - - - X", StateInsufficientData},
		{"- - - X -", StateInsufficientData},
		{"- - - X 0", StateOK},
		{"- - X - 0", StateOK},
		{"- - X - -", StateAlarm},
	} {
		if got := Evaluate(config(3, 3, Missing), dps(t, c.datapoints), StateOK); got != c.want {
			t.Errorf("%s: %s, want %s", c.datapoints, got, c.want)
		}
	}
}

// TestEvaluateWithAllDatapointsPresent: with no datapoint missing, the state
// is ALARM exactly when at least M of the last N breach, whatever the
// treatment and the prior state; older datapoints in the range are ignored.
func TestEvaluateWithAllDatapointsPresent(t *testing.T) {
	for n := 1; n <= 5; n++ {
		for m := 1; m <= n; m++ {
			r := EvaluationRange(n)
			for bits := range 1 << r {
				notation := make([]string, r)
				lastN := 0
				for i := range r {
					notation[i] = "0"
					if bits&(1<<i) != 0 {
						notation[i] = "X"
						if i >= r-n {
							lastN++
						}
					}
				}
				want := StateOK
				if lastN >= m {
					want = StateAlarm
				}
				for _, treat := range TreatMissingDataValues {
					for _, prior := range states {
						got := Evaluate(config(n, m, treat), dps(t, strings.Join(notation, " ")), prior)
						if got != want {
							t.Fatalf("%d of %d, %s, %s, from %s: %s, want %s", m, n, strings.Join(notation, " "), treat, prior, got, want)
						}
					}
				}
			}
		}
	}
}

// TestFiveOfFiveReturnsToOKOnOneGoodDatapoint: the guide's figure goes back
// to OK at the first period that does not breach; for the deployed 5-of-5
// alarm one good datapoint is enough, and breaching missing data does not
// change that when the data is there.
func TestFiveOfFiveReturnsToOKOnOneGoodDatapoint(t *testing.T) {
	for _, treat := range TreatMissingDataValues {
		cfg := config(5, 5, treat)
		if got := Evaluate(cfg, dps(t, "X X X X X X X"), StateOK); got != StateAlarm {
			t.Fatalf("%s: 7 breaching datapoints: %s, want ALARM", treat, got)
		}
		if got := Evaluate(cfg, dps(t, "X X X X X X 0"), StateAlarm); got != StateOK {
			t.Errorf("%s: one good datapoint after breaching ones: %s, want OK", treat, got)
		}
		if got := Evaluate(cfg, dps(t, "X X 0 X X X X"), StateAlarm); got != StateOK {
			t.Errorf("%s: a good datapoint among the last 5: %s, want OK", treat, got)
		}
	}
}

// TestMOfNExamples: the guide's "4 out of 5" M of N alarm, breaching
// datapoints not consecutive.
func TestMOfNExamples(t *testing.T) {
	cfg := config(5, 4, Missing)
	for _, c := range []struct {
		datapoints string
		want       State
	}{
		{"0 0 X 0 X X X", StateAlarm},
		{"X 0 X X 0 X X", StateAlarm},
		{"X X 0 X 0 X X", StateOK},
		{"X X X X 0 0 0", StateOK}, // the breaching ones are not in the last 5
	} {
		if got := Evaluate(cfg, dps(t, c.datapoints), StateOK); got != c.want {
			t.Errorf("4 of 5, %s: %s, want %s", c.datapoints, got, c.want)
		}
	}
}

// TestEnoughRealDatapointsIgnoreTheTreatment: "If some data points in the
// evaluation range are missing, but the total number of existing data points
// … is equal to or more than the alarm's Evaluation Periods", the most recent
// real ones decide, farther back in the range if need be.
func TestEnoughRealDatapointsIgnoreTheTreatment(t *testing.T) {
	for _, treat := range TreatMissingDataValues {
		if got := Evaluate(config(3, 3, treat), dps(t, "X - X - X"), StateOK); got != StateAlarm {
			t.Errorf("%s: X - X - X: %s, want ALARM", treat, got)
		}
		if got := Evaluate(config(3, 3, treat), dps(t, "0 X - - X"), StateAlarm); got != StateOK {
			t.Errorf("%s: 0 X - - X: %s, want OK", treat, got)
		}
	}
}

// TestAllMissing: with no datapoint in the range, each treatment decides on
// its own: missing INSUFFICIENT_DATA (the docs: "If all data points in the
// alarm evaluation range are missing, the alarm transitions to
// INSUFFICIENT_DATA"), ignore keeps the state, breaching ALARM,
// notBreaching OK.
func TestAllMissing(t *testing.T) {
	want := map[TreatMissingData]State{Missing: StateInsufficientData, Breaching: StateAlarm, NotBreaching: StateOK}
	for _, treat := range TreatMissingDataValues {
		for _, prior := range states {
			w, ok := want[treat]
			if !ok {
				w = prior
			}
			if got := Evaluate(config(5, 5, treat), dps(t, "- - - - - - -"), prior); got != w {
				t.Errorf("%s from %s: %s, want %s", treat, prior, got, w)
			}
		}
	}
}

// TestBreachingSilenceNeedsTheWholeRange: for the deployed shape (5 of 5,
// missing data breaching) one real good datapoint anywhere in the range keeps
// the alarm OK, since every real datapoint is used and only 4 can be filled;
// the alarm goes to ALARM only when the range is empty.
func TestBreachingSilenceNeedsTheWholeRange(t *testing.T) {
	cfg := config(5, 5, Breaching)
	for _, c := range []struct {
		datapoints string
		want       State
	}{
		{"0 - - - - - -", StateOK},
		{"- - - - - - 0", StateOK},
		{"X - - - - - -", StateAlarm},
		{"- - - - - - -", StateAlarm},
	} {
		if got := Evaluate(cfg, dps(t, c.datapoints), StateOK); got != c.want {
			t.Errorf("%s: %s, want %s", c.datapoints, got, c.want)
		}
	}
}

// TestComparisons: each operator, at and around the threshold.
func TestComparisons(t *testing.T) {
	for _, c := range []struct {
		op               Comparison
		below, at, above bool
	}{
		{GreaterThanThreshold, false, false, true},
		{GreaterThanOrEqualToThreshold, false, true, true},
		{LessThanThreshold, true, false, false},
		{LessThanOrEqualToThreshold, true, true, false},
	} {
		cfg := config(1, 1, Missing)
		cfg.Comparison = c.op
		for v, want := range map[float64]bool{threshold - 1: c.below, threshold: c.at, threshold + 1: c.above} {
			if got := cfg.Breaching(v); got != want {
				t.Errorf("%s: %v breaching %v, want %v", c.op, v, got, want)
			}
		}
	}
}

// TestEvaluationRange: the guide's one example, and the assumption beyond it.
func TestEvaluationRange(t *testing.T) {
	if got := EvaluationRange(3); got != 5 {
		t.Errorf("EvaluationRange(3) = %d, want the guide's 5", got)
	}
	if got := EvaluationRange(5); got != 7 {
		t.Errorf("EvaluationRange(5) = %d, want 7 (N + 2, assumed)", got)
	}
	cfg := config(5, 5, Breaching)
	cfg.Range = 9
	if got := cfg.RangePeriods(); got != 9 {
		t.Errorf("Range 9: RangePeriods %d", got)
	}
}

// TestValidate: each bad setting is named with the values it accepts.
func TestValidate(t *testing.T) {
	good := config(5, 5, Breaching)
	if err := good.Validate(); err != nil {
		t.Fatalf("the deployed shape: %v", err)
	}
	for _, c := range []struct {
		name   string
		change func(*AlarmConfig)
		want   []string
	}{
		{"period", func(c *AlarmConfig) { c.Period = 0 }, []string{"Period 0s", "positive"}},
		{"N", func(c *AlarmConfig) { c.EvaluationPeriods = 0; c.DatapointsToAlarm = 0 }, []string{"EvaluationPeriods 0", "at least 1"}},
		{"M over N", func(c *AlarmConfig) { c.DatapointsToAlarm = 6 }, []string{"DatapointsToAlarm 6", "from 1 to EvaluationPeriods (5)"}},
		{"M zero", func(c *AlarmConfig) { c.DatapointsToAlarm = 0 }, []string{"DatapointsToAlarm 0"}},
		{"comparison", func(c *AlarmConfig) { c.Comparison = ">" }, []string{`Comparison ">"`, "GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold, LessThanOrEqualToThreshold"}},
		{"statistic", func(c *AlarmConfig) { c.Statistic = "p99" }, []string{`Statistic "p99"`, "Average, Sum, Minimum, Maximum, SampleCount"}},
		{"treatment", func(c *AlarmConfig) { c.TreatMissingData = "" }, []string{`TreatMissingData ""`, "breaching, notBreaching, ignore, missing"}},
		{"delay", func(c *AlarmConfig) { c.DeliveryDelay = -time.Second }, []string{"DeliveryDelay -1s"}},
		{"range", func(c *AlarmConfig) { c.Range = 4 }, []string{"Range 4", "at least EvaluationPeriods (5)"}},
		{"two at once", func(c *AlarmConfig) { c.Period = -1; c.Statistic = "" }, []string{"Period", "Statistic"}},
	} {
		cfg := good
		c.change(&cfg)
		err := cfg.Validate()
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range append(c.want, `alarm "test"`) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.name, err, w)
			}
		}
	}
}

func TestEvaluatePanicsOnAnInvalidConfig(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	Evaluate(AlarmConfig{}, nil, StateOK)
}
