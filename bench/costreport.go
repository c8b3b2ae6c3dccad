package bench

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tap-trading/tap/internal/metrics"
	"github.com/tap-trading/tap/internal/names"
)

// BeforeMemoryMB is the memory TAP was deployed with before issue 15 (the
// config default at the default -base, 2c78c30).
const BeforeMemoryMB = 1769

// memorySizes are the rows of the memory table.
func memorySizes() []int { return []int{128, 256, 512, 1024, 1536, 1769} }

// targetMemoryCost is issue 11's memory rule: the smallest memory meeting
// the own-time target unless it costs more than this over the cheapest.
const targetMemoryCost = 1.10

// model is the cost model's bills and inputs for one report.
type model struct {
	p                        Prices
	sources                  []PriceSource
	floor, now, before, seed Bill
	nowA, nowB, befA, befB   PassCost
	floorA, floorB, seedA    PassCost
	floorLog                 float64
	memoryMB                 int
	d                        Deployed
	// tapA and sdk are the publishing-region pass of TAP now and the SDK
	// floor's, as the bill uses them: the medians of the rounds.
	tapA, sdk PassStats
	storage   float64
	fixed     FixedMonth
	chosenMB  int
	memRows   []memRow
}

type memRow struct {
	mb               int
	selfP50, billedA time.Duration
	billedB          time.Duration
	lambda, total    float64
}

// minimalEMFBytes is the smallest metrics document an operator can live
// with: one invocation's outcome count, in TAP's namespace and dimension.
func minimalEMFBytes() float64 {
	var b bytes.Buffer
	n := names.For(env)
	rec, err := metrics.New(&b, n.MetricsNamespace(), n.ServiceName())
	if err != nil {
		return 0
	}
	rec.Add(metrics.EventsApplied, metrics.Count, 1)
	_ = rec.Flush()
	return float64(b.Len())
}

func (r Report) model() model {
	d := r.Deployed
	m := model{d: d, memoryMB: r.Tap.MemoryMB, tapA: d.TapPublishing(), sdk: d.SDKFloor()}
	m.p, m.sources = PublishedPrices()
	arm := Deployment{Arch: "arm64", MemoryMB: m.memoryMB}
	a := m.tapA
	m.nowA = PassCost{UnitsOf(a.Calls, a.Created, IndexSetOnce, d.Sizes), DeployedBilled(a, m.memoryMB, a.SelfMean), a.LogBytes}
	m.nowB = PassCost{UnitsOf(d.TapB.Calls, d.TapB.Created, IndexSetOnce, d.Sizes), DeployedBilled(d.TapB, m.memoryMB, d.TapB.SelfMean), d.TapB.LogBytes}
	m.now = TwoRegionBill("TAP now", m.p, arm, m.nowA, m.nowB, true)

	// Before issue 15 TAP was deployed as now (JSON logs, system log level
	// WARN: no platform lines), with the index key moving on every update.
	baseSizes := d.BaseSizes
	if baseSizes == (ItemSizes{}) {
		baseSizes = d.Sizes
	}
	ba := DeployedBilled(d.BaseA, BeforeMemoryMB, d.BaseA.SelfMean)
	bb := DeployedBilled(d.BaseB, BeforeMemoryMB, d.BaseB.SelfMean)
	m.befA = PassCost{UnitsOf(d.BaseA.Calls, d.BaseA.Created, IndexMovesOnUpdate, baseSizes), ba, d.BaseA.LogBytes}
	m.befB = PassCost{UnitsOf(d.BaseB.Calls, d.BaseB.Created, IndexMovesOnUpdate, baseSizes), bb, d.BaseB.LogBytes}
	m.before = TwoRegionBill("TAP before", m.p, Deployment{Arch: "arm64", MemoryMB: BeforeMemoryMB}, m.befA, m.befB, true)

	// The floor writes each state and its index entry once per order, as TAP
	// now does: the same creations per event.
	m.floorLog = minimalEMFBytes()
	two := CallCounts{PutOK: 1, UpdateOK: 1}
	m.floorA = PassCost{UnitsOf(two, a.Created, IndexSetOnce, d.Sizes), DeployedBilled(PassStats{Calls: two}, m.memoryMB, m.sdk.SelfMean), m.floorLog}
	m.floorB = PassCost{Units{}, time.Millisecond, m.floorLog} // an invocation that does nothing: Lambda's minimum
	m.floor = TwoRegionBill("inherent floor", m.p, arm, m.floorA, m.floorB, true)

	const seedMB = 1024
	sb := DeployedBilled(d.Peer, seedMB, d.Peer.SelfMean)
	wu := writeUnits(d.PeerItem)
	m.seedA = PassCost{Units{WRU: wu, ReplicatedOut: wu}, sb, d.Peer.LogBytes + PlatformBytes(sb, seedMB, d.Peer.PeakRSS, true)}
	m.seed = OneRegionBill("seed's design", m.p, Deployment{Arch: "x86_64", MemoryMB: seedMB}, m.seedA, true)

	m.storage = StorageMonth(m.p, d.Sizes, d.Orders, r.Plan.Total())
	m.fixed = TapFixed(m.p, m.now.Total()/1e6)
	m.memoryTable()
	return m
}

// memoryTable prices TAP now at each memory size and chooses one: the
// smallest whose processor self time p50 (scaled) is within the target,
// if its whole bill is within targetMemoryCost of the cheapest; else the
// cheapest.
func (m *model) memoryTable() {
	d := m.d
	cheapest := math.Inf(1)
	for _, mb := range memorySizes() {
		a := PassCost{m.nowA.Units, DeployedBilled(m.tapA, mb, m.tapA.SelfMean), m.nowA.LogBytes}
		b := PassCost{m.nowB.Units, DeployedBilled(d.TapB, mb, d.TapB.SelfMean), m.nowB.LogBytes}
		bill := TwoRegionBill("", m.p, Deployment{Arch: "arm64", MemoryMB: mb}, a, b, true)
		row := memRow{mb: mb, selfP50: time.Duration(float64(m.tapA.SelfP50) * cpuScale(mb)), billedA: a.Billed, billedB: b.Billed,
			lambda: bill.Line(LineLambdaPrimary).Dollars + bill.Line(LineLambdaSecondary).Dollars, total: bill.Total()}
		cheapest = math.Min(cheapest, row.total)
		m.memRows = append(m.memRows, row)
	}
	m.chosenMB = 0
	for _, row := range m.memRows {
		if row.selfP50 <= targetSelfP50 && row.total <= targetMemoryCost*cheapest {
			m.chosenMB = row.mb
			break
		}
	}
	if m.chosenMB == 0 {
		// No size meets the target: the least own time within the budget.
		for _, row := range m.memRows {
			if row.total <= targetMemoryCost*cheapest {
				m.chosenMB = row.mb
			}
		}
	}
}

func (r Report) writeCost(b *strings.Builder) {
	m := r.model()
	d := m.d
	fmt.Fprintf(b, "\n## The whole bill per million events, as deployed (issue 15)\n\n")
	fmt.Fprintf(b, "Every event is processed in **both** regions, as deployed (DESIGN §1): the publishing region applies it, and the\n")
	fmt.Fprintf(b, "other region's processor gets EventBridge's replicated copy (its envelope names the publishing region) after\n")
	fmt.Fprintf(b, "global table replication has brought the items over. This run measures both passes over the same %d events\n", d.Events)
	fmt.Fprintf(b, "(after %d warm-up), for TAP now and for TAP at `%s` (before issue 15), against moto: the second\n", r.Plan.Warmup, d.BaseRev)
	fmt.Fprintf(b, "region's table is a copy of the first's, as replication leaves it, in moto's `%s`. TAP now's publishing-region\n", SecondRegion)
	fmt.Fprintf(b, "figures and the SDK floor's are the medians of the interleaved rounds below; every other column is one pass.\n\n")

	r.writeRounds(b)

	fmt.Fprintf(b, "### Measured inputs (per event)\n\n")
	rounds := ""
	if len(d.Rounds) > 0 {
		rounds = fmt.Sprintf(" (median of %d rounds)", len(d.Rounds))
	}
	cols := []struct {
		name string
		st   PassStats
	}{{"TAP now, publishing region" + rounds, m.tapA}, {"TAP now, other region", d.TapB}, {"TAP before, publishing", d.BaseA}, {"TAP before, other", d.BaseB},
		{"seed (peer)", d.Peer}, {"floor: SDK minimal" + rounds, m.sdk}, {"floor: raw net/http", d.Raw}}
	fmt.Fprintf(b, "| per event |")
	for _, c := range cols {
		fmt.Fprintf(b, " %s |", c.name)
	}
	fmt.Fprintf(b, "\n|---|%s\n", strings.Repeat("---:|", len(cols)))
	row := func(name string, f func(PassStats) string) {
		fmt.Fprintf(b, "| %s |", name)
		for _, c := range cols {
			fmt.Fprintf(b, " %s |", f(c.st))
		}
		fmt.Fprintf(b, "\n")
	}
	row("PutItem: written / condition failed", func(s PassStats) string { return fmt2(s.Calls.PutOK) + " / " + fmt2(s.Calls.PutFailed) })
	row("UpdateItem: written / condition failed", func(s PassStats) string { return fmt2(s.Calls.UpdateOK) + " / " + fmt2(s.Calls.UpdateFailed) })
	row("… of which order states created", func(s PassStats) string { return fmt2(min(s.Created, s.Calls.UpdateOK)) })
	row("Query: consistent / eventually consistent", func(s PassStats) string {
		return fmt2(s.Calls.QueryConsistent) + " / " + fmt2(s.Calls.QueryEventual)
	})
	row("GetItem", func(s PassStats) string { return fmt2(s.Calls.GetConsistent + s.Calls.GetEventual) })
	row("CPU (user+sys)", func(s PassStats) string { return fmtMs(s.CPU) })
	row("billed duration here (mean)", func(s PassStats) string { return fmtMs(s.BilledMean) })
	row("… waiting on DynamoDB (moto)", func(s PassStats) string { return fmtMs(s.WaitMean) })
	row("… own time: billed − waiting (mean / p50)", func(s PassStats) string { return fmtMs(s.SelfMean) + " / " + fmtMs(s.SelfP50) })
	row("log bytes written (stdout+stderr)", func(s PassStats) string { return fmt.Sprintf("%.0f B", s.LogBytes) })
	fmt.Fprintf(b, "\nItem sizes measured on TAP's table: execution %.0f B, state %.0f B, the state's keys (a KEYS_ONLY index entry) %.0f B\n", d.Sizes.Execution, d.Sizes.State, d.Sizes.IndexKeys)
	fmt.Fprintf(b, "(DynamoDB's size: names + values); TAP before's state %.0f B (its index projected the whole state); the seed's item %.0f B.\n", d.BaseSizes.State, d.PeerItem)
	fmt.Fprintf(b, "A write unit is 1 KB, so each write is one unit, and a failed condition costs the same.\n\n")

	fmt.Fprintf(b, "### The bill, line by line ($ per million events)\n\n")
	fmt.Fprintf(b, "| line | inherent floor | TAP now (%d MB) | TAP/floor | TAP before (%d MB) | seed's design |\n|---|---:|---:|---:|---:|---:|\n", m.memoryMB, BeforeMemoryMB)
	for i, l := range m.now.Lines {
		f, bf, s := m.floor.Lines[i], m.before.Lines[i], m.seed.Lines[i]
		ratio := "–"
		if f.Dollars > 0 {
			ratio = fmt.Sprintf("%.2f×", l.Dollars/f.Dollars)
		}
		fmt.Fprintf(b, "| %s | $%.3f<br>%s | $%.3f<br>%s | %s | $%.3f<br>%s | $%.3f<br>%s |\n", l.What,
			f.Dollars, f.Qty, l.Dollars, l.Qty, ratio, bf.Dollars, bf.Qty, s.Dollars, s.Qty)
	}
	tf, tn, tb, ts := m.floor.Total(), m.now.Total(), m.before.Total(), m.seed.Total()
	fmt.Fprintf(b, "| **variable bill per million events** | **$%.2f** | **$%.2f** | **%.2f×** | **$%.2f** (%.2f× floor) | **$%.2f** |\n\n", tf, tn, tn/tf, tb, tb/tf, ts)
	fmt.Fprintf(b, "Besides, per month: keeping a million events' items costs $%.3f (both replicas, storage and PITR, measured sizes);\n", m.storage)
	fmt.Fprintf(b, "TAP's fixed costs are $%.2f a month (", m.fixed.Total())
	for i, l := range m.fixed.Lines {
		if i > 0 {
			fmt.Fprintf(b, "; ")
		}
		fmt.Fprintf(b, "%s: %s, $%.2f", l.What, l.Qty, l.Dollars)
	}
	fmt.Fprintf(b, "). At a sustained 100 events/s (%.0f million a month) TAP's bill is $%.0f a month variable + $%.0f fixed; the seed's\n",
		100*SecondsPerMonth/1e6, tn*100*SecondsPerMonth/1e6, m.fixed.Total())
	fmt.Fprintf(b, "design $%.0f variable.\n\n", ts*100*SecondsPerMonth/1e6)

	fmt.Fprintf(b, "How to read it:\n\n")
	fmt.Fprintf(b, "- **Measured** here: the DynamoDB calls per event by kind and outcome (counted at the keep-alive front, attributed to the invocation\n")
	fmt.Fprintf(b, "  whose fetch-to-response window holds them), item sizes, bytes logged, and the processes' own time (billed − waiting); TAP now's\n")
	fmt.Fprintf(b, "  publishing region and the SDK floor as the medians of the rounds.\n")
	fmt.Fprintf(b, "  **Priced or assumed**: the prices (below), DynamoDB's in-region wait (%s a write, %s a read, in place of moto's ~10 ms),\n", fmtMs(DDBWriteWait), fmtMs(DDBReadWait))
	fmt.Fprintf(b, "  X-Ray's default sampling (%.0f %% of invocations at a sustained rate), and Lambda's CPU share (memory ÷ %d MB of a vCPU),\n", 100*XRaySampled, MBPerVCPU)
	fmt.Fprintf(b, "  which stretches the measured own time (this machine's %s, a whole core) to the deployed memory. Billed duration as deployed =\n", r.Machine.Arch)
	fmt.Fprintf(b, "  calls × in-region wait + own time × scale, rounded up to 1 ms.\n")
	fmt.Fprintf(b, "- **Index writes, per revision.** TAP now's `byAccount` index is KEYS_ONLY and its sort key is set once, when an order's\n")
	fmt.Fprintf(b, "  state item is created (`if_not_exists`), so an ordinary state update writes no index item: one index write unit per\n")
	fmt.Fprintf(b, "  state created, in the publishing region's replica and again in the other's (each replica maintains its own index;\n")
	fmt.Fprintf(b, "  replicated index writes are ordinary write units there:\n")
	fmt.Fprintf(b, "  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/global-tables-billing.html). TAP before moved the key with\n")
	fmt.Fprintf(b, "  every update: %s per state created, %s (a delete and a put of the whole state) per later update.\n", fmt2(IndexMovesOnUpdate.PerCreate), fmt2(IndexMovesOnUpdate.PerUpdate))
	fmt.Fprintf(b, "  **States created** are counted from the events each timed pass was sent: the distinct orders among its timed events\n")
	fmt.Fprintf(b, "  none of whose events the table had before (from its warm-up or, on the side-by-side table, the earlier phases) —\n")
	fmt.Fprintf(b, "  %s per event in the rounds (%d orders over the run's %d events: %s); the other region's passes create none (their\n",
		fmt2(m.tapA.Created), d.Orders, r.Plan.Total(), fmt2(float64(d.Orders)/float64(max(r.Plan.Total(), 1))))
	fmt.Fprintf(b, "  table is a copy holding every state). The inherent floor writes the index once per order, as TAP now does.\n")
	fmt.Fprintf(b, "- **Inherent floor**: what this design cannot avoid — each event published once and replicated once by EventBridge, the\n")
	fmt.Fprintf(b, "  execution and state items written once and replicated once (the index entry once per order), one invocation per region (the\n")
	fmt.Fprintf(b, "  publishing region's at the SDK-minimal floor's own time with two writes, the other region's doing nothing, billed 1 ms), and the\n")
	fmt.Fprintf(b, "  least logging an operator can live with: one minimal EMF document per invocation (%.0f B: the outcome count) and no\n", m.floorLog)
	fmt.Fprintf(b, "  platform lines. X-Ray at the same sampling.\n")
	fmt.Fprintf(b, "- **TAP now**: as the CDK app deploys it — arm64, %d MB, logs in JSON format with the system log level at WARN (no\n", m.memoryMB)
	fmt.Fprintf(b, "  START/END/REPORT lines), applied events logged at DEBUG (their count is in EMF, their fate in the table), the other\n")
	fmt.Fprintf(b, "  region reading first (one eventually consistent Query), and the index written once per order.\n")
	fmt.Fprintf(b, "- **TAP before** (`%s`, the processor before issue 15): as the CDK app deployed it — arm64, %d MB, JSON logs at system\n", d.BaseRev, BeforeMemoryMB)
	fmt.Fprintf(b, "  log level WARN (no platform lines: its measured logs only), the other region reading first — with the index key moving\n")
	fmt.Fprintf(b, "  on every state update.\n")
	fmt.Fprintf(b, "- **Seed's design** as the seed deploys it: one region processes (x86_64, 1024 MB), one unconditional PutItem of the whole\n")
	fmt.Fprintf(b, "  event into a global table with a second replica, the whole event logged, platform lines, active tracing. The difference buys:\n")
	fmt.Fprintf(b, "  processing in both regions (the secondary is warm and current when the primary fails), order state (not only a log of\n")
	fmt.Fprintf(b, "  events), validation with reason codes, exactly-once effect, and no lost events (dead-letter queues in both regions) —\n")
	fmt.Fprintf(b, "  the seed, deployed, fails at init with tracing on and loses every failed event.\n\n")

	r.writeTargets(b, m)
	r.writeProfiles(b)

	// Latency budget.
	fmt.Fprintf(b, "\n## Latency budget per event, as deployed (%d MB)\n\n", m.memoryMB)
	fmt.Fprintf(b, "| | TAP, publishing region | TAP, other region | seed (1024 MB x86_64) |\n|---|---:|---:|---:|\n")
	wait := func(s PassStats) time.Duration {
		return time.Duration(s.Calls.Writes()*float64(DDBWriteWait) + s.Calls.Reads()*float64(DDBReadWait))
	}
	scaled := func(mb int, v time.Duration) time.Duration {
		return time.Duration(float64(v) * cpuScale(mb))
	}
	fmt.Fprintf(b, "| waiting on DynamoDB (calls × in-region wait) | %s | %s | %s |\n", fmtMs(wait(m.tapA)), fmtMs(wait(d.TapB)), fmtMs(wait(d.Peer)))
	fmt.Fprintf(b, "| processor own time, scaled to the memory's CPU share (p50) | %s | %s | %s |\n",
		fmtMs(scaled(m.memoryMB, m.tapA.SelfP50)), fmtMs(scaled(m.memoryMB, d.TapB.SelfP50)), fmtMs(scaled(1024, d.Peer.SelfP50)))
	fmt.Fprintf(b, "| billed duration (mean, rounded up) | %s | %s | %s |\n", fmtMs(m.nowA.Billed), fmtMs(m.nowB.Billed), fmtMs(m.seedA.Billed))
	fmt.Fprintf(b, "| Runtime API hand-off here (queued → fetched, p50, not billed) | %s | %s | %s |\n",
		fmtMs(handoff(r.Tap.Seq)), "–", fmtMs(handoff(r.Peer.Seq)))
	fmt.Fprintf(b, "\nThe processor's **own time per event** (billed − waiting on AWS calls), measured here on a whole core, so the\n")
	fmt.Fprintf(b, "comparison does not hinge on moto's speed: TAP %s mean / %s p50%s, the peer %s / %s (%.2f×).\n",
		fmtMs(m.tapA.SelfMean), fmtMs(m.tapA.SelfP50), rounds, fmtMs(d.Peer.SelfMean), fmtMs(d.Peer.SelfP50), float64(m.tapA.SelfMean)/float64(max(d.Peer.SelfMean, 1)))

	// Memory.
	fmt.Fprintf(b, "\n## Memory size (arm64, CPU scaled)\n\n")
	fmt.Fprintf(b, "| memory | own time p50, publishing region | billed: publishing / other | Lambda $ per 1M (both regions) | whole bill $ per 1M | over the cheapest |\n|---:|---:|---:|---:|---:|---:|\n")
	cheapest := math.Inf(1)
	for _, row := range m.memRows {
		cheapest = math.Min(cheapest, row.total)
	}
	for _, row := range m.memRows {
		mark := ""
		if row.mb == m.chosenMB {
			mark = " ← chosen by the rule"
		}
		fmt.Fprintf(b, "| %d MB%s | %s | %s / %s | $%.3f | $%.3f | %+.1f %% |\n", row.mb, mark, fmtMs(row.selfP50), fmtMs(row.billedA), fmtMs(row.billedB), row.lambda, row.total, 100*(row.total/cheapest-1))
	}
	fmt.Fprintf(b, "\nThe rule (issue 11): the smallest memory whose own time p50 is ≤ %s, unless that costs more than %.0f %% over the cheapest\n", fmtMs(targetSelfP50), 100*(targetMemoryCost-1))
	fmt.Fprintf(b, "whole bill; if none meets it, the one with the least own time within that budget. This run's choice: **%d MB**; the config default (`tap:processorMemoryMB`, `config.Defaults`) is **%d MB**", m.chosenMB, r.Tap.MemoryMB)
	if m.chosenMB == r.Tap.MemoryMB {
		fmt.Fprintf(b, " — the same.\n")
	} else {
		fmt.Fprintf(b, " — they differ in this run (the own time is noisy on a machine shared with other work).\n")
	}

	r.writeCapacity(b, m)

	fmt.Fprintf(b, "\n## Prices (us-east-1; us-west-2 is the same), read %s\n\n| what | price | source |\n|---|---|---|\n", PricesRead)
	for _, s := range m.sources {
		fmt.Fprintf(b, "| %s | %s | %s |\n", s.What, s.Value, s.Source)
	}
	fmt.Fprintf(b, "\nNo free tier is counted. Data transfer between regions for replication (EventBridge and DynamoDB) is not in the bill:\n")
	fmt.Fprintf(b, "a few hundred bytes per event at $0.02 per GB is under $0.01 per million events.\n")
}

// handoff is the median time from queueing an event to a runtime fetching it.
func handoff(ph Phase) time.Duration {
	ds := make([]time.Duration, 0, len(ph.Results))
	for _, r := range ph.Results {
		ds = append(ds, r.Fetched.Sub(r.Queued))
	}
	return median(ds)
}
