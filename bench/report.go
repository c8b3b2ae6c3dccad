package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Published AWS Lambda prices, us-east-1 (the figures the report's cost
// estimate uses; change them here when AWS does).
const (
	PriceX86GBSecond   = 0.0000166667
	PriceArm64GBSecond = 0.0000133334
	PricePerMRequests  = 0.20
	// MBPerVCPU is the memory at which Lambda allocates one full vCPU; below
	// it, CPU is allocated in proportion to memory.
	MBPerVCPU = 1769
)

// Machine describes where the run happened.
type Machine struct {
	CPU, OS, Arch, Kernel string
	Cores                 int
	Go, Node, Moto        string
	Date                  time.Time
}

// Plan is how many events each phase uses, the same for both sides.
type Plan struct {
	ColdStarts int // cold starts, one event each
	Events     int // timed events per phase
	Warmup     int // untimed events per environment before a phase
	InFlight   int // concurrent environments in the concurrent phase
	// Rounds is how many interleaved rounds of TAP's publishing-region pass
	// and the SDK floor's run after the phases (issue 15); RoundEvents the
	// timed events of each pass, after Warmup.
	Rounds, RoundEvents int
	// ProfileIterations is -benchtime (Nx) of the profiled benchmarks.
	ProfileIterations int
}

// Total is the number of events one side receives in the side-by-side
// phases (the rounds have their own, from the start of the same sequence).
func (p Plan) Total() int {
	return p.ColdStarts + p.Warmup + p.Events + p.Warmup*p.InFlight + p.Events
}

// SideResult is everything measured for one side.
type SideResult struct {
	Name string
	// Deploy describes the deployed configuration the cost estimate assumes.
	Arch     string // "arm64" or "x86_64"
	MemoryMB int
	Cold     ColdStarts
	Seq      Phase // 1 in flight
	Conc     Phase // Plan.InFlight in flight
	Artifact int64 // zipped deployment package
	// SeqCalls are the DynamoDB calls made during the 1-in-flight phase.
	SeqCalls []Call
	// ArtifactWhat says what was zipped.
	ArtifactWhat string
}

// Cost is the estimated Lambda bill per million events.
type Cost struct {
	BilledMs float64 // mean billed duration per event
	Dollars  float64
}

// costOf prices a million events of the given billed durations (ms, already
// rounded up per invocation) at memory and arch.
func costOf(billedMs []float64, memoryMB int, arch string) Cost {
	var sum float64
	for _, b := range billedMs {
		sum += b
	}
	mean := sum / float64(max(len(billedMs), 1))
	price := PriceX86GBSecond
	if arch == "arm64" {
		price = PriceArm64GBSecond
	}
	gbSeconds := 1e6 * mean / 1000 * float64(memoryMB) / 1024
	return Cost{BilledMs: mean, Dollars: PricePerMRequests + gbSeconds*price}
}

// MeasuredCost bills each timed event of the 1-in-flight phase for its
// measured duration (fetch to response), rounded up to 1 ms.
func (s SideResult) MeasuredCost() Cost {
	billed := make([]float64, len(s.Seq.Durations))
	for i, d := range s.Seq.Durations {
		billed[i] = math.Ceil(float64(d) / float64(time.Millisecond))
	}
	return costOf(billed, s.MemoryMB, s.Arch)
}

// ScaledCost is MeasuredCost with each event's CPU time stretched by the CPU
// share Lambda gives the configured memory (memory ÷ 1769 MB of a vCPU): the
// run here had whole cores, a 256 MB function has about a seventh of one.
func (s SideResult) ScaledCost() Cost {
	share := math.Min(1, float64(s.MemoryMB)/MBPerVCPU)
	cpu := float64(s.Seq.CPUPerEvent())
	billed := make([]float64, len(s.Seq.Durations))
	for i, d := range s.Seq.Durations {
		wait := math.Max(0, float64(d)-cpu)
		billed[i] = math.Ceil((wait + cpu/share) / float64(time.Millisecond))
	}
	return costOf(billed, s.MemoryMB, s.Arch)
}

// Report is the content of BENCHMARKS.md.
type Report struct {
	Machine Machine
	Plan    Plan
	Tap     SideResult
	Peer    SideResult
	// Verified describes the count checks that passed.
	Verified []string
	Micro    Micro
	// Deployed is the cost model's measurements.
	Deployed Deployed
	// Profiles are the CPU profiles of TAP's handler and of the SDK floor.
	Profiles []Profile
	// Elapsed is the whole run's wall time.
	Elapsed time.Duration
}

// row is one line of the results table: each side's value as text, and the
// raw numbers for the ratio (ratio omitted when peer is 0).
type row struct {
	name      string
	tap, peer string
	t, p      float64
}

func (r Report) rows() []row {
	t, p := r.Tap, r.Peer
	n := r.Plan.InFlight
	ms := func(d time.Duration) string { return fmtMs(d) }
	dur := func(name string, a, b time.Duration) row {
		return row{name, ms(a), ms(b), float64(a), float64(b)}
	}
	return []row{
		dur("CPU time per event, 1 in flight (user+sys ÷ events)", t.Seq.CPUPerEvent(), p.Seq.CPUPerEvent()),
		dur(fmt.Sprintf("CPU time per event, %d in flight", n), t.Conc.CPUPerEvent(), p.Conc.CPUPerEvent()),
		dur(fmt.Sprintf("cold start: exec → first response (median of %d)", r.Plan.ColdStarts), median(t.Cold.Total), median(p.Cold.Total)),
		dur("… of which init: exec → first GET /next (median)", median(t.Cold.Init), median(p.Cold.Init)),
		{"peak RSS after the first event (VmHWM)", fmtMiB(t.Cold.PeakRSS), fmtMiB(p.Cold.PeakRSS), float64(t.Cold.PeakRSS), float64(p.Cold.PeakRSS)},
		{fmt.Sprintf("peak RSS after %d events, 1 in flight", r.Plan.Events+r.Plan.Warmup), fmtMiB(t.Seq.PeakRSS), fmtMiB(p.Seq.PeakRSS), float64(t.Seq.PeakRSS), float64(p.Seq.PeakRSS)},
		{fmt.Sprintf("peak RSS per environment, %d in flight (max)", n), fmtMiB(t.Conc.PeakRSS), fmtMiB(p.Conc.PeakRSS), float64(t.Conc.PeakRSS), float64(p.Conc.PeakRSS)},
		{"throughput, 1 in flight", fmtRate(t.Seq.Throughput()), fmtRate(p.Seq.Throughput()), t.Seq.Throughput(), p.Seq.Throughput()},
		dur("latency p50, 1 in flight (queued → response)", percentile(t.Seq.Latencies, 50), percentile(p.Seq.Latencies, 50)),
		dur("latency p99, 1 in flight", percentile(t.Seq.Latencies, 99), percentile(p.Seq.Latencies, 99)),
		{fmt.Sprintf("throughput, %d in flight", n), fmtRate(t.Conc.Throughput()), fmtRate(p.Conc.Throughput()), t.Conc.Throughput(), p.Conc.Throughput()},
		dur(fmt.Sprintf("latency p50, %d in flight", n), percentile(t.Conc.Latencies, 50), percentile(p.Conc.Latencies, 50)),
		dur(fmt.Sprintf("latency p99, %d in flight", n), percentile(t.Conc.Latencies, 99), percentile(p.Conc.Latencies, 99)),
		{"deployment package (zip)", fmtKiB(t.Artifact), fmtKiB(p.Artifact), float64(t.Artifact), float64(p.Artifact)},
		{"log output per event (stdout+stderr), 1 in flight", fmtBytes(t.Seq.LogBytes / int64(max(t.Seq.Events, 1))), fmtBytes(p.Seq.LogBytes / int64(max(p.Seq.Events, 1))),
			float64(t.Seq.LogBytes), float64(p.Seq.LogBytes)},
	}
}

// Write renders the report as Markdown.
func (r Report) Write(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	pl := r.Plan
	fmt.Fprintf(&b, "# Benchmarks: TAP's Go processor against the seed's Node.js processor\n\n")
	fmt.Fprintf(&b, "Generated by `make bench` (`go run ./cmd/tapbench`) on %s in %s; every figure below\n", m.Date.UTC().Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second))
	fmt.Fprintf(&b, "comes from that one run. Do not edit by hand: run it again.\n\n")
	fmt.Fprintf(&b, "| machine | |\n|---|---|\n")
	fmt.Fprintf(&b, "| CPU | %s, %d cores |\n| OS | %s/%s, kernel %s |\n| Go | %s |\n| Node.js | %s |\n| moto (local DynamoDB/SQS) | %s |\n\n",
		m.CPU, m.Cores, m.OS, m.Arch, m.Kernel, m.Go, m.Node, m.Moto)

	fmt.Fprintf(&b, "## Results\n\n")
	fmt.Fprintf(&b, "| figure | %s | %s | Go/peer |\n|---|---:|---:|---:|\n", r.Tap.Name, r.Peer.Name)
	for _, row := range r.rows() {
		ratio := "–"
		if row.p != 0 {
			ratio = fmt.Sprintf("%.2f×", row.t/row.p)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", row.name, row.tap, row.peer, ratio)
	}
	fmt.Fprintf(&b, "\nA ratio below 1 means TAP uses less (or, for throughput, does less per second).\n\n")

	fmt.Fprintf(&b, "### Targets (issue 5: goals, not assertions)\n\n")
	target := func(what string, ratio, goal float64) {
		verdict := "met"
		if ratio > goal {
			verdict = "**missed**"
		}
		fmt.Fprintf(&b, "- %s: %.1f× less (goal %.0f×) — %s\n", what, 1/ratio, 1/goal, verdict)
	}
	target("CPU per event (1 in flight)", float64(r.Tap.Seq.CPUPerEvent())/float64(r.Peer.Seq.CPUPerEvent()), 1.0/5)
	target("cold start", float64(median(r.Tap.Cold.Total))/float64(median(r.Peer.Cold.Total)), 1.0/3)
	target("peak RSS (1 in flight)", float64(r.Tap.Seq.PeakRSS)/float64(r.Peer.Seq.PeakRSS), 1.0/4)

	fmt.Fprintf(&b, "\n## Work per event — what is being compared\n\n")
	fmt.Fprintf(&b, "- **%s** (`index.fixed.ts` from `../shared/peers/seed-node-processor`, bundled by esbuild %s with\n", r.Peer.Name, EsbuildVersion)
	fmt.Fprintf(&b, "  its dependencies pinned by `bench/peer/package-lock.json`): logs the whole event, adds two EMF metrics and\n")
	fmt.Fprintf(&b, "  flushes them, and writes **one** item with an unconditional PutItem. **No validation**; a retry or\n")
	fmt.Fprintf(&b, "  duplicate writes another item.\n")
	fmt.Fprintf(&b, "  %s\n", PeerTracingNote)
	fmt.Fprintf(&b, "- **%s** (`./cmd/processor`): decodes the envelope and detail with exact decimals, **validates** every\n", r.Tap.Name)
	fmt.Fprintf(&b, "  rule of DESIGN §2, then makes **two conditional writes** (PutItem of the execution if absent, UpdateItem\n")
	fmt.Fprintf(&b, "  of the order state if newer), logs, emits EMF metrics and traces. TAP does more work per event, and\n")
	fmt.Fprintf(&b, "  twice the DynamoDB round trips, so latency and throughput — bound here by moto — favour the peer.\n\n")

	fmt.Fprintf(&b, "## Method\n\n")
	fmt.Fprintf(&b, "- Both sides run as Lambda runs them: a process polling a loopback Lambda Runtime API\n")
	fmt.Fprintf(&b, "  (`internal/lambdaruntime`). TAP is the real `bootstrap` (built like the deployed one, for this machine's\n")
	fmt.Fprintf(&b, "  architecture); the peer is Node.js running `bench/peer-runtime.mjs`, a minimal Runtime API loop, around\n")
	fmt.Fprintf(&b, "  the esbuild bundle with `_HANDLER=index.handler` (the export the seed's stack deploys). That loop is\n")
	fmt.Fprintf(&b, "  lighter than Lambda's own Node.js runtime client, which flatters the peer's cold start a little.\n")
	fmt.Fprintf(&b, "- Same run, same moto server (DynamoDB, SQS), same events: %d generated order lifecycle events\n", pl.Total())
	fmt.Fprintf(&b, "  (`internal/gen`, fixed seed), byte-identical for both. Each detail also carries `id` = eventId:\n")
	fmt.Fprintf(&b, "  the seed keys its item by `detail.id` and otherwise by the millisecond clock, where concurrent events\n")
	fmt.Fprintf(&b, "  would overwrite each other and its item count could not be checked; TAP ignores unknown fields.\n")
	fmt.Fprintf(&b, "- Phases run alternately, peer then TAP: %d cold starts (a fresh process with its event already\n", pl.ColdStarts)
	fmt.Fprintf(&b, "  queued); then 1 environment with %d warm-up and %d timed events, one at a time; then %d environments\n", pl.Warmup, pl.Events, pl.InFlight)
	fmt.Fprintf(&b, "  (processes) on the same Runtime API, %d×%d warm-up events, then %d timed events, %d in flight.\n", pl.Warmup, pl.InFlight, pl.Events, pl.InFlight)
	fmt.Fprintf(&b, "  Then the cost model's passes (TAP's other region, TAP before, the floors, one each), then %d interleaved rounds of\n", pl.Rounds)
	fmt.Fprintf(&b, "  TAP's publishing-region pass and the SDK floor's on fresh tables (%d warm-up + %d timed events each), then the CPU\n", pl.Warmup, pl.RoundEvents)
	fmt.Fprintf(&b, "  profiles (`go test -bench` in `%s`, %d iterations).\n", ProfilePackage, pl.ProfileIterations)
	fmt.Fprintf(&b, "- CPU time is user+sys of the runtime processes from `/proc/<pid>/stat` (all threads) across the timed\n")
	fmt.Fprintf(&b, "  events only, ÷ events. Peak RSS is `VmHWM` from `/proc/<pid>/status`. Latency is from queueing the\n")
	fmt.Fprintf(&b, "  event to the runtime's POST of its response; billed duration is from the runtime's GET of the event\n")
	fmt.Fprintf(&b, "  to that POST. Log output goes to a drained pipe, as in Lambda. X-Ray trace headers carry Sampled=0.\n")
	fmt.Fprintf(&b, "- moto closes the connection after every response; the runtimes reach it through a keep-alive proxy in\n")
	fmt.Fprintf(&b, "  the harness, so their SDKs reuse connections as they do with DynamoDB. Without it a new TCP connection\n")
	fmt.Fprintf(&b, "  per request dominated both sides' CPU. Requests are plain HTTP: no TLS, as neither side pays it here.\n")
	fmt.Fprintf(&b, "- Checked before this file was written (the run fails otherwise): every invocation succeeded, and\n")
	for i, v := range r.Verified {
		end := ";"
		if i == len(r.Verified)-1 {
			end = "."
		}
		fmt.Fprintf(&b, "  - %s%s\n", v, end)
	}

	fmt.Fprintf(&b, "\n## Lambda compute per million events (issue 5's estimate; the whole bill follows)\n\n")
	tm, pm := r.Tap.MeasuredCost(), r.Peer.MeasuredCost()
	ts, ps := r.Tap.ScaledCost(), r.Peer.ScaledCost()
	fmt.Fprintf(&b, "| | %s: %s, %d MB | %s: %s, %d MB | Go/peer |\n|---|---:|---:|---:|\n",
		r.Tap.Name, r.Tap.Arch, r.Tap.MemoryMB, r.Peer.Name, r.Peer.Arch, r.Peer.MemoryMB)
	fmt.Fprintf(&b, "| mean billed duration, as measured | %.2f ms | %.2f ms | %.2f× |\n", tm.BilledMs, pm.BilledMs, tm.BilledMs/pm.BilledMs)
	fmt.Fprintf(&b, "| **cost per 1M events, as measured** | **$%.2f** | **$%.2f** | %.2f× |\n", tm.Dollars, pm.Dollars, tm.Dollars/pm.Dollars)
	fmt.Fprintf(&b, "| mean billed duration, CPU scaled to the memory's vCPU share | %.2f ms | %.2f ms | %.2f× |\n", ts.BilledMs, ps.BilledMs, ts.BilledMs/ps.BilledMs)
	fmt.Fprintf(&b, "| **cost per 1M events, CPU scaled** | **$%.2f** | **$%.2f** | %.2f× |\n\n", ts.Dollars, ps.Dollars, ts.Dollars/ps.Dollars)
	fmt.Fprintf(&b, "Assumptions: published us-east-1 prices — x86_64 $%.10f and arm64 $%.10f per GB-second, $%.2f per\n", PriceX86GBSecond, PriceArm64GBSecond, PricePerMRequests)
	fmt.Fprintf(&b, "million requests; each invocation billed for its duration rounded up to 1 ms; warm invocations only (cold\n")
	fmt.Fprintf(&b, "starts are rare at steady load; their init is billed too); no free tier. The peer as the seed deploys it\n")
	fmt.Fprintf(&b, "(x86_64, %d MB); TAP as the CDK app deploys it (arm64, %d MB, the config default). Durations are the\n", r.Peer.MemoryMB, r.Tap.MemoryMB)
	fmt.Fprintf(&b, "1-in-flight timed events of this run, against moto on loopback rather than DynamoDB in-region — moto, in\n")
	fmt.Fprintf(&b, "Python, takes milliseconds per write, so waiting dominates both durations, and TAP waits on two writes — on this\n")
	fmt.Fprintf(&b, "machine's %s rather than Graviton. \"CPU scaled\" keeps each event's waiting time and stretches its\n", m.Arch)
	fmt.Fprintf(&b, "measured CPU time by %d MB ÷ memory (Lambda's CPU share below one vCPU): %.3f of a vCPU for TAP,\n", MBPerVCPU, math.Min(1, float64(r.Tap.MemoryMB)/MBPerVCPU))
	fmt.Fprintf(&b, "%.3f for the peer. Logs (CloudWatch ingestion, billed per GB) and DynamoDB writes (TAP makes two) are\n", math.Min(1, float64(r.Peer.MemoryMB)/MBPerVCPU))
	fmt.Fprintf(&b, "not included.\n")

	r.writeCost(&b)

	fmt.Fprintf(&b, "\n## Micro-benchmarks: decode + validate + write planning\n\n")
	fmt.Fprintf(&b, "`%s`, summarized by benchstat (golang.org/x/perf %s):\n\n", r.Micro.Command, BenchstatVersion)
	fmt.Fprintf(&b, "```\n%s\n```\n", r.Micro.Benchstat)
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtMs(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	case ms >= 1:
		return fmt.Sprintf("%.2f ms", ms)
	default:
		return fmt.Sprintf("%.3f ms", ms)
	}
}

func fmtMiB(b int64) string   { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func fmtKiB(b int64) string   { return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10)) }
func fmtBytes(b int64) string { return fmt.Sprintf("%d B", b) }
func fmtRate(r float64) string {
	return fmt.Sprintf("%.0f events/s", r)
}
