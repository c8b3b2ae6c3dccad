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
	only := flag.String("only", "", "capacity: measure only the two-region twin's capacity and replace that section of -out, leaving the rest")
	flag.Parse()
	switch *only {
	case "":
	case "capacity":
		return writeCapacityOnly(*out)
	default:
		return fmt.Errorf("-only %q: want capacity", *only)
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
	if err := os.WriteFile(*out, []byte(doc.String()+"\n"+section), 0o644); err != nil {
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

// writeCapacityOnly replaces the capacity section of the report at path
// (or appends it), leaving the rest as the last full run wrote it.
func writeCapacityOnly(path string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc := string(b)
	if i := strings.Index(doc, capacityHeading); i >= 0 {
		doc = doc[:i]
	} else {
		doc += "\n"
	}
	section, err := capacitySection(ctx)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(doc+section), 0o644)
}
