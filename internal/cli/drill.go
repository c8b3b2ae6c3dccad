package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tap-trading/tap/internal/drill"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/twin"
)

// drillFlags are the flags of tapctl local drill and tapctl local --regions.
type drillFlags struct {
	regions          string
	scenario         string
	period           time.Duration
	insufficientData string
	rate             float64
	duplicates       float64
	conflicts        float64
	lag, lagJitter   time.Duration
	skew             time.Duration
	warmup           time.Duration
	outage           time.Duration
	cooldown         time.Duration
	concurrency      int
	seed             uint64
	phaseTimeout     time.Duration
	processorLog     string
	timelineDir      string
	capacity         string
	consistency      string
}

// register adds the flags to cmd: all of them for tapctl local drill, the
// two-region ones for tapctl local --regions (which has its own
// --concurrency and --processor-log).
func (f *drillFlags) register(cmd *cobra.Command, drillOnly bool) {
	fl := cmd.Flags()
	d := twin.DeploymentDefaults()
	regions := d.PrimaryRegion + "," + d.SecondaryRegion
	if drillOnly {
		fl.StringVar(&f.regions, "regions", regions, "PRIMARY,SECONDARY: the two regions")
		fl.StringVar(&f.scenario, "scenario", "all", "one of "+strings.Join(drill.Names(), ", ")+", or all (each in turn)")
		fl.Float64Var(&f.rate, "rate", 5, "load: events per second through the global endpoint")
		fl.Float64Var(&f.duplicates, "duplicates", 0.1, "load: probability an event is published again")
		fl.Float64Var(&f.conflicts, "conflicts", 0.02, "load: fraction of events another event claims the same (orderId, seq) for")
		fl.DurationVar(&f.warmup, "warmup", 0, "load before the failure (default 3 periods)")
		fl.DurationVar(&f.outage, "outage", 0, "how long the failure lasts once it has shown (default 3 periods; processor-failure and lambda-refusal 7)")
		fl.DurationVar(&f.cooldown, "cooldown", 0, "load after recovery (default 2 periods)")
		fl.Uint64Var(&f.seed, "seed", 0, "load generator seed, to repeat a run (default: from the clock)")
		fl.DurationVar(&f.phaseTimeout, "phase-timeout", 90*time.Second, "longest wait for routing to move, replication to catch up, or the pipeline to quiesce")
		fl.IntVar(&f.concurrency, "concurrency", 64, "events each region's processor handles at once")
		fl.StringVar(&f.processorLog, "processor-log", "", "file for both processors' JSON logs; - for stderr (default: discarded)")
		fl.StringVar(&f.timelineDir, "timeline", "", "directory for each scenario's HTML timeline (<scenario>.html)")
		fl.StringVar(&f.insufficientData, "insufficient-data", "", "override the health check's InsufficientDataHealthStatus: Healthy, Unhealthy or LastKnownStatus (default: as deployed)")
		fl.StringVar(&f.consistency, "consistency", string(schema.Eventual), "the table's multi-Region consistency: eventual (MREC, as deployed by default), strong (MRSC, tap:tableConsistency=strong), or both (every scenario in each, then a side-by-side table)")
		fl.StringVar(&f.capacity, "capacity", "auto", "the twin's capacity in events/s: auto measures it first (about a minute) when every scenario runs or --rate is above 5, and refuses a --rate above it; a number states it; off neither measures nor refuses")
	} else {
		fl.StringVar(&f.regions, "regions", "", "PRIMARY,SECONDARY: run two regions behind a local global endpoint (e.g. "+regions+")")
	}
	fl.DurationVar(&f.period, "period", 2*time.Second, "stands for the health alarm's 60 s period: every AWS duration is scaled by period/60s")
	fl.DurationVar(&f.lag, "lag", 100*time.Millisecond, "least delay of event and table replication")
	fl.DurationVar(&f.lagJitter, "lag-jitter", 200*time.Millisecond, "random extra delay of each replicated table record (items arrive in any order)")
	fl.DurationVar(&f.skew, "skew", 0, "how far the secondary's clock runs ahead of the primary's in last-writer-wins (negative: behind); less than a period")
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
		Period: f.period, InsufficientData: f.insufficientData, Rate: f.rate, Duplicates: f.duplicates, Conflicts: f.conflicts,
		Lag: f.lag, LagJitter: f.lagJitter, Skew: f.skew, Warmup: f.warmup, Outage: f.outage, Cooldown: f.cooldown,
		Concurrency: f.concurrency, Seed: f.seed, PhaseTimeout: f.phaseTimeout, TimelineDir: f.timelineDir,
	}
	if f.scenario != "" && f.scenario != "all" {
		c.Scenario = drill.Scenario(f.scenario)
	}
	// Zero values mean "default" to the drill; a zero given on the command
	// line is a mistake the drill must name.
	switch {
	case f.period <= 0:
		return c, usagef("--period %s: want a positive duration (it stands for AWS's 1m)", f.period)
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
		Short: "Run the failure drills on two local regions and verify zero loss, convergence and routing",
		Long: `Run TAP in two regions on this machine as it deploys (one moto server per
region, each behind loopback partition proxies; the real processor in both
under Lambda's and EventBridge's retry semantics; table replication as
global tables do it; heartbeats; the deployed health alarm evaluated in the
primary's CloudWatch and read by a Route 53 health check; a local global
endpoint routing by it) and drill one failure at a time under steady
generated load (with duplicates and conflicting events) published through
the endpoint by a producer that retries failed entries. Every value the
twin uses is the deployed one (internal/deployspec), scaled in time by
--period/60s. The scenarios:

` + scenarioHelp() + `

Progress is printed once a second. Each report gives RTO (failure → routing
switched; → first event applied through the secondary) and recovery →
failback in local and AWS-equivalent time, events lost, I1 and I2 on each
replica, I3 (replicas compared item by item), how contested (orderId, seq)
were settled, replication lag, DynamoDB operations per invocation, and the
scenario's own checks with their time bounds. Errors the twin survives (a
cut region's pollers) are counted, not streamed. Exit 1 if any check fails.

--consistency strong runs the table as DynamoDB multi-Region strong
consistency (MRSC: writes acknowledged once the witness or the other replica
has them, write conflicts between the regions, no quorum → writes refused);
both runs every scenario in each mode and ends with a side-by-side table of
events lost, the table's RPO, RTO, DynamoDB operations and the added write
latency (DESIGN §3, "When to choose which").

The twin's capacity on this machine is measured first when every scenario
runs or --rate is above 5 (--capacity), and a --rate above it is refused. A
region whose local AWS stops answering still gets a report: its checks fail
naming it, within the phase timeouts.

Ctrl-C heals both regions, stops the load, reports what settled, and stops
every process it started.`,
		Example: `  # every scenario with the defaults (about six minutes), timelines in drill-out/
  tapctl local drill --timeline drill-out

  # every scenario with the table in MREC, then in MRSC, side by side (make drill)
  tapctl local drill --consistency both --timeline drill-out

  # the brownout only, as JSON
  tapctl local drill --scenario brownout --output json

  # a heavier load, above the measured capacity at your own risk
  tapctl local drill --scenario region-loss --rate 10 --capacity off

  # the evidence for the health check's setting: a region loss with LastKnownStatus
  tapctl local drill --scenario region-loss --insufficient-data LastKnownStatus`,
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
			scenarios := drill.All()
			if f.scenario != "all" {
				scenarios = []drill.Scenario{drill.Scenario(f.scenario)}
			}
			modes, err := drillModes(f.consistency, cfg)
			if err != nil {
				return err
			}
			capacity, err := a.drillCapacity(cmd.Context(), f, cfg, len(scenarios) > 1)
			if err != nil {
				return err
			}
			cfg.Capacity = capacity
			return a.runDrills(cmd.Context(), cfg, scenarios, modes, f.processorLog, asJSON)
		},
	}
	f.register(cmd, true)
	return cmd
}

// drillCapacity is the twin's capacity for the drills' reports: measured
// (--capacity auto, when every scenario runs or the rate is above the
// default), stated, or 0 (off). A --rate above it is refused, naming the
// figure and the flags.
func (a *app) drillCapacity(ctx context.Context, f drillFlags, cfg drill.Config, all bool) (float64, error) {
	var capacity float64
	switch f.capacity {
	case "off":
		return 0, nil
	case "auto":
		if !all && f.rate <= 5 {
			return 0, nil
		}
		fmt.Fprintf(a.env.Stderr, "measuring the twin's capacity on this machine first (--capacity off skips it)...\n")
		c, err := drill.MeasureCapacity(ctx, drill.CapacityConfig{
			Primary: cfg.Primary, Secondary: cfg.Secondary, Period: cfg.Period, Concurrency: cfg.Concurrency,
			Progress: func(s drill.CapacityStep) {
				fmt.Fprintf(a.env.Stderr, "  offered %g/s: accepted %.1f/s, sustained %v\n", s.Offered, s.Accepted, s.Sustained)
			},
		})
		if err != nil {
			return 0, fmt.Errorf("measure the twin's capacity: %w", err)
		}
		c.WriteText(a.env.Stderr)
		capacity = c.EventsPerSecond
	default:
		v, err := strconv.ParseFloat(f.capacity, 64)
		if err != nil || v <= 0 {
			return 0, usagef("--capacity %q: want auto, off or a positive number of events/s", f.capacity)
		}
		capacity = v
	}
	if f.rate > capacity {
		return 0, usagef("--rate %g is above the twin's capacity on this machine, %g events/s (both regions processing and replicating): "+
			"lower --rate to %g or less; or --capacity off to run above it anyway (expect the quiesce check to fail)", f.rate, capacity, capacity)
	}
	return capacity, nil
}

// drillModes reads --consistency: the table modes to drill, each checked
// against the deployment rules (strong mode needs the regions in one MRSC
// Region set).
func drillModes(flag string, cfg drill.Config) ([]schema.Consistency, error) {
	var modes []schema.Consistency
	if flag == "both" {
		modes = []schema.Consistency{schema.Eventual, schema.Strong}
	} else {
		m, err := schema.ParseConsistency(flag)
		if err != nil || flag == "" {
			return nil, usagef("--consistency %q: want eventual, strong or both", flag)
		}
		modes = []schema.Consistency{m}
	}
	for _, m := range modes {
		c := cfg
		c.Consistency = m
		if err := c.Validate(); err != nil {
			return nil, usagef("--consistency %s: %v", m, err)
		}
	}
	return modes, nil
}

func (a *app) runDrills(ctx context.Context, cfg drill.Config, scenarios []drill.Scenario, modes []schema.Consistency, procLog string, asJSON bool) error {
	out, closeLog, err := a.drillProcessorLog(procLog)
	if err != nil {
		return err
	}
	defer closeLog()
	cfg.ProcessorOutput = out
	var reports []*drill.Report
	ok := true
	type run struct {
		scenario drill.Scenario
		mode     schema.Consistency
	}
	var runs []run
	for _, m := range modes {
		for _, s := range scenarios {
			runs = append(runs, run{s, m})
		}
	}
	for _, r := range runs {
		s := r.scenario
		c := cfg
		c.Scenario, c.Consistency = s, r.mode
		fmt.Fprintf(a.env.Stderr, "drill %s (table %s): starting two regions (%s, %s)...\n", s, r.mode, c.Primary, c.Secondary)
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
	} else if len(modes) > 1 {
		fmt.Fprintln(a.env.Stdout, "The table's two modes side by side (DESIGN §3, strong consistency):")
		drill.WriteComparison(a.env.Stdout, reports)
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

// scenarioHelp lists the scenarios for the help text.
func scenarioHelp() string {
	var b strings.Builder
	for _, s := range drill.All() {
		fmt.Fprintf(&b, "  %-18s %s\n", s, drill.About(s))
	}
	return strings.TrimRight(b.String(), "\n")
}
