// Command tapbench measures TAP's Go processor against the seed's Node.js
// processor in one run and writes BENCHMARKS.md (`make bench`). Progress goes
// to stderr; it exits non-zero if either side failed or lost an event.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tap-trading/tap/bench"
	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/drill"
	"github.com/tap-trading/tap/internal/infra/bundle"
	"github.com/tap-trading/tap/internal/schema"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tapbench: FAILED:", err)
		os.Exit(1)
	}
}

func run() error {
	// `make bench` runs from the root, but any subdirectory works.
	root, err := bundle.ModuleRoot(".")
	if err != nil {
		return err
	}
	cfg := bench.Config{RepoRoot: root, Region: "us-east-1"}
	out := flag.String("out", filepath.Join(root, "BENCHMARKS.md"), "report to write")
	flag.StringVar(&cfg.CacheDir, "cache", filepath.Join(root, ".cache"), "cache directory (git-ignored) for the built peer, bootstrap and logs")
	flag.StringVar(&cfg.Processor, "processor", "./cmd/processor", "package built into TAP's bootstrap")
	flag.StringVar(&cfg.PeerSrc, "peer", filepath.Join(root, "..", "shared", "peers", "seed-node-processor"), "the seed's Node processor directory")
	flag.IntVar(&cfg.Plan.Events, "events", 1000, "timed events per phase and side")
	flag.IntVar(&cfg.Plan.ColdStarts, "cold-starts", 7, "cold starts per side (the median is reported)")
	flag.IntVar(&cfg.Plan.Warmup, "warmup", 10, "untimed events per environment before a timed phase")
	flag.IntVar(&cfg.Plan.InFlight, "in-flight", 8, "concurrent environments in the concurrent phase")
	flag.IntVar(&cfg.Plan.Rounds, "rounds", 5, "interleaved rounds of TAP's publishing-region pass and the SDK floor's (the medians feed the bill and the targets)")
	flag.IntVar(&cfg.Plan.RoundEvents, "round-events", 400, "timed events per pass of a round (after -warmup)")
	flag.IntVar(&cfg.Plan.ProfileIterations, "profile-iterations", 3000, "-benchtime (Nx) of the profiled processor benchmarks (pprof samples every 10 ms: 3000 iterations resolve about 3 µs per event)")
	flag.Uint64Var(&cfg.Seed, "seed", 5, "seed of the generated events")
	flag.IntVar(&cfg.TapMemoryMB, "tap-memory", config.Defaults().ProcessorMemoryMB, "TAP's deployed memory (MB): the CDK config default")
	flag.IntVar(&cfg.PeerMemoryMB, "peer-memory", 1024, "the peer's memory (MB) as the seed deploys it")
	flag.IntVar(&cfg.MicroCount, "count", 5, "go test -count for the micro-benchmarks")
	flag.StringVar(&cfg.BaseRev, "base", "2c78c30", "git revision whose processor is measured as \"before\" in the cost model (before issue 15)")
	only := flag.String("only", "", "capacity or consistency: measure only the two-region twin's capacity, or the table's two modes side by side, and replace that section of -out, leaving the rest")
	flag.Parse()
	switch *only {
	case "":
	case "capacity":
		return writeSectionOnly(*out, capacityHeading, capacitySection)
	case "consistency":
		return writeSectionOnly(*out, consistencyHeading, consistencySection)
	default:
		return fmt.Errorf("-only %q: want capacity or consistency", *only)
	}
	pl := cfg.Plan
	if pl.Events < 1 || pl.ColdStarts < 1 || pl.InFlight < 1 || pl.Rounds < 1 || pl.RoundEvents < 1 || pl.ProfileIterations < 1 || pl.Warmup < 0 {
		return errors.New("-events, -cold-starts, -in-flight, -rounds, -round-events and -profile-iterations must be at least 1, -warmup at least 0")
	}

	start := time.Now()
	cfg.Log = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[tapbench %5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	var doc strings.Builder
	if err := rep.Write(&doc); err != nil {
		return err
	}
	cfg.Log("measuring the two-region twin's capacity")
	section, err := capacitySection(ctx)
	if err != nil {
		return err
	}
	cfg.Log("drilling a region loss with the table in each mode")
	modes, err := consistencySection(ctx)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, []byte(doc.String()+"\n"+section+"\n"+modes), 0o644); err != nil {
		return err
	}
	cfg.Log("wrote %s", *out)
	return nil
}

// capacityHeading starts BENCHMARKS.md's section on the twin's capacity.
const capacityHeading = "## The two-region twin's capacity (issue 19)"

// capacitySection measures the twin's capacity (drill.MeasureCapacity) and
// writes it as BENCHMARKS.md's last section.
func capacitySection(ctx context.Context) (string, error) {
	c, err := drill.MeasureCapacity(ctx, drill.CapacityConfig{
		Progress: func(s drill.CapacityStep) {
			fmt.Fprintf(os.Stderr, "[tapbench] twin capacity: offered %g/s, accepted %.1f/s, sustained %v\n", s.Offered, s.Accepted, s.Sustained)
		},
	})
	if err != nil {
		return "", fmt.Errorf("twin capacity: %w", err)
	}
	var text strings.Builder
	c.WriteText(&text)
	return fmt.Sprintf(`%s

Measured %s by `+"`drill.MeasureCapacity`"+` (`+"`go run ./cmd/tapbench -only capacity`"+` redoes
this section alone): the twin with no failure, the drills' producer at rising
offered rates held 10 s each, both regions processing every event and
replicating the table. A rate is sustained when the endpoint accepts ≥ 90 %%
of it, each region processes ≥ 90 %% of what was accepted, and no backlog
exceeds 2 s of load. `+"`tapctl local drill`"+` measures it again before a run of
every scenario or a --rate above 5, and refuses a --rate above it
(DESIGN §8.1, "The twin's capacity").

`+"```"+`
%s`+"```"+`
`, capacityHeading, c.Measured.UTC().Format("2006-01-02 15:04 MST"), text.String()), nil
}

// writeSectionOnly replaces the section of the report at path that starts
// with heading (up to the next "## " heading), or appends it, leaving the
// rest as the last full run wrote it.
func writeSectionOnly(path, heading string, measure func(context.Context) (string, error)) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	section, err := measure(ctx)
	if err != nil {
		return err
	}
	doc := string(b)
	i := strings.Index(doc, heading)
	if i < 0 {
		return os.WriteFile(path, []byte(doc+"\n"+section), 0o644)
	}
	rest := ""
	if j := strings.Index(doc[i+len(heading):], "\n## "); j >= 0 {
		rest = doc[i+len(heading)+j+1:]
	}
	return os.WriteFile(path, []byte(doc[:i]+section+"\n"+rest), 0o644)
}

// consistencyHeading starts BENCHMARKS.md's section on the table's modes.
const consistencyHeading = "## Strong consistency: the table's two modes side by side (issue 17)"

// consistencySection drills a region loss with the table in each mode
// (the drill's defaults, one seed) and writes the trade: events lost, the
// table's RPO, the RTO, the quorum's added write latency, the processors'
// DynamoDB operations and their part of the bill per million events.
func consistencySection(ctx context.Context) (string, error) {
	prices, _ := bench.PublishedPrices()
	var reports []*drill.Report
	var bills strings.Builder
	for _, mode := range []schema.Consistency{schema.Eventual, schema.Strong} {
		fmt.Fprintf(os.Stderr, "[tapbench] region-loss drill, table %s...\n", mode)
		phase := ""
		rep, err := drill.Run(ctx, drill.Config{Scenario: drill.RegionLoss, Consistency: mode, Seed: 7, Progress: func(p drill.Progress) {
			if p.Phase != phase { // one line per phase, not one a second
				phase = p.Phase
				fmt.Fprintf(os.Stderr, "[tapbench]   %s\n", p.Line())
			}
		}})
		if err != nil {
			return "", fmt.Errorf("region-loss drill (table %s): %w", mode, err)
		}
		if !rep.OK() {
			var text strings.Builder
			rep.WriteText(&text)
			return "", fmt.Errorf("region-loss drill (table %s) failed its checks:\n%s", mode, text.String())
		}
		reports = append(reports, rep)
		b, err := bench.PriceTable(prices, bench.TableOps{Ops: rep.DynamoDBOps(), Events: rep.Accepted, Strong: mode == schema.Strong})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&bills, "| %s | %.2f | %.2f | %.2f | $%.2f |\n", mode, b.WRU, b.RRU, b.RWRU, b.Dollars)
	}
	var table strings.Builder
	drill.WriteComparison(&table, reports)
	return fmt.Sprintf(`%s

Measured %s: `+"`tapctl local drill --scenario region-loss --consistency both --seed 7`"+`
in the twin (`+"`go run ./cmd/tapbench -only consistency`"+` redoes this section alone). Both
regions process every event; the primary is cut (connections refused),
routing fails over, it heals and fails back. RTO is the AWS-equivalent time;
the MRSC write's quorum step is what the twin adds per write, scaled, for the
assumed AWS round trip in brackets (no AWS page gives one; DESIGN §8.1).

`+"```"+`
%s`+"```"+`

The table's part of the bill per million events (the rest — EventBridge,
Lambda, logs — is the same in both modes: the bill above), from the drill's
counted operations: a write request, applied or failed on its condition, is
1 WRU; a read (Query or GetItem) 1 RRU strongly consistent (MRSC), ½
eventually (MREC's read-first; its repair's consistent Query counted at ½ too,
so MREC's figure is a lower bound); every applied write is replicated to the
other replica as 1 rWRU (MRSC's assumed priced as MREC's; the witness has no
write cost). Prices of the bill above.

| table | WRU per event | RRU per event | rWRU per event | DynamoDB per million events |
|---|---|---|---|---|
%s
When to choose which: DESIGN §3, "When to choose which".
`, consistencyHeading, time.Now().UTC().Format("2006-01-02 15:04 MST"), table.String(), bills.String()), nil
}
