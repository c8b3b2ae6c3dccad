// Package drill runs TAP's two regions on one machine and the drills of
// DESIGN §8.1: the loss of the primary region (cut, fail over, heal, catch
// up, fail back) and a processor-only failure (which must not fail over),
// under steady generated load through a local global endpoint, with the real
// processor in both regions, table replication between their replicas, and
// health computed as AWS computes it. It reports RTO, data at risk, events
// lost, invariants I1–I3 and DynamoDB operations per event.
package drill

import (
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/tap-trading/tap/internal/health"
	"github.com/tap-trading/tap/internal/partition"
)

// Scenario is a drill's failure.
type Scenario string

// Scenarios.
const (
	// RegionLoss cuts the whole primary region off.
	RegionLoss Scenario = "region-loss"
	// ProcessorFailure makes only the primary's processor fail (its
	// DynamoDB calls error).
	ProcessorFailure Scenario = "processor-failure"
)

// Config shapes a drill. Zero fields take the defaults in parentheses.
type Config struct {
	// Primary and Secondary are the regions (us-east-1, us-west-2).
	Primary, Secondary string
	// Env names the resources (drill).
	Env      string
	Scenario Scenario
	// Period is the scaled health period, AWS's 60 s (2 s).
	Period time.Duration
	// Periods is N: breaching periods to fail over, good ones to fail back
	// (3; AWS's alarm uses 5).
	Periods int
	// Threshold is the average ingestion-to-invocation latency over which a
	// period breaches (2 s; AWS's alarm: 30 s).
	Threshold time.Duration
	// Rate is the load in events per second (5).
	Rate float64
	// Duplicates is the probability an event is published again (0.1).
	Duplicates float64
	// Lag delays event and table replication after acceptance (100 ms).
	Lag time.Duration
	// Mode is how the cut primary looks to clients (refuse).
	Mode partition.Mode
	// Warmup is the load before the failure (2 periods); Outage how long
	// the failure lasts after routing moved, or after it would have
	// (2 periods; processor failure: N+2); Cooldown the load after
	// recovery (2 periods).
	Warmup, Outage, Cooldown time.Duration
	// Concurrency is each region's invoker concurrency (64). Health measures
	// ingestion to invocation start, and Lambda scales out rather than let
	// events wait for a busy instance: too few local slots, all held by
	// events in retries, would read as a regional outage.
	Concurrency int
	// Seed makes the load repeatable (from the clock).
	Seed uint64
	// PhaseTimeout bounds each wait for the system (routing to move,
	// replication to catch up, quiesce) (90 s).
	PhaseTimeout time.Duration
	// Progress, if set, is called about once a second and on every phase
	// change.
	Progress func(Progress)
	// ProcessorOutput receives both processors' logs (discarded).
	ProcessorOutput io.Writer
	// MotoLogDir, if set, receives each region's moto log.
	MotoLogDir string
	// OnError is told of errors the drill survives (a cut region's
	// pollers). Default: ignored.
	OnError func(error)
}

// Defaults.
const (
	DefaultPrimary   = "us-east-1"
	DefaultSecondary = "us-west-2"
	DefaultEnv       = "drill"
)

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Primary == "" {
		c.Primary = DefaultPrimary
	}
	if c.Secondary == "" {
		c.Secondary = DefaultSecondary
	}
	if c.Env == "" {
		c.Env = DefaultEnv
	}
	if c.Scenario == "" {
		c.Scenario = RegionLoss
	}
	def(&c.Period, 2*time.Second)
	if c.Periods == 0 {
		c.Periods = 3
	}
	def(&c.Threshold, 2*time.Second)
	if c.Rate == 0 {
		c.Rate = 5
	}
	if c.Mode == 0 {
		c.Mode = partition.Refuse
	}
	def(&c.Lag, 100*time.Millisecond)
	def(&c.Warmup, 2*c.Period)
	if c.Scenario == ProcessorFailure {
		def(&c.Outage, time.Duration(c.Periods+2)*c.Period)
	}
	def(&c.Outage, 2*c.Period)
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
	if c.OnError == nil {
		c.OnError = func(error) {}
	}
	return c
}

// regionName is the shape of an AWS region name (us-east-1, ap-southeast-2,
// us-gov-west-1).
var regionName = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$`)

// Validate names the first setting, by its tapctl flag, that makes the
// drill impossible, and the values it allows.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case !regionName.MatchString(c.Primary):
		return fmt.Errorf("--regions: %q is not a region name (like us-east-1)", c.Primary)
	case !regionName.MatchString(c.Secondary):
		return fmt.Errorf("--regions: %q is not a region name (like us-west-2)", c.Secondary)
	case c.Primary == c.Secondary:
		return fmt.Errorf("--regions: primary and secondary are both %s; give two different regions", c.Primary)
	case c.Scenario != RegionLoss && c.Scenario != ProcessorFailure:
		return fmt.Errorf("--scenario %q: want %s or %s", c.Scenario, RegionLoss, ProcessorFailure)
	case c.Period < 100*time.Millisecond || c.Period > time.Minute:
		return fmt.Errorf("--period %s: want 100ms to 1m (AWS's is 1m)", c.Period)
	case c.Periods < 1 || c.Periods > 10:
		return fmt.Errorf("--periods %d: want 1 to 10 (AWS's alarm uses 5)", c.Periods)
	case c.Threshold <= 0:
		return fmt.Errorf("--threshold %s: want a positive duration", c.Threshold)
	case c.Rate <= 0 || c.Rate > 50:
		return fmt.Errorf("--rate %g: want more than 0 and at most 50 events/s (moto takes ~10 ms a request)", c.Rate)
	case c.Duplicates < 0 || c.Duplicates > 1:
		return fmt.Errorf("--duplicates %g: want a fraction from 0 to 1", c.Duplicates)
	case c.Lag < 0:
		return fmt.Errorf("--lag %s: want 0 or more", c.Lag)
	case c.Warmup < c.Period:
		return fmt.Errorf("--warmup %s: want at least one period (%s), so health has data before the failure", c.Warmup, c.Period)
	case c.Outage <= 0 || c.Cooldown < 0:
		return fmt.Errorf("--outage must be positive and --cooldown not negative (got %s, %s)", c.Outage, c.Cooldown)
	case c.Concurrency < 1:
		return fmt.Errorf("--concurrency %d: want at least 1", c.Concurrency)
	case c.PhaseTimeout < time.Duration(c.Periods+2)*c.Period:
		return fmt.Errorf("--phase-timeout %s: shorter than the %d periods health needs to change; want at least %s",
			c.PhaseTimeout, c.Periods+2, time.Duration(c.Periods+2)*c.Period)
	}
	return nil
}

// healthConfig is the health evaluation of the drill.
func (c Config) healthConfig() health.Config {
	return health.Config{Period: c.Period, Periods: c.Periods, Threshold: c.Threshold}
}

// AWSEquivalent converts a drill duration into the time it stands for in
// AWS: periods scaled to 60 s, N scaled to the alarm's 5 periods. Routing
// transitions add Route 53's evaluation interval on top (see Times).
func (c Config) AWSEquivalent(d time.Duration) time.Duration {
	periods := float64(d) / float64(c.Period)
	return time.Duration(periods * float64(health.AWSPeriod) * float64(health.AWSPeriods) / float64(c.Periods)).Round(time.Second)
}
