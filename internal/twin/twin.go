// Package twin runs TAP's two regions on one machine as they deploy
// (DESIGN §8.1): each region its own local AWS (moto) with the bus, rule,
// queues, table replica and the real processor under a local invoker with
// Lambda's and EventBridge's semantics; a global endpoint routing on a
// Route 53 health check of a CloudWatch alarm that lives in the primary
// region; event replication through the other bus's rules; and DynamoDB
// global-table replication between the replicas. Every behavioural value
// comes from internal/deployspec — the definition the CDK stacks build from
// — scaled in time by one factor, so the twin rehearses what deploys.
//
// Failures are injected per region and path: Cut (the whole region, refused
// or hung), Slow (a brownout), CutLink (only the path between the regions),
// LoseMonitoring (the region's CloudWatch), RefuseInvocations (the Lambda
// service refuses EventBridge's invocations) and FailProcessor (the
// processor's DynamoDB calls fail). The drills (internal/drill) drive it.
package twin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/smithy-go/logging"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/globalendpoint"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/partition"
	"github.com/tap-trading/tap/internal/replication"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/twin/strongtable"
	"github.com/tap-trading/tap/producer"
)

// Config shapes a twin. Zero fields take the defaults in parentheses.
type Config struct {
	// Deployment is the configuration the twin rehearses, as `cdk synth`
	// would load it (config.Defaults with Env "drill" and the default
	// regions). Its regions are the twin's.
	Deployment config.Config
	// Period stands for the health alarm's period (60 s in AWS) and sets
	// the time scale of every AWS duration the twin uses (2 s: 1/30).
	Period time.Duration
	// Lag is the least delay of event and table replication after a write
	// or an acceptance (100 ms); LagJitter adds a random extra delay per
	// replicated record, so items of one order arrive in either order (Lag).
	Lag, LagJitter time.Duration
	// Skew is how far the secondary's clock runs ahead of the primary's
	// (negative: behind) in the time each region stamps on its table writes,
	// which decides last-writer-wins (0). Less than a period.
	Skew time.Duration
	// Concurrency is each region's processor concurrency (64).
	Concurrency int
	// Seed makes replication jitter repeatable (1).
	Seed uint64
	// ProcessorOutput receives both processors' logs (discarded).
	ProcessorOutput io.Writer
	// MotoLogDir, if set, receives each region's moto log.
	MotoLogDir string
	// Observer is told what happens, as it happens.
	Observer Observer
}

// Observer receives the twin's events; nil fields are skipped. Calls come
// from several goroutines.
type Observer struct {
	Accepted   func(globalendpoint.Accepted)
	Replicated func(globalendpoint.Replicated)
	// Settled is told of every event a region's invoker settled.
	Settled func(region string, r local.Result)
	// Alarm is told of every state change of a region's alarm.
	Alarm func(AlarmChange)
	// Health is told of every change of the Route 53 health check.
	Health func(HealthChange)
	// Route is told when the endpoint starts sending calls elsewhere.
	Route func(region string, at time.Time)
	// Survived is told of errors the twin survives (a cut region's
	// pollers, the AWS SDK's warnings, replication retries) and where they
	// arose: a region's name, "replication" or "producer". Their raw lines
	// are in ProcessorOutput; the drill and tapctl local --regions count
	// them rather than stream them.
	Survived func(source string, err error)
}

// The sources of survived errors that are not a region.
const (
	SourceReplication = "replication"
	SourceProducer    = "producer"
)

// crossRegionCallTimeout bounds each call the twin makes from one region to
// the other (event and table replication, the MRSC quorum step): a hung
// region is noticed within it.
const crossRegionCallTimeout = 3 * time.Second

// DefaultEnv names the twin's resources.
const DefaultEnv = "drill"

// DeploymentDefaults is the deployment a twin rehearses unless told
// otherwise: the stacks' defaults for env "drill".
func DeploymentDefaults() config.Config {
	c := config.Defaults()
	c.Env = DefaultEnv
	c.AlertEmail = config.PlaceholderAlertEmail
	return c
}

func (c Config) withDefaults() Config {
	if c.Deployment.Env == "" {
		c.Deployment = DeploymentDefaults()
	}
	if c.Period == 0 {
		c.Period = 2 * time.Second
	}
	if c.Lag == 0 {
		c.Lag = 100 * time.Millisecond
	}
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.ProcessorOutput == nil {
		c.ProcessorOutput = io.Discard
	}
	return c
}

// regionName is the shape of an AWS region name.
var regionName = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$`)

// Validate names the first setting, by its tapctl flag, that makes the twin
// impossible, and the values it allows.
func (c Config) Validate() error {
	c = c.withDefaults()
	d := c.Deployment
	switch {
	case !regionName.MatchString(d.PrimaryRegion):
		return fmt.Errorf("--regions: %q is not a region name (like us-east-1)", d.PrimaryRegion)
	case !regionName.MatchString(d.SecondaryRegion):
		return fmt.Errorf("--regions: %q is not a region name (like us-west-2)", d.SecondaryRegion)
	case d.PrimaryRegion == d.SecondaryRegion:
		return fmt.Errorf("--regions: primary and secondary are both %s; give two different regions", d.PrimaryRegion)
	case c.Period < 500*time.Millisecond || c.Period > time.Minute:
		// Below half a second the scaled latency threshold (1/60 of it)
		// is within moto's own request time, so health would measure the
		// emulator.
		return fmt.Errorf("--period %s: want 500ms to 1m (it stands for AWS's 1m; every AWS duration is scaled by period/1m)", c.Period)
	case c.Lag < 0 || c.LagJitter < 0:
		return fmt.Errorf("--lag %s / --lag-jitter %s: want 0 or more", c.Lag, c.LagJitter)
	case c.Skew <= -c.Period || c.Skew >= c.Period:
		return fmt.Errorf("--skew %s: want less than one period (%s) either way: a larger skew would reorder writes a whole alarm period apart", c.Skew, c.Period)
	case c.Concurrency < 1:
		return fmt.Errorf("--concurrency %d: want at least 1", c.Concurrency)
	}
	return nil
}

// Env is a running two-region twin.
type Env struct {
	cfg   Config
	spec  deployspec.Spec
	scale Scale
	// sdkLog takes every twin client's AWS SDK log lines (see Start).
	sdkLog logging.Logger

	primary, second *region
	monitor         *monitor
	endpoint        *globalendpoint.Endpoint
	// The table's replication: repl (MREC) or strong (MRSC); one is nil.
	repl   *replication.Replicator
	strong *strongtable.Group

	stop    context.CancelFunc
	hbStop  context.CancelFunc
	wg      sync.WaitGroup
	hbWG    sync.WaitGroup
	started time.Time
}

// Start deploys both regions and everything between them, in the order the
// stacks deploy: the regions (heartbeats start), then the failover path
// (the alarm, the health check, the endpoint). Close stops it.
func Start(ctx context.Context, cfg Config) (e *Env, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	spec := deployspec.For(cfg.Deployment)
	e = &Env{cfg: cfg, spec: spec, scale: NewScale(cfg.Period, spec.HealthAlarm.Period), started: time.Now()}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	// survived returns the handler of errors from one source: the raw line
	// goes to the processors' log, the observer counts it.
	survived := func(source string) func(error) {
		return func(err error) {
			if cfg.ProcessorOutput != nil {
				fmt.Fprintf(cfg.ProcessorOutput, "survived %s: %v\n", source, err)
			}
			if cfg.Observer.Survived != nil {
				cfg.Observer.Survived(source, err)
			}
		}
	}
	// The SDK's own warnings (a response cut mid-body fails its checksum)
	// are what a cut region is expected to cause: survived, never streamed
	// to the terminal.
	sdkLog := func(source string) logging.Logger {
		onErr := survived(source)
		return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
			onErr(fmt.Errorf("SDK %s %s", c, fmt.Sprintf(format, v...)))
		})
	}
	e.sdkLog = sdkLog(SourceProducer)
	if e.monitor, err = newMonitor(spec, e.scale, cfg.Observer); err != nil {
		return e, err
	}
	rc := func(name string) regionConfig {
		ic := local.InvokerFromSpec(spec, e.scale.Factor())
		ic.Concurrency = cfg.Concurrency
		ic.OnError = survived(name)
		c := regionConfig{
			name: name, spec: spec, scale: e.scale, procOut: cfg.ProcessorOutput, invoker: ic, sdkLog: sdkLog(name),
			metric: func(at time.Time, latency time.Duration) { e.monitor.observe(name, at, latency) },
			settled: func(res local.Result) {
				if cfg.Observer.Settled != nil {
					cfg.Observer.Settled(name, res)
				}
			},
		}
		if cfg.MotoLogDir != "" {
			c.motoLog = filepath.Join(cfg.MotoLogDir, "moto-"+name+".log")
		}
		return c
	}
	// The two regions start side by side: moto takes a few seconds. Their
	// local AWS first, then, for a strongly consistent table, the proxies
	// that make it one, then the rest of each region on top.
	var errs [2]error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); e.primary, errs[0] = startAWS(ctx, rc(spec.Primary)) }()
	go func() { defer wg.Done(); e.second, errs[1] = startAWS(ctx, rc(spec.Secondary)) }()
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return e, err
	}
	dynamo := func(r *region) string { return r.moto.Endpoint }
	if spec.Table.Consistency == schema.Strong {
		if e.strong, err = startStrongTable(e, survived(SourceReplication)); err != nil {
			return e, err
		}
		dynamo = func(r *region) string { return e.strong.URL(r.name) }
	}
	wg.Add(2)
	go func() { defer wg.Done(); errs[0] = e.primary.start(ctx, rc(spec.Primary), dynamo(e.primary)) }()
	go func() { defer wg.Done(); errs[1] = e.second.start(ctx, rc(spec.Secondary), dynamo(e.second)) }()
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return e, err
	}
	e.monitor.regions(e.primary, e.second)

	if e.strong == nil {
		if e.repl, err = replication.New(replication.Config{
			Table: spec.Table.Name, A: e.primary.replica(), B: e.second.replica(),
			Lag: cfg.Lag, LagJitter: cfg.LagJitter, Seed: cfg.Seed,
			Skew:    map[string]time.Duration{spec.Secondary: cfg.Skew},
			MaxSkew: cfg.Period,
			Poll:    250 * time.Millisecond, CallTimeout: crossRegionCallTimeout, OnError: survived(SourceReplication),
		}); err != nil {
			return e, err
		}
	}

	run, stop := context.WithCancel(context.Background())
	e.stop = stop
	hb, hbStop := context.WithCancel(run)
	e.hbStop = hbStop
	// The processing stacks first: both invokers and heartbeats run before
	// the failover stack exists (stacks.NewAll's dependencies).
	for _, r := range e.regions() {
		e.wg.Add(1)
		go func() { defer e.wg.Done(); r.run(run, 5*time.Second, survived(r.name)) }()
		e.hbWG.Add(1)
		go func() { defer e.hbWG.Done(); r.heartbeat(hb, e.scale.Local(spec.Heartbeat.Rate)) }()
	}
	if e.repl != nil {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			if err := e.repl.Run(run); err != nil {
				survived(SourceReplication)(err)
			}
		}()
	}

	// Then the failover stack: the alarm, its health check and the
	// endpoint, which routes by the health check.
	if err := e.monitor.deploy(ctx, time.Now()); err != nil {
		return e, err
	}
	e.wg.Add(1)
	go func() { defer e.wg.Done(); e.monitor.run(hb.Done()) }()
	epRegion := func(r *region) globalendpoint.Region {
		return globalendpoint.Region{
			Name: r.name, Account: awslocal.AccountID, Events: r.events,
			Reachable: r.reachable, Deliver: r.deliverReplicated,
		}
	}
	if e.endpoint, err = globalendpoint.Start(globalendpoint.Config{
		Primary: epRegion(e.primary), Secondary: epRegion(e.second),
		PrimaryHealthy: e.monitor.primaryHealthy,
		ForwardTimeout: crossRegionCallTimeout, ReplicationLag: cfg.Lag,
		// The endpoint's managed replication rule keeps EventBridge's
		// default retry policy (24 h, 185 attempts), scaled.
		ReplicationMaxAge: e.scale.Local(EventBridgeDefaultMaxEventAge),
		OnAccept:          cfg.Observer.Accepted,
		OnReplicated: func(r globalendpoint.Replicated) {
			// The managed rule is a rule of the source region: its first
			// invocation attempt is a sample of that region's
			// IngestionToInvocationStartLatency, like the processor rule's.
			if r.Attempts == 1 {
				e.monitor.observe(r.From, r.FirstAttempt, r.FirstAttempt.Sub(r.AcceptedAt))
			}
			if cfg.Observer.Replicated != nil {
				cfg.Observer.Replicated(r)
			}
		},
		OnRoute: cfg.Observer.Route,
	}); err != nil {
		return e, err
	}
	return e, nil
}

// regions returns the primary and the secondary.
func (e *Env) regions() []*region { return []*region{e.primary, e.second} }

// region returns the named region, or an error naming the run's regions.
func (e *Env) region(verb, name string) (*region, error) {
	for _, r := range e.regions() {
		if r != nil && r.name == name {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%s %q: not a region of this run (%s, %s)", verb, name, e.spec.Primary, e.spec.Secondary)
}

// Spec is the deployed behaviour the twin runs.
func (e *Env) Spec() deployspec.Spec { return e.spec }

// Scale is the twin's time scale.
func (e *Env) Scale() Scale { return e.scale }

// Primary and Secondary name the regions.
func (e *Env) Primary() string   { return e.spec.Primary }
func (e *Env) Secondary() string { return e.spec.Secondary }

// Started is when the twin was deployed.
func (e *Env) Started() time.Time { return e.started }

// Cut partitions the named region: it loses every path (clients, the link
// to the other region, its CloudWatch as Route 53 sees it).
func (e *Env) Cut(name string, m partition.Mode) error {
	r, err := e.region("cut", name)
	if err != nil {
		return err
	}
	if err := r.front.Cut(m); err != nil {
		return err
	}
	return r.link.Cut(m)
}

// CutLink cuts only the path between the regions: event replication and
// table replication wait; both regions stay up for their clients.
func (e *Env) CutLink(m partition.Mode) error {
	for _, r := range e.regions() {
		if err := r.link.Cut(m); err != nil {
			return err
		}
	}
	return nil
}

// Slow makes every call into the named region take d longer (0 ends it).
func (e *Env) Slow(name string, d time.Duration) error {
	r, err := e.region("slow", name)
	if err != nil {
		return err
	}
	r.front.Slow(d)
	r.link.Slow(d)
	return nil
}

// LoseMonitoring makes the named region's CloudWatch unreachable: its
// metrics are not recorded and Route 53 cannot read its alarms.
func (e *Env) LoseMonitoring(name string) error {
	r, err := e.region("lose monitoring of", name)
	if err != nil {
		return err
	}
	r.monitoringLost.Store(true)
	return nil
}

// RefuseInvocations makes the named region's Lambda service refuse
// EventBridge's invocations of the processor until Heal.
func (e *Env) RefuseInvocations(name string) error {
	r, err := e.region("refuse invocations in", name)
	if err != nil {
		return err
	}
	r.refusing.Store(true)
	return nil
}

// FailProcessor makes the named region's processor's DynamoDB calls fail
// (HTTP 500) until Heal.
func (e *Env) FailProcessor(name string) error {
	r, err := e.region("fail", name)
	if err != nil {
		return err
	}
	r.faulty.Store(true)
	return nil
}

// Heal ends every failure of the named region.
func (e *Env) Heal(name string) error {
	r, err := e.region("heal", name)
	if err != nil {
		return err
	}
	r.heal()
	return nil
}

// CutQuorum cuts the region off from the third region of a strongly
// consistent (MRSC) table, the witness or third replica; with the link to
// the other region cut too (CutLink), the region has no quorum: it refuses
// writes and strongly consistent reads, and serves eventually consistent
// reads. An error for an eventually consistent table, which has no quorum.
func (e *Env) CutQuorum(name string) error {
	r, err := e.region("cut the quorum of", name)
	if err != nil {
		return err
	}
	if e.strong == nil {
		return fmt.Errorf("cut the quorum of %s: the table is eventually consistent (MREC); only a strongly consistent one has a quorum: start the twin with a strong table (tapctl local drill --consistency strong)", name)
	}
	r.quorumCut.Store(true)
	return nil
}

// CrashAWS stops the region's local AWS, as an emulator that crashed or
// stopped answering under load: every client of the region, and the other
// region's replication to it, fail from then on. Unlike Cut, nothing heals
// it; a drill that crashes a region can only report what it could read.
func (e *Env) CrashAWS(name string) error {
	r, err := e.region("crash", name)
	if err != nil {
		return err
	}
	r.crashed.Store(true)
	r.moto.Stop()
	return nil
}

// HealAll ends every failure everywhere.
func (e *Env) HealAll() {
	for _, r := range e.regions() {
		if r != nil {
			r.heal()
		}
	}
}

// StopHeartbeats stops both regions' heartbeats and health evaluation, so
// the tables can settle at the end of a drill.
func (e *Env) StopHeartbeats() {
	if e.hbStop != nil {
		e.hbStop()
		e.hbWG.Wait()
	}
}

// Close heals everything, stops every goroutine and every moto server.
func (e *Env) Close() {
	if e == nil {
		return
	}
	e.HealAll()
	if e.stop != nil {
		e.stop()
		e.wg.Wait()
	}
	if e.endpoint != nil {
		_ = e.endpoint.Close()
	}
	for _, r := range e.regions() {
		r.close()
	}
	if e.strong != nil {
		e.strong.Close()
	}
}

// EndpointURL is the local global endpoint's URL: publish here.
func (e *Env) EndpointURL() string { return e.endpoint.URL }

// Route is the region the endpoint sends calls to now.
func (e *Env) Route() string { return e.endpoint.Route() }

// PendingReplication counts accepted events not yet delivered to the other
// region, by source region.
func (e *Env) PendingReplication() map[string]int { return e.endpoint.Pending() }

// EndpointCounts are the endpoint's totals.
func (e *Env) EndpointCounts() globalendpoint.Counts { return e.endpoint.Counts() }

// Replication is the table replicator of an eventually consistent (MREC)
// table; nil for a strongly consistent one (StrongTable).
func (e *Env) Replication() *replication.Replicator { return e.repl }

// StrongTable is what makes a strongly consistent (MRSC) table of the two
// replicas; nil for an eventually consistent one (Replication).
func (e *Env) StrongTable() *strongtable.Group { return e.strong }

// TableCaughtUp waits until every table write so far is in both replicas:
// replicated (MREC), or relayed from the witness (MRSC).
func (e *Env) TableCaughtUp(ctx context.Context) error {
	if e.strong != nil {
		return e.strong.CaughtUp(ctx)
	}
	return e.repl.CaughtUp(ctx)
}

// Producer opens a producer (producer.Open) publishing to the endpoint the
// way a careful producer does: entries refused for a reason a retry can
// fix are retried until accepted, with backoff from 100 ms to 1 s (cfg's
// zero Backoff and MaxBackoff), and the SDK's own retries are off so the
// producer's figures count every refusal. cfg.SpoolDir makes it durable.
func (e *Env) Producer(ctx context.Context, cfg producer.Config) (*producer.Producer, error) {
	awsCfg, err := awslocal.Config(ctx, e.endpoint.URL, e.spec.Primary, awsconfig.WithLogger(e.sdkLog))
	if err != nil {
		return nil, err
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = time.Second
	}
	return producer.Open(eventbridge.NewFromConfig(awsCfg, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 }), cfg)
}
