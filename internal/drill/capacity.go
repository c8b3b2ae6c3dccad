package drill

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/globalendpoint"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/twin"
	"github.com/tap-trading/tap/producer"
)

// CapacityConfig says how to measure the twin's capacity: offered rates in
// steps, each held for Step, with both regions processing and replicating
// and no failure.
type CapacityConfig struct {
	// Primary and Secondary are the regions (us-east-1, us-west-2).
	Primary, Secondary string
	// Period scales the twin as in a drill (2 s).
	Period time.Duration
	// Rates are the offered loads, ascending, in events/s
	// (DefaultCapacityRates). The measurement stops at the first rate
	// the twin does not sustain.
	Rates []float64
	// Step is how long each rate is held (10 s).
	Step time.Duration
	// Concurrency is each region's processor concurrency (64).
	Concurrency int
	// Seed makes the load repeatable (1).
	Seed uint64
	// Progress, if set, is told of each step as it ends.
	Progress func(CapacityStep)
	// ProcessorOutput receives both processors' logs and the raw lines of
	// survived errors (discarded).
	ProcessorOutput io.Writer
}

// DefaultCapacityRates are the offered loads a capacity measurement tries.
var DefaultCapacityRates = []float64{5, 7.5, 10, 12.5, 15, 17.5, 20, 25, 30, 40}

// CapacityStep is one offered rate held for the step.
type CapacityStep struct {
	// Offered is the rate asked of the producer; Accepted the rate the
	// endpoint accepted in the step.
	Offered, Accepted float64
	// Processed is, per region, the events settled per second in the step
	// (heartbeats aside): each region processes every accepted event, its
	// own and the other's replicated.
	Processed map[string]float64
	// Backlog is, per region, the events accepted so far and not yet
	// settled there at the end of the step.
	Backlog map[string]int
	// Calls is, per region, the emulator's requests per processed event in
	// the step by operation (X-Amz-Target), and Busy the emulator's time
	// per processed event by operation.
	Calls map[string]map[string]float64
	Busy  map[string]map[string]time.Duration
	// EmulatorCPU is, per region, the CPU its local AWS used per second of
	// the step, in cores: moto's ceiling is about 1 (one Python
	// interpreter lock).
	EmulatorCPU map[string]float64
	// MachineCPU is the whole machine's busy CPU in the step, in cores (of
	// Capacity.CPUs): the emulators, the processors and the twin share it.
	MachineCPU float64
	// Sustained: the endpoint accepted ≥ 90 % of the offered events, each
	// region processed ≥ 90 % of the accepted ones (two events of slack
	// each), and no region's backlog exceeds 2 s of the offered load (at
	// least 10 events).
	Sustained bool
}

// Capacity is the twin's measured capacity on this machine.
type Capacity struct {
	// EventsPerSecond is the highest offered rate sustained; 0 if none.
	EventsPerSecond float64
	// Limit says what bounded it: the first rate not sustained, the region
	// that fell behind, and the emulator operation that took it the most
	// time per event; empty if every rate was sustained.
	Limit string
	// CPUs is the machine's logical CPUs (runtime.NumCPU).
	CPUs  int
	Steps []CapacityStep
	// Measured is when the measurement ended.
	Measured time.Time
}

// capacityTally counts, from the twin's observer, what the steps compare.
type capacityTally struct {
	mu       sync.Mutex
	accepted int
	settled  map[string]int
}

// MeasureCapacity runs the twin with no failure and the producer of the
// drills at rising rates, and returns the highest rate both regions
// sustain, with the emulator calls each event costs per region.
func MeasureCapacity(ctx context.Context, cfg CapacityConfig) (*Capacity, error) {
	if len(cfg.Rates) == 0 {
		cfg.Rates = DefaultCapacityRates
	}
	if cfg.Step <= 0 {
		cfg.Step = 10 * time.Second
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if !slices.IsSorted(cfg.Rates) || cfg.Rates[0] <= 0 {
		return nil, fmt.Errorf("drill: capacity rates %v: want positive rates in ascending order", cfg.Rates)
	}
	dc := Config{Primary: cfg.Primary, Secondary: cfg.Secondary, Period: cfg.Period, Concurrency: cfg.Concurrency,
		Seed: cfg.Seed, ProcessorOutput: cfg.ProcessorOutput}.withDefaults()
	tc := dc.twinConfig()
	t := &capacityTally{settled: map[string]int{}}
	tc.Observer = twin.Observer{
		Accepted: func(globalendpoint.Accepted) { t.mu.Lock(); t.accepted++; t.mu.Unlock() },
		Settled: func(region string, r local.Result) {
			if r.Outcome == string(processor.Heartbeat) || r.Outcome == local.OutcomeUnfinished {
				return
			}
			t.mu.Lock()
			t.settled[region]++
			t.mu.Unlock()
		},
	}
	e, err := twin.Start(ctx, tc)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	regions := []string{e.Primary(), e.Secondary()}

	last := cfg.Rates[len(cfg.Rates)-1]
	orders := int(last*cfg.Step.Seconds()*float64(len(cfg.Rates)))/4 + 10
	ls := gen.Lifecycles(cfg.Seed, orders, gen.Options{Start: time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)})
	entries := entriesFor(gen.Stream(ls, gen.StreamOptions{Seed: cfg.Seed}), e.Spec().Names.Bus())
	pub, err := e.Producer(ctx, producer.Config{Concurrency: 4})
	if err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = pub.Close(cctx)
	}()

	c := &Capacity{CPUs: runtime.NumCPU()}
	// A warm-up before the first step, so that step measures the twin and
	// not its start: the first invocations, connections and stream shards.
	next, err := warmUp(ctx, pub, entries, t, regions, cfg.Step)
	if err != nil {
		return c, err
	}
	for _, rate := range cfg.Rates {
		t.mu.Lock()
		acc0, set0 := t.accepted, maps.Clone(t.settled)
		t.mu.Unlock()
		calls0 := map[string]map[string]motoserver.CallStats{}
		cpu0 := map[string]time.Duration{}
		for _, r := range regions {
			calls0[r], cpu0[r] = e.EmulatorCalls(r), e.EmulatorCPU(r)
		}
		start, busy0 := time.Now(), machineBusy()
		sctx, cancel := context.WithTimeout(ctx, cfg.Step)
		next = paced(sctx, rate, next, len(entries), func(i int) error {
			_, err := pub.Send(sctx, entries[i])
			return err
		})
		cancel()
		if ctx.Err() != nil {
			return c, ctx.Err()
		}
		took := time.Since(start).Seconds()
		t.mu.Lock()
		acc, set := t.accepted, maps.Clone(t.settled)
		t.mu.Unlock()
		s := CapacityStep{Offered: rate, Accepted: float64(acc-acc0) / took, Processed: map[string]float64{},
			Backlog: map[string]int{}, Calls: map[string]map[string]float64{}, Busy: map[string]map[string]time.Duration{},
			EmulatorCPU: map[string]float64{}, MachineCPU: (machineBusy() - busy0).Seconds() / took}
		settled := map[string]int{}
		for _, r := range regions {
			n := set[r] - set0[r]
			settled[r] = n
			s.Processed[r] = float64(n) / took
			s.Backlog[r] = acc - set[r]
			s.EmulatorCPU[r] = (e.EmulatorCPU(r) - cpu0[r]).Seconds() / took
			s.Calls[r], s.Busy[r] = map[string]float64{}, map[string]time.Duration{}
			for op, st := range e.EmulatorCalls(r) {
				d := st.Count - calls0[r][op].Count
				if d == 0 || n == 0 {
					continue
				}
				s.Calls[r][op] = float64(d) / float64(n)
				s.Busy[r][op] = (st.Busy - calls0[r][op].Busy) / time.Duration(n)
			}
		}
		s.Sustained = sustains(rate, took, acc-acc0, settled, s.Backlog)
		c.Steps = append(c.Steps, s)
		if cfg.Progress != nil {
			cfg.Progress(s)
		}
		if !s.Sustained {
			c.Limit = limitOf(s, regions)
			break
		}
		c.EventsPerSecond = rate
		if next >= len(entries) {
			break
		}
	}
	c.Measured = time.Now()
	return c, nil
}

// sustains says whether a step held rate for took seconds: the endpoint
// accepted ≥ 90 % of the offered events, each region settled ≥ 90 % of the
// accepted ones, and no region's backlog exceeds 2 s of the rate (at least
// 10 events). Two events of slack on each count: the first send waits a
// tick, the last calls are in flight when the step ends.
func sustains(rate, took float64, accepted int, settled, backlog map[string]int) bool {
	if float64(accepted) < 0.9*rate*took-2 {
		return false
	}
	for r, n := range settled {
		if float64(n) < 0.9*float64(accepted)-2 || float64(backlog[r]) > max(2*rate, 10) {
			return false
		}
	}
	return true
}

// warmUp sends a few events and waits, up to limit, for both regions to
// settle them; it returns the next entry not sent. A twin that settles
// nothing in that time is an error naming the regions that did not.
func warmUp(ctx context.Context, pub *producer.Producer, entries []ebtypes.PutEventsRequestEntry, t *capacityTally, regions []string, limit time.Duration) (int, error) {
	const n = 5
	t.mu.Lock()
	acc0, set0 := t.accepted, maps.Clone(t.settled)
	t.mu.Unlock()
	for i := range n {
		if _, err := pub.Send(ctx, entries[i]); err != nil {
			return i, fmt.Errorf("drill: capacity warm-up: %w", err)
		}
	}
	deadline := time.Now().Add(max(limit, 30*time.Second))
	for {
		t.mu.Lock()
		acc := t.accepted - acc0
		var behind []string
		for _, r := range regions {
			if t.settled[r]-set0[r] < acc || acc < n {
				behind = append(behind, r)
			}
		}
		t.mu.Unlock()
		if len(behind) == 0 {
			return n, nil
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("drill: capacity warm-up: %d of %d events accepted, not yet settled in %s after %s: "+
				"the twin does not process even a few events (tapctl local drill: --processor-log FILE shows the processors' errors, --capacity off skips this measurement)",
				acc, n, strings.Join(behind, " and "), max(limit, 30*time.Second))
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// limitOf says what bounded the twin at the unsustained step s.
func limitOf(s CapacityStep, regions []string) string {
	if s.Accepted < 0.8*s.Offered {
		return fmt.Sprintf("at %g events/s the endpoint accepted %.1f/s: the producer could not publish faster", s.Offered, s.Accepted)
	}
	worst := regions[0]
	for _, r := range regions[1:] {
		if s.Backlog[r] > s.Backlog[worst] {
			worst = r
		}
	}
	op, busy := "", time.Duration(0)
	for o, b := range s.Busy[worst] {
		if b > busy || b == busy && o < op {
			op, busy = o, b
		}
	}
	return fmt.Sprintf("at %g events/s %s processed %.1f/s (backlog %d); the machine was %.2f cores busy of %d, its local AWS %.2f (moto's ceiling is about 1); "+
		"that emulator spent most per event on %s (%.1f calls, %s, with the wait for DynamoDB's one-at-a-time proxy)",
		s.Offered, worst, s.Processed[worst], s.Backlog[worst], s.MachineCPU, runtime.NumCPU(), s.EmulatorCPU[worst], op, s.Calls[worst][op], busy.Round(100*time.Microsecond))
}

// WriteText writes the measurement for a terminal.
func (c *Capacity) WriteText(w io.Writer) {
	fmt.Fprintf(w, "twin capacity on this machine (%d CPUs): %g events/s sustained, both regions processing and replicating\n", c.CPUs, c.EventsPerSecond)
	if c.Limit != "" {
		fmt.Fprintf(w, "bounded by: %s\n", c.Limit)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "offered/s\taccepted/s\tprocessed/s per region\tbacklog\tmachine CPU\tmoto CPU (cores)\temulator calls per event (top 4 by time)\tsustained")
	for _, s := range c.Steps {
		var proc, back, cpu, calls []string
		for _, r := range slices.Sorted(maps.Keys(s.Processed)) {
			proc = append(proc, fmt.Sprintf("%s %.1f", r, s.Processed[r]))
			back = append(back, fmt.Sprintf("%d", s.Backlog[r]))
			cpu = append(cpu, fmt.Sprintf("%.2f", s.EmulatorCPU[r]))
			ops := slices.SortedFunc(maps.Keys(s.Busy[r]), func(a, b string) int {
				if s.Busy[r][a] != s.Busy[r][b] {
					return int(s.Busy[r][b] - s.Busy[r][a])
				}
				return strings.Compare(a, b)
			})
			var top []string
			for _, op := range ops[:min(4, len(ops))] {
				top = append(top, fmt.Sprintf("%s %.1f", shortOp(op), s.Calls[r][op]))
			}
			calls = append(calls, r+": "+strings.Join(top, ", "))
		}
		fmt.Fprintf(tw, "%g\t%.1f\t%s\t%s\t%.2f\t%s\t%s\t%v\n", s.Offered, s.Accepted, strings.Join(proc, ", "), strings.Join(back, "/"),
			s.MachineCPU, strings.Join(cpu, "/"), strings.Join(calls, " | "), s.Sustained)
	}
	tw.Flush()
}

// shortOp drops the API version from an X-Amz-Target: DynamoDB.PutItem.
func shortOp(op string) string {
	svc, name, ok := strings.Cut(op, ".")
	if !ok {
		return op
	}
	if i := strings.Index(svc, "_"); i > 0 {
		svc = svc[:i]
	}
	return svc + "." + name
}

// machineBusy is the CPU time the whole machine has spent busy, from the
// first line of /proc/stat (proc(5): user nice system idle iowait irq
// softirq steal, in USER_HZ ticks, 100 a second assumed); 0 where that
// cannot be read.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond
}
