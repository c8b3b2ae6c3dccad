package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
	"github.com/spf13/cobra"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/store"
)

// Environment variables tapctl reads (besides the AWS SDK's own).
const (
	EnvEnv             = config.EnvEnv // TAP_ENV
	EnvRegion          = "TAP_REGION"
	EnvSecondaryRegion = config.EnvSecondaryRegion // TAP_SECONDARY_REGION
	EnvEndpointID      = "TAP_ENDPOINT_ID"
)

// globalFlags are the flags of every command.
type globalFlags struct {
	env, region, output string
}

func (g *globalFlags) register(root *cobra.Command) {
	pf := root.PersistentFlags()
	pf.StringVar(&g.env, "env", "", "environment: names the tap-<env>-* resources and Tap-<env>-* stacks (env TAP_ENV; default dev, except tapctl local: default local, TAP_ENV ignored)")
	pf.StringVar(&g.region, "region", "", "AWS region (env TAP_REGION, then AWS_REGION; default the primary region, us-east-1)")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
}

// envName is the environment name: --env, TAP_ENV, or dev.
func (a *app) envName() string {
	return first(a.flags.env, a.env.Getenv(EnvEnv), config.Defaults().Env)
}

// names are the resource names of the environment.
func (a *app) names() names.Names { return names.For(a.envName()) }

// region is the region of AWS calls: --region, TAP_REGION, AWS_REGION,
// AWS_DEFAULT_REGION, or the default primary region.
func (a *app) region() string {
	return first(a.flags.region, a.env.Getenv(EnvRegion), a.env.Getenv("AWS_REGION"),
		a.env.Getenv("AWS_DEFAULT_REGION"), config.Defaults().PrimaryRegion)
}

// json reports whether --output json was asked for; any format but text and
// json is a usage error.
func (a *app) json() (bool, error) {
	switch a.flags.output {
	case "json":
		return true, nil
	case "text", "":
		return false, nil
	}
	return false, usagef("--output %q: want text or json", a.flags.output)
}

// target is where a command's AWS calls go: an AWS region of an environment,
// or the running local pipeline.
type target struct {
	cfg    aws.Config
	names  names.Names
	region string
	// local is the running local pipeline's state, with --local.
	local *local.State
	app   *app
}

// aws returns the target of region in AWS.
func (a *app) aws(ctx context.Context, region string) (target, error) {
	cfg, err := a.env.LoadAWS(ctx, region)
	if err != nil {
		return target{}, fmt.Errorf("load AWS configuration for %s: %w", region, err)
	}
	if err := checkCredentials(ctx, cfg); err != nil {
		return target{}, err
	}
	return target{cfg: cfg, names: a.names(), region: region, app: a}, nil
}

// target returns the local pipeline's target when useLocal (to read from:
// in two regions the one --region names, the primary by default), else the
// --region target in AWS.
func (a *app) target(ctx context.Context, useLocal bool) (target, error) {
	if !useLocal {
		return a.aws(ctx, a.region())
	}
	return a.localTarget(ctx, false)
}

// localReadTimeout bounds each call of a read from one region of the
// two-region local pipeline: its local AWS answers in milliseconds, or in a
// second or two under a drill's load, unless the region is cut.
const localReadTimeout = 10 * time.Second

// localTarget is the running local pipeline. To publish, it is the
// pipeline's entry (in two regions the global endpoint); to read, in two
// regions the one named by --region or TAP_REGION, else the primary.
func (a *app) localTarget(ctx context.Context, publish bool) (target, error) {
	st, err := local.ReadState(local.StatePath(a.env.Getenv))
	if err != nil {
		return target{}, err
	}
	res := st.Resources
	if !publish {
		// TAP_REGION counts only where there is a choice: exported for AWS
		// work, it must not break reads of a one-region pipeline.
		region := a.flags.region
		if region == "" && len(st.Regions) > 0 {
			region = a.env.Getenv(EnvRegion)
		}
		if res, err = st.ReadRegion(region); err != nil {
			return target{}, usagef("%v", err)
		}
	}
	cfg, err := awslocal.Config(ctx, res.Endpoint, res.Region)
	if err != nil {
		return target{}, err
	}
	if !publish && len(st.Regions) > 0 {
		// A region cut with `cut REGION hang` accepts connections and never
		// answers: a read gives up once, after localReadTimeout, and says
		// what to do (explain), rather than wait for the heal.
		cfg.HTTPClient = awshttp.NewBuildableClient().WithTimeout(localReadTimeout)
		cfg.RetryMaxAttempts = 1
	}
	st.Resources = res
	return target{cfg: cfg, names: names.For(st.Env), region: st.Region, local: &st, app: a}, nil
}

// where names the target for messages.
func (t target) where() string {
	if t.local != nil {
		if len(t.local.Regions) > 0 {
			return fmt.Sprintf("%s of the local pipeline (%s)", t.local.Region, t.local.Endpoint)
		}
		return fmt.Sprintf("the local pipeline (%s)", t.local.Endpoint)
	}
	return fmt.Sprintf("env %s in %s", t.names.Env, t.region)
}

// endpoint is a service's override from Env.Endpoints, or nil. The local
// target uses the local AWS for everything.
func (t target) endpoint(serviceID string) *string {
	if t.local != nil {
		return nil
	}
	if u, ok := t.app.env.Endpoints[serviceID]; ok {
		return &u
	}
	return nil
}

func (t target) dynamodb() *dynamodb.Client {
	return dynamodb.NewFromConfig(t.cfg, func(o *dynamodb.Options) {
		if u := t.endpoint(dynamodb.ServiceID); u != nil {
			o.BaseEndpoint = u
		}
	})
}

func (t target) sqs() *sqs.Client {
	return sqs.NewFromConfig(t.cfg, func(o *sqs.Options) {
		if u := t.endpoint(sqs.ServiceID); u != nil {
			o.BaseEndpoint = u
		}
	})
}

func (t target) eventbridge() *eventbridge.Client {
	return eventbridge.NewFromConfig(t.cfg, func(o *eventbridge.Options) {
		if u := t.endpoint(eventbridge.ServiceID); u != nil {
			o.BaseEndpoint = u
		}
	})
}

// cloudwatch speaks the awsQuery protocol rather than the SDK's default
// Smithy RPC v2 CBOR: CloudWatch accepts all three of its protocols, and
// emulators (moto 5.2, which the tests use) only the query one.
func (t target) cloudwatch() *cloudwatch.Client {
	return cloudwatch.NewFromConfig(t.cfg, func(o *cloudwatch.Options) {
		o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
		if u := t.endpoint(cloudwatch.ServiceID); u != nil {
			o.BaseEndpoint = u
		}
	})
}

func (t target) route53() *route53.Client {
	return route53.NewFromConfig(t.cfg, func(o *route53.Options) {
		if u := t.endpoint(route53.ServiceID); u != nil {
			o.BaseEndpoint = u
		}
	})
}

func (t target) cloudformation() *cloudformation.Client {
	return cloudformation.NewFromConfig(t.cfg, func(o *cloudformation.Options) {
		if u := t.endpoint(cloudformation.ServiceID); u != nil {
			o.BaseEndpoint = u
		}
	})
}

// table is the orders table of the target.
func (t target) table() string {
	if t.local != nil {
		return t.local.Table
	}
	return t.names.Table()
}

// bus is the event bus of the target.
func (t target) bus() string {
	if t.local != nil {
		return t.local.Bus
	}
	return t.names.Bus()
}

// store reads the target's orders table.
func (t target) store() *store.Store {
	return store.New(t.dynamodb(), t.table(), t.region, t.app.env.Now)
}

// stackOutputs reads the outputs of a deployed stack of the environment.
func (t target) stackOutputs(ctx context.Context, stack string) (map[string]string, error) {
	out, err := t.cloudformation().DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &stack})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "ValidationError" && strings.Contains(api.ErrorMessage(), "does not exist") {
			return nil, fmt.Errorf("stack %s is not deployed in %s (is --env %s right?)", stack, t.region, t.names.Env)
		}
		return nil, fmt.Errorf("read the outputs of stack %s: %w", stack, err)
	}
	if len(out.Stacks) == 0 {
		return nil, fmt.Errorf("stack %s is not deployed in %s", stack, t.region)
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return outputs, nil
}

// endpointID is the global endpoint's ID: the flag, TAP_ENDPOINT_ID, or the
// EndpointId output of the Failover stack (in the target's region, which
// must then be the primary).
func (t target) endpointID(ctx context.Context, flag string) (string, error) {
	if id := first(flag, t.app.env.Getenv(EnvEndpointID)); id != "" {
		return id, nil
	}
	outs, err := t.stackOutputs(ctx, t.names.FailoverStack())
	if err != nil {
		return "", fmt.Errorf("no global endpoint ID: pass --endpoint-id or set %s, deploy %s, or send to a regional bus with --bus (%v)",
			EnvEndpointID, t.names.FailoverStack(), err)
	}
	id := outs["EndpointId"]
	if id == "" {
		return "", fmt.Errorf("stack %s has no EndpointId output: pass --endpoint-id, or send to a regional bus with --bus", t.names.FailoverStack())
	}
	return id, nil
}

// first returns the first non-empty string.
func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
