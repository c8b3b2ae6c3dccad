package cloudwatch

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// State is an alarm state.
type State string

// The alarm states.
const (
	StateOK               State = "OK"
	StateAlarm            State = "ALARM"
	StateInsufficientData State = "INSUFFICIENT_DATA"
)

// TreatMissingData is how an alarm treats missing datapoints, spelled as in
// PutMetricAlarm and CloudFormation.
type TreatMissingData string

// The missing-data treatments.
const (
	// Breaching fills missing datapoints as breaching.
	Breaching TreatMissingData = "breaching"
	// NotBreaching fills missing datapoints as within the threshold.
	NotBreaching TreatMissingData = "notBreaching"
	// Ignore keeps the current state when the real datapoints cannot decide.
	Ignore TreatMissingData = "ignore"
	// Missing, AWS's default, does not fill: INSUFFICIENT_DATA when the real
	// datapoints cannot decide.
	Missing TreatMissingData = "missing"
)

// TreatMissingDataValues are the accepted treatments.
var TreatMissingDataValues = []TreatMissingData{Breaching, NotBreaching, Ignore, Missing}

// Comparison is an alarm's ComparisonOperator, spelled as in CloudFormation.
// The statistic is the left operand, the threshold the right.
type Comparison string

// The static-threshold comparisons.
const (
	GreaterThanThreshold          Comparison = "GreaterThanThreshold"
	GreaterThanOrEqualToThreshold Comparison = "GreaterThanOrEqualToThreshold"
	LessThanThreshold             Comparison = "LessThanThreshold"
	LessThanOrEqualToThreshold    Comparison = "LessThanOrEqualToThreshold"
)

// Comparisons are the accepted comparisons.
var Comparisons = []Comparison{GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold, LessThanOrEqualToThreshold}

// The statistics a period's samples are aggregated by: the ones Route 53
// accepts for a CLOUDWATCH_METRIC health check's alarm (extended statistics
// such as percentiles are not).
const (
	Average     = "Average"
	Sum         = "Sum"
	Minimum     = "Minimum"
	Maximum     = "Maximum"
	SampleCount = "SampleCount"
)

// Statistics are the accepted statistics.
var Statistics = []string{Average, Sum, Minimum, Maximum, SampleCount}

// AWSEvaluationInterval is how often CloudWatch evaluates an alarm whose
// period is one minute or longer ("Alarm evaluation"). For the deployed 60 s
// period that is once a period: a twin scaling the period scales this with
// it.
const AWSEvaluationInterval = time.Minute

// EvaluationRange is how many periods CloudWatch retrieves to evaluate an
// alarm with n evaluation periods. ASSUMED: n + 2. The User Guide gives only
// one example (5 for n = 3) and says the number depends on the period and
// the metric's resolution.
func EvaluationRange(n int) int { return n + 2 }

// AlarmConfig is a metric alarm, in PutMetricAlarm's terms.
type AlarmConfig struct {
	// Name names the alarm in errors and reasons. Optional.
	Name string
	// Period is the length of one datapoint, already scaled by the caller.
	Period time.Duration
	// EvaluationPeriods is N, DatapointsToAlarm M: ALARM when M of the last
	// N datapoints breach. 1 <= M <= N.
	EvaluationPeriods, DatapointsToAlarm int
	// Threshold is compared with each datapoint, in the metric's unit.
	Threshold float64
	// Comparison is the ComparisonOperator.
	Comparison Comparison
	// Statistic aggregates a period's samples into its datapoint.
	Statistic string
	// TreatMissingData is how missing datapoints are filled.
	TreatMissingData TreatMissingData
	// DeliveryDelay is how long after a period ends its datapoint becomes
	// visible to evaluation: a datapoint for [t, t+Period) is seen from
	// t+Period+DeliveryDelay. ASSUMED figure: EventBridge documents its
	// metrics as best effort, possibly delayed, with no number.
	DeliveryDelay time.Duration
	// Range is the evaluation range in periods; 0 means
	// EvaluationRange(EvaluationPeriods). At least EvaluationPeriods.
	Range int
	// Epoch aligns the periods: they start at Epoch + k·Period. The zero
	// value aligns them as time.Time.Truncate(Period) does (whole minutes for
	// 60 s periods, as CloudWatch aligns them).
	Epoch time.Time
}

// RangePeriods is the evaluation range in periods.
func (c AlarmConfig) RangePeriods() int {
	if c.Range > 0 {
		return c.Range
	}
	return EvaluationRange(c.EvaluationPeriods)
}

// Validate names every setting that makes the alarm impossible to evaluate,
// with the values it accepts.
func (c AlarmConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if c.Period <= 0 {
		bad("Period %s: must be positive", c.Period)
	}
	if c.EvaluationPeriods < 1 {
		bad("EvaluationPeriods %d: must be at least 1", c.EvaluationPeriods)
	}
	if c.DatapointsToAlarm < 1 || c.DatapointsToAlarm > max(c.EvaluationPeriods, 1) {
		bad("DatapointsToAlarm %d: must be from 1 to EvaluationPeriods (%d)", c.DatapointsToAlarm, c.EvaluationPeriods)
	}
	if math.IsNaN(c.Threshold) || math.IsInf(c.Threshold, 0) {
		bad("Threshold %v: must be a finite number", c.Threshold)
	}
	if !slices.Contains(Comparisons, c.Comparison) {
		bad("Comparison %q: must be one of %s", c.Comparison, join(Comparisons))
	}
	if !slices.Contains(Statistics, c.Statistic) {
		bad("Statistic %q: must be one of %s", c.Statistic, strings.Join(Statistics, ", "))
	}
	if !slices.Contains(TreatMissingDataValues, c.TreatMissingData) {
		bad("TreatMissingData %q: must be one of %s (AWS's default when omitted is missing)", c.TreatMissingData, join(TreatMissingDataValues))
	}
	if c.DeliveryDelay < 0 {
		bad("DeliveryDelay %s: must not be negative", c.DeliveryDelay)
	}
	if c.Range != 0 && c.Range < c.EvaluationPeriods {
		bad("Range %d: must be 0 (EvaluationPeriods + 2) or at least EvaluationPeriods (%d)", c.Range, c.EvaluationPeriods)
	}
	if len(errs) == 0 {
		return nil
	}
	name := ""
	if c.Name != "" {
		name = " " + strconv.Quote(c.Name)
	}
	return fmt.Errorf("cloudwatch: alarm%s: %w", name, errors.Join(errs...))
}

func join[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// Breaching reports whether a datapoint's value is on the alarm side of the
// threshold.
func (c AlarmConfig) Breaching(v float64) bool {
	switch c.Comparison {
	case GreaterThanThreshold:
		return v > c.Threshold
	case GreaterThanOrEqualToThreshold:
		return v >= c.Threshold
	case LessThanThreshold:
		return v < c.Threshold
	case LessThanOrEqualToThreshold:
		return v <= c.Threshold
	}
	return false
}

// Evaluate is the documented decision. datapoints is the evaluation range,
// oldest first, nil where a datapoint is missing; current is the alarm's
// state (kept by Ignore when the real datapoints cannot decide). cfg must be
// valid: Evaluate panics otherwise.
//
// With at least N real datapoints, the most recent N real ones decide:
// ALARM when M of them breach, else OK. With none, the treatment decides:
// breaching ALARM, notBreaching OK, ignore the current state, missing
// INSUFFICIENT_DATA. With k, 0 < k < N: breaching and notBreaching fill
// the N-k missing ones and count; missing and ignore count the real ones
// only — ALARM when M breach, OK when any is non-breaching, and otherwise
// (all breach, fewer than M) ALARM by the premature-alarm rule when the
// oldest breaching one is at least M periods old and INSUFFICIENT_DATA
// (missing) or the current state (ignore) when it is not.
func Evaluate(cfg AlarmConfig, datapoints []*float64, current State) State {
	return Decide(cfg, datapoints, current).State
}

// Decision is an evaluation's outcome and the reason for it.
type Decision struct {
	State State
	// Reason names the datapoints that decided, as CloudWatch's StateReason.
	Reason string
	// Filled is how many of the N evaluated datapoints had to be filled in
	// by the missing-data treatment (the guide's "# of data points that
	// must be filled"): N minus the real datapoints in the range, or 0.
	Filled int
}

// Decide is Evaluate with the reason.
func Decide(cfg AlarmConfig, datapoints []*float64, current State) Decision {
	pts := make([]point, len(datapoints))
	for i, v := range datapoints {
		pts[i] = point{age: len(datapoints) - i, v: v}
	}
	return decide(cfg, pts, current)
}

// point is one datapoint of the range: its age in periods (1 for the most
// recent), its start when known, and its value (nil: missing).
type point struct {
	age   int
	start time.Time
	v     *float64
}

func (p point) String() string {
	s := strconv.FormatFloat(*p.v, 'f', -1, 64)
	if p.start.IsZero() {
		return s
	}
	return s + " (" + p.start.UTC().Format("15:04:05.000") + ")"
}

// list prints points newest first, as CloudWatch does.
func list(pts []point) string {
	s := make([]string, len(pts))
	for i, p := range pts {
		s[len(pts)-1-i] = p.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// decide evaluates the range pts, oldest first.
func decide(cfg AlarmConfig, pts []point, current State) Decision {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	var real []point
	for _, p := range pts {
		if p.v != nil {
			real = append(real, p)
		}
	}
	d := judge(cfg, real, len(pts), current)
	d.Filled = max(cfg.EvaluationPeriods-len(real), 0)
	return d
}

// judge decides on the real datapoints of a range of r periods.
func judge(cfg AlarmConfig, real []point, r int, current State) Decision {
	n, m := cfg.EvaluationPeriods, cfg.DatapointsToAlarm
	k := len(real)
	breaching := 0
	count := func(ps []point) {
		breaching = 0
		for _, p := range ps {
			if cfg.Breaching(*p.v) {
				breaching++
			}
		}
	}
	op := operator[cfg.Comparison]
	thr := strconv.FormatFloat(cfg.Threshold, 'f', -1, 64)
	verdict := func(b int) State {
		if b >= m {
			return StateAlarm
		}
		return StateOK
	}

	// Enough real datapoints: the most recent N decide, missing data is not
	// needed.
	if k >= n {
		last := real[k-n:]
		count(last)
		st := verdict(breaching)
		return Decision{State: st, Reason: fmt.Sprintf("%d of the last %s %s %s the threshold (%s); %d needed for ALARM",
			breaching, plural(n, "datapoint", "datapoints"), list(last), were(breaching, op), thr, m)}
	}

	count(real)
	switch cfg.TreatMissingData {
	case Breaching, NotBreaching:
		fill := n - k
		b := breaching
		as := "not breaching"
		if cfg.TreatMissingData == Breaching {
			b += fill
			as = "breaching"
		}
		st := verdict(b)
		if k == 0 {
			return Decision{State: st, Reason: fmt.Sprintf("no datapoints in the evaluation range of %s: %s treated as %s; %d of %d breaching, %d needed for ALARM",
				plural(r, "period", "periods"), plural(fill, "missing datapoint", "missing datapoints"), as, b, n, m)}
		}
		return Decision{State: st, Reason: fmt.Sprintf("only %s %s in the evaluation range of %s, %d %s the threshold (%s); %s treated as %s; %d of %d breaching, %d needed for ALARM",
			plural(k, "datapoint", "datapoints"), list(real), plural(r, "period", "periods"), breaching, were(breaching, op), thr,
			plural(fill, "missing datapoint", "missing datapoints"), as, b, n, m)}
	}

	// missing and ignore: only the real datapoints count.
	undecided := func(why string) Decision {
		if cfg.TreatMissingData == Ignore {
			return Decision{State: current, Reason: why + "; missing data is ignored: the state is kept"}
		}
		return Decision{State: StateInsufficientData, Reason: why + "; insufficient data"}
	}
	if k == 0 {
		return undecided(fmt.Sprintf("no datapoints in the evaluation range of %s", plural(r, "period", "periods")))
	}
	seen := fmt.Sprintf("only %s %s in the evaluation range of %s, %d %s the threshold (%s)",
		plural(k, "datapoint", "datapoints"), list(real), plural(r, "period", "periods"), breaching, were(breaching, op), thr)
	if breaching >= m {
		return Decision{State: StateAlarm, Reason: fmt.Sprintf("%s; %d needed for ALARM", seen, m)}
	}
	if breaching < k {
		return Decision{State: StateOK, Reason: fmt.Sprintf("%s; %d needed for ALARM, and a datapoint is within the threshold", seen, m)}
	}
	// Every real datapoint breaches, but fewer than M: the premature-alarm
	// rule. real[0] is the oldest breaching one.
	if oldest := real[0].age; oldest >= m {
		if cfg.TreatMissingData == Ignore {
			return undecided(seen + fmt.Sprintf("; the oldest is %s old", plural(oldest, "period", "periods")))
		}
		return Decision{State: StateAlarm, Reason: seen + fmt.Sprintf("; every one breaches and the oldest is %s old, at least %d (premature-alarm rule)",
			plural(oldest, "period", "periods"), m)}
	}
	return undecided(seen + fmt.Sprintf("; every one breaches but the oldest is only %s old, fewer than %d",
		plural(real[0].age, "period", "periods"), m))
}

func were(n int, op string) string {
	if n == 1 {
		return "was " + op
	}
	return "were " + op
}

var operator = map[Comparison]string{
	GreaterThanThreshold:          "greater than",
	GreaterThanOrEqualToThreshold: "greater than or equal to",
	LessThanThreshold:             "less than",
	LessThanOrEqualToThreshold:    "less than or equal to",
}
