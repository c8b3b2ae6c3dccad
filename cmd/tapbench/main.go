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
	"syscall"
	"time"

	"github.com/tap-trading/tap/bench"
	"github.com/tap-trading/tap/internal/config"
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
	flag.Parse()
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
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := rep.Write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	cfg.Log("wrote %s", *out)
	return nil
}
