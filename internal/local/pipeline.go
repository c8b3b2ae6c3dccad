package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/tap-trading/tap/internal/awslocal"
	tapconfig "github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/schema"
)

// Defaults of a local pipeline.
const (
	DefaultRegion = "us-east-1"
	DefaultEnv    = "local"
)

// NewProcessorFunc builds the processor the invoker drives, configured for
// the pipeline's resources through cfg (an SDK config for the local AWS);
// out receives its logs and metrics.
type NewProcessorFunc func(ctx context.Context, cfg aws.Config, r Resources, out io.Writer) (ProcessFunc, error)

// Config configures a local pipeline.
type Config struct {
	// AWSEndpoint is a running local AWS to use; empty starts moto_server on
	// a free loopback port (and stops it on Close).
	AWSEndpoint string
	// Region of every resource. Default us-east-1.
	Region string
	// Env names the resources (tap-<env>-orders, ...). Default "local".
	// Ignored when Spec is set (it must then be empty or Spec's env).
	Env string
	// Spec is the deployed behaviour the pipeline provisions and runs:
	// names, table, the rule's pattern, the DLQs' retention, the function's
	// timeout and asynchronous retries, the target's retry policy. Zero:
	// SpecFor(Env), the defaults' (config.Defaults) for Env.
	Spec deployspec.Spec
	// Scale is the time scale: a local duration is the AWS duration ×
	// Scale (see DefaultScale and InvokerFromSpec). Zero: DefaultScale, 1.
	Scale float64
	// Invoker sets the invoker's limits and hooks. Its zero durations are
	// InvokerFromSpec(Spec, Scale)'s; its counts (RetryAttempts,
	// TargetRetryAttempts) are taken as given, zero meaning none. Its queue
	// and ARN fields and Observe are filled in by the pipeline.
	Invoker InvokerConfig
	// MotoLog, if set, receives the output of the moto server started.
	MotoLog string
	// SDKLogger, when set, receives the AWS SDK's own log lines (retries,
	// checksum warnings) of the pipeline's clients instead of stderr.
	SDKLogger logging.Logger
	// ProcessorOutput receives the processor's JSON logs and EMF metrics.
	// Default: discarded.
	ProcessorOutput io.Writer
	// NewProcessor builds the processor. Default: the real handler
	// (internal/processor), as deployed.
	NewProcessor NewProcessorFunc
	// Archive also creates the bus's archive, named and filtered as the
	// stack deploys it (createArchive), so archived events can be replayed
	// (tapctl replay --local). Default false: the two-region twin's buses
	// deliver replicated events through every rule of the bus
	// (internal/twin/eventbus), and the archive's managed rule, whose
	// target is not an SQS queue, would fail each delivery.
	Archive bool
}

// Pipeline is a provisioned local pipeline: the local AWS, its resources,
// and an invoker ready to run.
type Pipeline struct {
	Resources Resources
	// AWS is an SDK config for the pipeline's local AWS.
	AWS     aws.Config
	Invoker *Invoker

	moto      *motoserver.Server
	mu        sync.Mutex
	observers map[int]func(Result)
	nextObs   int
}

// Start starts (or connects to) the local AWS, provisions the resources of
// cfg.Env in it and builds the invoker of the processor. The invoker is not
// running yet: call Run. Close releases what Start started, also on error.
func Start(ctx context.Context, cfg Config) (p *Pipeline, err error) {
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	switch {
	case cfg.Spec.Names.Env == "":
		if cfg.Env == "" {
			cfg.Env = DefaultEnv
		}
		cfg.Spec = SpecFor(cfg.Env)
	case cfg.Env != "" && cfg.Env != cfg.Spec.Names.Env:
		return nil, fmt.Errorf("local: Env %q and the spec's env %q differ", cfg.Env, cfg.Spec.Names.Env)
	default:
		cfg.Env = cfg.Spec.Names.Env
	}
	if cfg.Scale == 0 {
		cfg.Scale = DefaultScale
	}
	if !(cfg.Scale > 0) || math.IsInf(cfg.Scale, 0) {
		return nil, fmt.Errorf("local: time scale %v: want a positive number", cfg.Scale)
	}
	if cfg.ProcessorOutput == nil {
		cfg.ProcessorOutput = io.Discard
	}
	if cfg.NewProcessor == nil {
		cfg.NewProcessor = RealProcessor
	}
	p = &Pipeline{observers: map[int]func(Result){}}
	defer func() {
		if err != nil {
			p.Close()
			p = nil
		}
	}()
	endpoint := cfg.AWSEndpoint
	if endpoint == "" {
		if p.moto, err = motoserver.Start(ctx, cfg.MotoLog); err != nil {
			return p, err
		}
		endpoint = p.moto.Endpoint
	}
	var sdkOpts []func(*config.LoadOptions) error
	if cfg.SDKLogger != nil {
		sdkOpts = append(sdkOpts, config.WithLogger(cfg.SDKLogger))
	}
	if p.AWS, err = awslocal.Config(ctx, endpoint, cfg.Region, sdkOpts...); err != nil {
		return p, fmt.Errorf("local: AWS config for %s: %w", endpoint, err)
	}
	if p.Resources, err = ProvisionSpec(ctx, p.AWS, endpoint, cfg.Spec, cfg.Scale); err != nil {
		return p, explainProvision(err, cfg, endpoint)
	}
	if cfg.Archive {
		if err := createArchive(ctx, p.AWS, cfg.Spec, p.Resources.BusARN); err != nil {
			return p, explainProvision(err, cfg, endpoint)
		}
	}
	proc, err := cfg.NewProcessor(ctx, p.AWS, p.Resources, cfg.ProcessorOutput)
	if err != nil {
		return p, fmt.Errorf("local: build the processor: %w", err)
	}
	ic := cfg.Invoker.withDurationsFrom(InvokerFromSpec(cfg.Spec, cfg.Scale))
	ic.InboxURL, ic.DLQURL, ic.FunctionARN = p.Resources.InboxURL, p.Resources.ProcessingDLQURL, p.Resources.FunctionARN
	ic.DeliveryDLQURL, ic.RuleARN = p.Resources.DeliveryDLQURL, p.Resources.RuleARN
	ic.Observe = p.notify
	p.Invoker = NewInvoker(sqs.NewFromConfig(p.AWS), proc, ic)
	return p, nil
}

// createArchive creates the archive of the bus busARN as the stack does
// (infra.NewTradingBus): named s.Names.Archive(), keeping every event of
// source schema.Source for the defaults' ArchiveRetentionDays (the spec
// holds no archive settings). EventBridge adds a managed rule that keeps
// replayed events out of the archive
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-archive.html);
// moto 5.2.1 does too.
func createArchive(ctx context.Context, cfg aws.Config, s deployspec.Spec, busARN string) error {
	name := s.Names.Archive()
	pattern, err := json.Marshal(map[string][]string{"source": {schema.Source}})
	if err != nil {
		return fmt.Errorf("local: archive pattern: %w", err)
	}
	_, err = eventbridge.NewFromConfig(cfg).CreateArchive(ctx, &eventbridge.CreateArchiveInput{
		ArchiveName:    &name,
		EventSourceArn: &busARN,
		EventPattern:   aws.String(string(pattern)),
		RetentionDays:  aws.Int32(int32(tapconfig.Defaults().ArchiveRetentionDays)),
	})
	// A reused local AWS (--aws-endpoint) keeps the archive of the last
	// run, as a redeployed stack keeps its archive.
	if _, exists := errors.AsType[*ebtypes.ResourceAlreadyExistsException](err); exists {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local: create archive %s: %w", name, err)
	}
	return nil
}

// Subscribe calls fn with every settled event from now on (one call at a
// time) until the returned function is called.
func (p *Pipeline) Subscribe(fn func(Result)) (cancel func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := p.nextObs
	p.nextObs++
	p.observers[id] = fn
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.observers, id)
	}
}

func (p *Pipeline) notify(r Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, fn := range p.observers {
		fn(r)
	}
}

// Run runs the invoker until ctx ends, then gives events in flight grace to
// finish (see Invoker.Run).
func (p *Pipeline) Run(ctx context.Context, grace time.Duration) error {
	if p.Invoker == nil {
		return errors.New("local: pipeline not started")
	}
	return p.Invoker.Run(ctx, grace)
}

// StartedMoto reports whether the pipeline started its own moto server.
func (p *Pipeline) StartedMoto() bool { return p.moto != nil }

// Close stops the moto server the pipeline started, if any. Resources in an
// external local AWS are left for inspection.
func (p *Pipeline) Close() {
	if p == nil {
		return
	}
	p.moto.Stop()
	p.moto = nil
}

// explainProvision says what a failed Provision most likely means when the
// local AWS is one the user gave.
func explainProvision(err error, cfg Config, endpoint string) error {
	var api smithy.APIError
	switch {
	case cfg.AWSEndpoint == "":
		return err
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("nothing answers at --aws-endpoint %s: start moto_server there, or leave --aws-endpoint out to let tapctl start one (%w)", endpoint, err)
	case errors.As(err, &api) && api.ErrorCode() == "ResourceInUseException":
		return fmt.Errorf("%w (is another pipeline of env %q using %s? pick another --env)", err, cfg.Env, endpoint)
	}
	return err
}
