// Package drill runs the failure drills of DESIGN §8.1 on the two-region
// twin (internal/twin): each scenario injects one failure that really
// happens to a deployment — a region lost (connections refused or hung), a
// brownout, the secondary lost, the link between the regions cut, the
// primary's monitoring lost, the Lambda service refusing invocations, the
// processor failing — under steady generated load through the local global
// endpoint, then verifies from the tables and DLQs that nothing was lost,
// that the invariants I1–I3 hold, that conflicts were settled by the rule,
// and what the scenario promises about routing, within windows derived from
// the deployed alarm and health check. It reports RTO and failback in local
// and AWS-equivalent time, and draws a timeline.
package drill

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/twin"
)

// Scenario names a drill's failure.
type Scenario string

// Config shapes a drill. Zero fields take the defaults in parentheses.
type Config struct {
	// Primary and Secondary are the regions (us-east-1, us-west-2).
	Primary, Secondary string
	Scenario           Scenario
	// Period stands for AWS's 60 s alarm period and scales every AWS
	// duration (2 s).
	Period time.Duration
	// InsufficientData overrides the deployment's health check
	// InsufficientDataHealthStatus (tap:healthCheckInsufficientData) for
	// the run: how the decision in DESIGN §1 was made ("": as deployed).
	InsufficientData string
	// Rate is the load in events per second (5).
	Rate float64
	// Duplicates is the probability an event is published again (0.1);
	// Conflicts the fraction of events a conflicting event (same orderId
	// and seq, another eventId) is published for (0.02).
	Duplicates, Conflicts float64
	// Lag and LagJitter delay event and table replication (100 ms, 200 ms);
	// Skew sets the secondary's clock ahead (negative: behind) (0).
	Lag, LagJitter, Skew time.Duration
	// Warmup is the load before the failure (3 periods); Outage how long
	// the failure lasts once it has shown (3 periods; processor failure
	// and lambda refusal: 7); Cooldown the load after recovery (2 periods).
	Warmup, Outage, Cooldown time.Duration
	// Concurrency is each region's processor concurrency (64).
	Concurrency int
	// Seed makes the load repeatable (from the clock).
	Seed uint64
	// PhaseTimeout bounds each wait for the system (90 s).
	PhaseTimeout time.Duration
	// Progress, if set, is called about once a second and on every phase
	// change.
	Progress func(Progress)
	// ProcessorOutput receives both processors' logs (discarded).
	ProcessorOutput io.Writer
	// MotoLogDir, if set, receives each region's moto log.
	MotoLogDir string
	// TimelineDir, if set, receives the scenario's timeline as
	// <scenario>.html (<scenario>-strong.html for an MRSC table).
	TimelineDir string

	// Consistency is the table's multi-Region consistency mode the twin
	// runs (tap:tableConsistency; "": the deployment's default, eventual).
	Consistency schema.Consistency

	// Capacity is the twin's capacity on this machine in events/s, if
	// known (MeasureCapacity): the report states the headroom of Rate.
	Capacity float64

	// afterScenario, if set, runs once the scenario has healed, with the
	// load still running: the tests' way to crash a region's local AWS.
	afterScenario func(e *twin.Env)
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Primary == "" {
		c.Primary = config.Defaults().PrimaryRegion
	}
	if c.Secondary == "" {
		c.Secondary = config.Defaults().SecondaryRegion
	}
	if c.Scenario == "" {
		c.Scenario = RegionLoss
	}
	def(&c.Period, 2*time.Second)
	if c.Rate == 0 {
		c.Rate = 5
	}
	if c.Duplicates == 0 {
		c.Duplicates = 0.1
	}
	if c.Conflicts == 0 {
		c.Conflicts = 0.02
	}
	def(&c.Lag, 100*time.Millisecond)
	def(&c.LagJitter, 200*time.Millisecond)
	def(&c.Warmup, 3*c.Period)
	if s, ok := lookup(c.Scenario); ok && s.longOutage {
		def(&c.Outage, 7*c.Period)
	}
	def(&c.Outage, 3*c.Period)
	def(&c.Cooldown, 2*c.Period)
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	def(&c.PhaseTimeout, 90*time.Second)
	if c.ProcessorOutput == nil {
		c.ProcessorOutput = io.Discard
	}
	return c
}

// Validate names the first setting, by its tapctl flag, that makes the
// drill impossible, and the values it allows.
func (c Config) Validate() error {
	c = c.withDefaults()
	if _, ok := lookup(c.Scenario); !ok {
		return fmt.Errorf("--scenario %q: want one of %s, or all", c.Scenario, strings.Join(Names(), ", "))
	}
	if c.InsufficientData != "" && !slices.Contains(config.InsufficientDataHealthStatuses, c.InsufficientData) {
		return fmt.Errorf("--insufficient-data %q: want one of %s (Route 53's InsufficientDataHealthStatus)", c.InsufficientData, strings.Join(config.InsufficientDataHealthStatuses, ", "))
	}
	if _, err := c.deployment(); err != nil {
		return err
	}
	if err := c.twinConfig().Validate(); err != nil {
		return err
	}
	switch {
	case c.Rate <= 0 || c.Rate > 50:
		return fmt.Errorf("--rate %g: want more than 0 and at most 50 events/s (moto takes ~10 ms a request)", c.Rate)
	case c.Duplicates < 0 || c.Duplicates > 1:
		return fmt.Errorf("--duplicates %g: want a fraction from 0 to 1", c.Duplicates)
	case c.Conflicts < 0 || c.Conflicts > 0.5:
		return fmt.Errorf("--conflicts %g: want a fraction from 0 to 0.5", c.Conflicts)
	case c.Warmup < 2*c.Period:
		return fmt.Errorf("--warmup %s: want at least two periods (%s), so the alarm has data before the failure", c.Warmup, 2*c.Period)
	case c.Outage < c.Period:
		return fmt.Errorf("--outage %s: want at least one period (%s)", c.Outage, c.Period)
	case c.Cooldown < 0:
		return fmt.Errorf("--cooldown %s: want 0 or more", c.Cooldown)
	case c.Concurrency < 1:
		return fmt.Errorf("--concurrency %d: want at least 1", c.Concurrency)
	}
	if need := c.windowsOf().detect + c.windowsOf().recover; c.PhaseTimeout < need {
		return fmt.Errorf("--phase-timeout %s: shorter than the %s the deployed alarm and health check need to move routing and back at --period %s; want at least %s",
			c.PhaseTimeout, need, c.Period, need)
	}
	return nil
}

// deployment is the configuration the twin rehearses: the stacks' defaults
// for the drill's regions, with the scenario's overrides (as `cdk deploy -c
// key=value` would set them) and --insufficient-data.
func (c Config) deployment() (config.Config, error) {
	ctx := map[string]any{
		config.KeyEnv: twin.DefaultEnv, config.KeyPrimaryRegion: c.Primary, config.KeySecondaryRegion: c.Secondary,
		config.KeyAlertEmail: config.PlaceholderAlertEmail,
	}
	if s, ok := lookup(c.Scenario); ok {
		for k, v := range s.overrides {
			ctx[k] = v
		}
	}
	if c.InsufficientData != "" {
		ctx[config.KeyHealthCheckInsufficientData] = c.InsufficientData
	}
	if c.Consistency != "" {
		ctx[config.KeyTableConsistency] = string(c.Consistency)
	}
	d, err := config.Load(ctx, nil)
	if err != nil {
		return d, fmt.Errorf("--regions %s,%s: %w", c.Primary, c.Secondary, err)
	}
	return d, nil
}

// Twin is the twin configuration of c, for running the two regions
// without a drill (tapctl local --regions).
func (c Config) Twin() twin.Config { return c.withDefaults().twinConfig() }

// twinConfig is the twin the drill runs on.
func (c Config) twinConfig() twin.Config {
	d, _ := c.deployment()
	return twin.Config{
		Deployment: d, Period: c.Period, Lag: c.Lag, LagJitter: c.LagJitter, Skew: c.Skew,
		Concurrency: c.Concurrency, Seed: c.Seed, ProcessorOutput: c.ProcessorOutput, MotoLogDir: c.MotoLogDir,
	}
}

// spec is the deployed behaviour the drill's twin runs.
func (c Config) spec() deployspec.Spec {
	d, _ := c.deployment()
	return deployspec.For(d)
}

// windows bound what a scenario waits for and checks, derived from the
// deployed alarm and health check at the drill's scale.
type windows struct {
	// detect bounds failure → routing moved when the alarm must go to
	// ALARM: M breaching periods, the period in progress at the failure,
	// one to align the evaluation, the metric delivery delay, Route 53's
	// read, and a period of slack for a loaded machine.
	detect time.Duration
	// unreadable bounds failure → routing moved when Route 53 cannot read
	// the alarm at all: its next read, and a period of slack.
	unreadable time.Duration
	// recover bounds recovery → routing back: the first good period, its
	// delay, the evaluation, Route 53's read, and a period of slack.
	recover time.Duration
}

func (c Config) windowsOf() windows {
	c = c.withDefaults()
	spec := c.spec()
	scale := twin.NewScale(c.Period, spec.HealthAlarm.Period)
	p := c.Period
	delay, poll := scale.Local(twin.MetricDeliveryDelay), scale.Local(twin.Route53AlarmPollInterval)
	m := time.Duration(spec.HealthAlarm.DatapointsToAlarm)
	return windows{
		detect:     (m+3)*p + delay + poll,
		unreadable: poll + p,
		recover:    3*p + delay + poll,
	}
}
