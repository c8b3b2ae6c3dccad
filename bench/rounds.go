package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/store"
)

// Round is one round of the interleaved passes (issue 15): TAP's
// publishing-region pass and the SDK floor's, each on a fresh table over the
// same events, one after the other, so drift in the machine's load hits both
// alike.
type Round struct {
	// TapFirst says TAP's pass ran first; rounds alternate.
	TapFirst bool
	Tap, SDK PassStats
}

// CPURatio is TAP's CPU per event over the SDK floor's in this round.
func (r Round) CPURatio() float64 { return float64(r.Tap.CPU) / float64(max(r.SDK.CPU, 1)) }

// roundsEnv is what measureRounds needs.
type roundsEnv struct {
	db *dynamodb.Client
	// tap and sdk are the runtimes; their table is set per round.
	tap, sdk Runtime
	// tableBase names the rounds' tables.
	tableBase string
	front     *KeepAliveFront
	// events are the warm-up events, then the timed ones.
	events         [][]byte
	warmup, rounds int
	log            Logf
}

// measureRounds runs e.rounds rounds, TAP first in the odd ones, and checks
// that each TAP pass applied every event once.
func measureRounds(ctx context.Context, e roundsEnv) ([]Round, error) {
	created := Created(e.events[:e.warmup], e.events[e.warmup:])
	orders := len(distinctOrders(e.events))
	timed := len(e.events) - e.warmup
	pass := func(rt Runtime, tableEnv, table string) (PassStats, error) {
		if err := store.CreateTable(ctx, e.db, table); err != nil {
			return PassStats{}, err
		}
		rt.Env = withEnv(rt.Env, tableEnv, table)
		mark := e.front.Mark()
		ph, err := MeasurePhase(ctx, rt, NewCursor(e.events), 1, e.warmup, timed, e.log)
		if err != nil {
			return PassStats{}, err
		}
		st := Analyze(ph, e.front.Since(mark))
		st.Created = created
		return st, nil
	}
	var rounds []Round
	for i := range e.rounds {
		r := Round{TapFirst: i%2 == 0}
		tapTable := fmt.Sprintf("%s-round%d-tap", e.tableBase, i+1)
		sdkTable := fmt.Sprintf("%s-round%d-sdk", e.tableBase, i+1)
		steps := []func() error{
			func() (err error) {
				e.log("round %d/%d: %s", i+1, e.rounds, TapName)
				r.Tap, err = pass(e.tap, processor.EnvTableName, tapTable)
				return err
			},
			func() (err error) {
				e.log("round %d/%d: floor: SDK minimal", i+1, e.rounds)
				r.SDK, err = pass(e.sdk, floorTableEnv, sdkTable)
				return err
			},
		}
		if !r.TapFirst {
			slices.Reverse(steps)
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return rounds, err
			}
		}
		if err := verifyRound(ctx, e.db, tapTable, len(e.events), orders); err != nil {
			return rounds, fmt.Errorf("round %d: %w", i+1, err)
		}
		// The tables are done with: moto keeps every item in memory.
		for _, t := range []string{tapTable, sdkTable} {
			if _, err := e.db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(t)}); err != nil {
				return rounds, fmt.Errorf("round %d: delete %s: %w", i+1, t, err)
			}
		}
		e.log("round %d/%d: CPU per event TAP %s, SDK floor %s (%.2f×); own time p50 TAP %s", i+1, e.rounds,
			roundFine(r.Tap.CPU), roundFine(r.SDK.CPU), r.CPURatio(), roundFine(r.Tap.SelfP50))
		rounds = append(rounds, r)
	}
	return rounds, nil
}

// floorTableEnv names the floors' table (bench/floor/raw and sdk read it).
const floorTableEnv = "FLOOR_TABLE"

// verifyRound checks that a round's TAP table holds one execution per event
// and one state per order: the pass applied every event exactly once.
func verifyRound(ctx context.Context, db *dynamodb.Client, table string, events, orders int) error {
	all, err := scanCount(ctx, db, table, nil)
	if err != nil {
		return err
	}
	execs, err := scanCount(ctx, db, table, &dynamodb.ScanInput{
		FilterExpression:          aws.String("begins_with(SK, :e)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": &types.AttributeValueMemberS{Value: execSKPrefix}},
	})
	if err != nil {
		return err
	}
	if execs != events || all-execs != orders {
		return fmt.Errorf("verify: TAP's table %s holds %d execution items and %d order states for %d events over %d orders",
			table, execs, all-execs, events, orders)
	}
	return nil
}

// Created is the order states the timed events create per timed event, on a
// table that already applied prior: the distinct orders of timed none of
// whose events is in prior. Every generated event is valid and applied, so
// an order's first event applied creates its state item; a later one
// updates it.
func Created(prior, timed [][]byte) float64 {
	if len(timed) == 0 {
		return 0
	}
	seen := distinctOrders(prior)
	n := 0
	for _, id := range orderIDs(timed) {
		if !seen[id] {
			seen[id] = true
			n++
		}
	}
	return float64(n) / float64(len(timed))
}

// distinctOrders is the set of orderIds of events.
func distinctOrders(events [][]byte) map[string]bool {
	set := map[string]bool{}
	for _, id := range orderIDs(events) {
		set[id] = true
	}
	return set
}

// orderIDs reads each event's detail.orderId (events from Events: valid).
func orderIDs(events [][]byte) []string {
	ids := make([]string, 0, len(events))
	for _, raw := range events {
		var ev struct {
			Detail struct {
				OrderID string `json:"orderId"`
			} `json:"detail"`
		}
		_ = json.Unmarshal(raw, &ev) // a generated event always parses; "" otherwise
		ids = append(ids, ev.Detail.OrderID)
	}
	return ids
}

// Spread is a median with the range it was taken from.
type Spread struct {
	Median, Min, Max float64
}

// SpreadOf is the median (the mean of the middle two of an even count), the
// least and the greatest of xs.
func SpreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Median: m, Min: s[0], Max: s[len(s)-1]}
}

// durationSpread is SpreadOf a duration of each pass.
func durationSpread(ps []PassStats, f func(PassStats) time.Duration) Spread {
	xs := make([]float64, len(ps))
	for i, p := range ps {
		xs[i] = float64(f(p))
	}
	return SpreadOf(xs)
}

// MedianPass is the passes' median pass: each time and size the median
// across passes, the calls and creations their mean (the same events make
// the same calls in every round), the peak RSS the greatest.
func MedianPass(ps []PassStats) PassStats {
	if len(ps) == 0 {
		return PassStats{}
	}
	med := func(f func(PassStats) time.Duration) time.Duration {
		return time.Duration(durationSpread(ps, f).Median)
	}
	out := PassStats{
		Events:     ps[0].Events,
		CPU:        med(func(p PassStats) time.Duration { return p.CPU }),
		WaitMean:   med(func(p PassStats) time.Duration { return p.WaitMean }),
		SelfMean:   med(func(p PassStats) time.Duration { return p.SelfMean }),
		SelfP50:    med(func(p PassStats) time.Duration { return p.SelfP50 }),
		BilledMean: med(func(p PassStats) time.Duration { return p.BilledMean }),
	}
	logs := make([]float64, len(ps))
	var calls CallCounts
	for i, p := range ps {
		logs[i] = p.LogBytes
		calls = calls.plus(p.Calls)
		out.Created += p.Created / float64(len(ps))
		out.PeakRSS = max(out.PeakRSS, p.PeakRSS)
	}
	out.LogBytes = SpreadOf(logs).Median
	out.Calls = calls.scale(1 / float64(len(ps)))
	return out
}

func (c CallCounts) plus(o CallCounts) CallCounts {
	return CallCounts{c.PutOK + o.PutOK, c.PutFailed + o.PutFailed, c.UpdateOK + o.UpdateOK, c.UpdateFailed + o.UpdateFailed,
		c.QueryConsistent + o.QueryConsistent, c.QueryEventual + o.QueryEventual, c.GetConsistent + o.GetConsistent,
		c.GetEventual + o.GetEventual, c.Other + o.Other}
}

// RoundSummary is what the report and the targets take from the rounds.
type RoundSummary struct {
	// Tap and SDK are each side's median pass.
	Tap, SDK PassStats
	// TapCPU, SDKCPU, TapSelfP50, TapSelfMean, SDKSelfP50, SDKSelfMean and
	// TapLog are the spreads across rounds (nanoseconds; bytes per
	// invocation for TapLog).
	TapCPU, SDKCPU, TapSelfP50, TapSelfMean, SDKSelfP50, SDKSelfMean, TapLog Spread
	// CPURatio is the spread of the per-round ratios of TAP's CPU per event
	// to the floor's; RatioOfMedians is TapCPU.Median over SDKCPU.Median.
	CPURatio       Spread
	RatioOfMedians float64
}

// Summarize takes the medians and spreads of rounds.
func Summarize(rounds []Round) RoundSummary {
	taps := make([]PassStats, len(rounds))
	sdks := make([]PassStats, len(rounds))
	ratios := make([]float64, len(rounds))
	logs := make([]float64, len(rounds))
	for i, r := range rounds {
		taps[i], sdks[i], ratios[i], logs[i] = r.Tap, r.SDK, r.CPURatio(), r.Tap.LogBytes
	}
	cpu := func(p PassStats) time.Duration { return p.CPU }
	p50 := func(p PassStats) time.Duration { return p.SelfP50 }
	mean := func(p PassStats) time.Duration { return p.SelfMean }
	s := RoundSummary{
		Tap: MedianPass(taps), SDK: MedianPass(sdks),
		TapCPU: durationSpread(taps, cpu), SDKCPU: durationSpread(sdks, cpu),
		TapSelfP50: durationSpread(taps, p50), TapSelfMean: durationSpread(taps, mean),
		SDKSelfP50: durationSpread(sdks, p50), SDKSelfMean: durationSpread(sdks, mean),
		TapLog: SpreadOf(logs), CPURatio: SpreadOf(ratios),
	}
	if s.SDKCPU.Median > 0 {
		s.RatioOfMedians = s.TapCPU.Median / s.SDKCPU.Median
	}
	return s
}

// writeRounds renders the rounds: one row each, then the medians and ranges.
func (r Report) writeRounds(b *strings.Builder) {
	d := r.Deployed
	fmt.Fprintf(b, "### Interleaved rounds: TAP's publishing region against the SDK floor\n\n")
	if len(d.Rounds) == 0 {
		fmt.Fprintf(b, "No rounds ran: the bill and the targets use the single passes.\n\n")
		return
	}
	fmt.Fprintf(b, "After every other phase, %d rounds: in each, TAP's publishing-region pass (`bootstrap`) and the SDK floor's\n", len(d.Rounds))
	fmt.Fprintf(b, "(`bench/floor/sdk`: the same two requests through a minimally configured SDK client, nothing else), each on a fresh\n")
	fmt.Fprintf(b, "table over the same %d warm-up and %d timed events, one after the other, the first alternating (TAP first in odd\n", r.Plan.Warmup, d.RoundEvents)
	fmt.Fprintf(b, "rounds), so drift in the machine's load hits both alike. The medians feed the bill, the latency budget, the memory\n")
	fmt.Fprintf(b, "table and the targets; the raw net/http floor, TAP's other region and TAP before are one pass each.\n\n")
	fmt.Fprintf(b, "| round | first | CPU per event: TAP | SDK floor | TAP/SDK | own time p50: TAP | SDK floor | own time mean: TAP | SDK floor | log bytes per invocation: TAP |\n")
	fmt.Fprintf(b, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, rd := range d.Rounds {
		first := "SDK floor"
		if rd.TapFirst {
			first = "TAP"
		}
		fmt.Fprintf(b, "| %d | %s | %s | %s | %.2f× | %s | %s | %s | %s | %.0f B |\n", i+1, first,
			fmtMs(rd.Tap.CPU), fmtMs(rd.SDK.CPU), rd.CPURatio(), fmtMs(rd.Tap.SelfP50), fmtMs(rd.SDK.SelfP50),
			fmtMs(rd.Tap.SelfMean), fmtMs(rd.SDK.SelfMean), rd.Tap.LogBytes)
	}
	s := Summarize(d.Rounds)
	ms := func(sp Spread) string {
		return fmtMs(time.Duration(sp.Median)) + "<br>" + fmtMs(time.Duration(sp.Min)) + " – " + fmtMs(time.Duration(sp.Max))
	}
	fmt.Fprintf(b, "| **median**<br>min – max | | %s | %s | %.2f×<br>%.2f – %.2f× | %s | %s | %s | %s | %.0f B<br>%.0f – %.0f B |\n\n",
		ms(s.TapCPU), ms(s.SDKCPU), s.CPURatio.Median, s.CPURatio.Min, s.CPURatio.Max, ms(s.TapSelfP50), ms(s.SDKSelfP50),
		ms(s.TapSelfMean), ms(s.SDKSelfMean), s.TapLog.Median, s.TapLog.Min, s.TapLog.Max)
	fmt.Fprintf(b, "CPU per event is user+sys of the process over the timed events ÷ events (the kernel counts it in %s ticks:\n", fmtMs(clockTick))
	fmt.Fprintf(b, "±%s per event over %d events); the ratio of the medians is %.2f×. Own time is billed − waiting on DynamoDB.\n\n",
		fmtMs(clockTick/time.Duration(max(d.RoundEvents, 1))), d.RoundEvents, s.RatioOfMedians)
}
