package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tap-trading/tap/internal/drill"
	"github.com/tap-trading/tap/internal/partition"
)

// drillFlags are the flags of tapctl local drill and tapctl local --regions.
type drillFlags struct {
	regions      string
	scenario     string
	period       time.Duration
	periods      int
	threshold    time.Duration
	rate         float64
	duplicates   float64
	lag          time.Duration
	mode         string
	warmup       time.Duration
	outage       time.Duration
	cooldown     time.Duration
	concurrency  int
	seed         uint64
	phaseTimeout time.Duration
	processorLog string
}

// register adds the flags to cmd: all of them for tapctl local drill, the
// two-region ones for tapctl local --regions (which has its own
// --concurrency and --processor-log).
func (f *drillFlags) register(cmd *cobra.Command, drillOnly bool) {
	fl := cmd.Flags()
	regions := drill.DefaultPrimary + "," + drill.DefaultSecondary
	if drillOnly {
		fl.StringVar(&f.regions, "regions", regions, "PRIMARY,SECONDARY: the two regions")
		fl.StringVar(&f.scenario, "scenario", "all", "region-loss, processor-failure, or all (both, one after the other)")
		fl.Float64Var(&f.rate, "rate", 2, "load: events per second through the global endpoint")
		fl.Float64Var(&f.duplicates, "duplicates", 0.1, "load: probability an event is published again")
		fl.DurationVar(&f.warmup, "warmup", 0, "load before the failure (default 2 periods)")
		fl.DurationVar(&f.outage, "outage", 0, "how long the failure lasts after routing moved (default 2 periods; processor failure N+2)")
		fl.DurationVar(&f.cooldown, "cooldown", 0, "load after recovery (default 2 periods)")
		fl.Uint64Var(&f.seed, "seed", 0, "load generator seed, to repeat a run (default: from the clock)")
		fl.DurationVar(&f.phaseTimeout, "phase-timeout", 90*time.Second, "longest wait for routing to move, replication to catch up, or the pipeline to quiesce")
		fl.IntVar(&f.concurrency, "concurrency", 64, "events each region's processor handles at once (Lambda scales out; too few slots held by retries read as an outage)")
		fl.StringVar(&f.processorLog, "processor-log", "", "file for both processors' JSON logs; - for stderr (default: discarded)")
	} else {
		fl.StringVar(&f.regions, "regions", "", "PRIMARY,SECONDARY: run two regions behind a local global endpoint (e.g. "+regions+")")
	}
	fl.StringVar(&f.mode, "partition", "refuse", "how a cut region looks: refuse (connections reset) or hang (never answered)")
	fl.DurationVar(&f.period, "period", 2*time.Second, "health period, standing for AWS's 60 s")
	fl.IntVar(&f.periods, "periods", 3, "N: breaching periods to fail over, good ones to fail back (AWS: 5)")
	fl.DurationVar(&f.threshold, "threshold", 5*time.Second, "average ingestion-to-invocation latency over which a period breaches (AWS: 30 s)")
	fl.DurationVar(&f.lag, "lag", 100*time.Millisecond, "delay of event and table replication after acceptance")
}

// config turns the flags into a drill configuration, or a usage error
// naming the flag.
func (f *drillFlags) config(regions string) (drill.Config, error) {
	primary, secondary, ok := strings.Cut(regions, ",")
	if !ok || strings.Contains(secondary, ",") || primary == "" || secondary == "" {
		return drill.Config{}, usagef("--regions %q: want PRIMARY,SECONDARY, e.g. us-east-1,us-west-2", regions)
	}
	c := drill.Config{
		Primary: strings.TrimSpace(primary), Secondary: strings.TrimSpace(secondary),
		Period: f.period, Periods: f.periods, Threshold: f.threshold, Rate: f.rate, Duplicates: f.duplicates,
		Lag: f.lag, Warmup: f.warmup, Outage: f.outage, Cooldown: f.cooldown, Concurrency: f.concurrency,
		Seed: f.seed, PhaseTimeout: f.phaseTimeout,
	}
	if f.mode != "" {
		m, err := partition.ParseMode(f.mode)
		if err != nil {
			return c, usagef("--partition %q: want refuse or hang", f.mode)
		}
		c.Mode = m
	}
	// Zero values mean "default" to the drill; a zero given on the command
	// line is a mistake the drill must name.
	switch {
	case f.period <= 0:
		return c, usagef("--period %s: want a positive duration (AWS's is 1m)", f.period)
	case f.periods <= 0:
		return c, usagef("--periods %d: want 1 to 10 (AWS's alarm uses 5)", f.periods)
	case f.rate < 0:
		return c, usagef("--rate %g: want more than 0 events/s", f.rate)
	case f.lag < 0:
		return c, usagef("--lag %s: want 0 or more", f.lag)
	}
	if err := c.Validate(); err != nil {
		return c, usageError{err}
	}
	return c, nil
}

func (a *app) localDrillCmd() *cobra.Command {
	var f drillFlags
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Run the region-loss drill on two local regions and verify zero loss and convergence",
		Long: `Run TAP in two regions on this machine (one moto server per region, each
behind a loopback partition proxy; the real processor in both; table
replication over DynamoDB Streams; heartbeats; health computed as the
deployed alarm computes it; a local global endpoint) and drill its failover
under steady generated load (with duplicates) published through the endpoint
by a producer that retries failed entries:

  region-loss        cut the primary (--partition refuse|hang) → routing moves
                     → heal → replication catches up → routing fails back →
                     stop load → quiesce → verify
  processor-failure  the primary's processor's DynamoDB calls fail → routing
                     must NOT move → fault removed, dead letters redriven →
                     verify

Progress is printed once a second (phase, routing, health, replication
backlog and lag, events applied per region). The report gives RTO (cut →
routing switched; cut → first event applied through the secondary) in local
and AWS-equivalent time, events accepted during the outage and how many had
to wait for healing, events lost, I1 and I2 on each replica, I3 (replicas
compared item by item), replication lag, events both regions applied, and
DynamoDB operations per invocation per region. Exit 1 if any check fails.

Times are scaled: --period stands for AWS's 60 s period and --periods for
its 5 evaluation periods; AWS-equivalent times scale both back and add
Route 53's 30 s evaluation interval to routing changes.

Ctrl-C heals both regions, stops the load, reports what settled, and stops
every process it started.`,
		Example: `  # both scenarios with the defaults (about a minute each)
  tapctl local drill

  # the region loss only, with hung connections, as JSON
  tapctl local drill --scenario region-loss --partition hang --output json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			if f.rate <= 0 {
				return usagef("--rate %g: want more than 0 events/s", f.rate)
			}
			cfg, err := f.config(f.regions)
			if err != nil {
				return err
			}
			var scenarios []drill.Scenario
			switch f.scenario {
			case "all":
				scenarios = []drill.Scenario{drill.RegionLoss, drill.ProcessorFailure}
			case string(drill.RegionLoss), string(drill.ProcessorFailure):
				scenarios = []drill.Scenario{drill.Scenario(f.scenario)}
			default:
				return usagef("--scenario %q: want region-loss, processor-failure or all", f.scenario)
			}
			return a.runDrills(cmd.Context(), cfg, scenarios, f.processorLog, asJSON)
		},
	}
	f.register(cmd, true)
	return cmd
}

func (a *app) runDrills(ctx context.Context, cfg drill.Config, scenarios []drill.Scenario, procLog string, asJSON bool) error {
	out, closeLog, err := a.drillProcessorLog(procLog)
	if err != nil {
		return err
	}
	defer closeLog()
	cfg.ProcessorOutput = out
	var reports []*drill.Report
	ok := true
	for _, s := range scenarios {
		c := cfg
		c.Scenario = s
		fmt.Fprintf(a.env.Stderr, "drill %s: starting two regions (%s, %s)...\n", s, c.Primary, c.Secondary)
		p := newProgressPrinter(a.env.Stderr, a.env.Interactive)
		c.Progress = p.print
		rep, err := drill.Run(ctx, c)
		p.done()
		if err != nil {
			// The scenarios already finished keep their reports.
			if asJSON && len(reports) > 0 {
				_ = writeJSON(a.env.Stdout, reports)
			}
			return fmt.Errorf("drill %s: %w", s, err)
		}
		reports = append(reports, rep)
		ok = ok && rep.OK()
		if !asJSON {
			rep.WriteText(a.env.Stdout)
			fmt.Fprintln(a.env.Stdout)
		}
		if rep.Interrupted || ctx.Err() != nil {
			break
		}
	}
	if asJSON {
		if err := writeJSON(a.env.Stdout, reports); err != nil {
			return err
		}
	}
	if !ok {
		return failed()
	}
	return nil
}

// drillProcessorLog opens where the processors' logs go.
func (a *app) drillProcessorLog(flag string) (io.Writer, func(), error) {
	if flag == "" {
		return io.Discard, func() {}, nil
	}
	out := &pendingLog{}
	_, closeLog, err := a.processorLog(flag, "", out)
	return out, closeLog, err
}

// progressPrinter prints drill progress: redrawn in place on a terminal,
// one plain line each otherwise; a phase change keeps its line.
type progressPrinter struct {
	w           io.Writer
	interactive bool
	mu          sync.Mutex
	phase       string
	drawn       bool
}

func newProgressPrinter(w io.Writer, interactive bool) *progressPrinter {
	return &progressPrinter{w: w, interactive: interactive}
}

func (p *progressPrinter) print(pr drill.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.interactive {
		fmt.Fprintln(p.w, pr.Line())
		return
	}
	if p.drawn && pr.Phase != p.phase {
		fmt.Fprintln(p.w)
	}
	fmt.Fprintf(p.w, "\r\033[K%s", pr.Line())
	p.phase, p.drawn = pr.Phase, true
}

func (p *progressPrinter) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.interactive && p.drawn {
		fmt.Fprintln(p.w)
	}
}
