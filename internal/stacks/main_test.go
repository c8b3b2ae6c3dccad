package stacks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/infra/bundle"
)

// Synthesis through jsii is slow, so the test binary builds the bootstrap and
// synthesizes each app once; tests share the results read-only.
var (
	// cfg is the configuration `make synth` uses (cdk.json context), plus an
	// alert email.
	cfg config.Config
	// set is the default app's stacks, synthesized into outDir with cdk-nag's
	// AwsSolutions pack applied.
	set    Set
	outDir string
	// tpl holds each stack's template by stack name.
	tpl = map[string]assertions.Template{}
	// nondefault is a second app with every stack, on a configuration that
	// differs from the default in each setting a deployspec value comes from
	// (nondefaultContext, the -c overrides a twin scenario may use), plus
	// provisioned billing and reserved concurrency. Its table is strongly
	// consistent (MRSC) with a third replica.
	nondefault app
	// strong is a third app: the default configuration with a strongly
	// consistent table, whose witness is then us-east-2 by default. cdk-nag
	// runs on it too.
	strong app
)

// app is one synthesized app besides the default one.
type app struct {
	cfg        config.Config
	set        Set
	data, proc assertions.Template // Data, and Processing in the primary
	// tpl and templates hold each stack's template by stack name.
	tpl       map[string]assertions.Template
	templates map[string]map[string]any
	// outDir is the cloud assembly it was synthesized to.
	outDir string
}

// strongContext are the -c overrides of the strong app.
var strongContext = map[string]any{config.KeyTableConsistency: "strong"}

// nondefaultContext are the -c overrides of the nondefault app.
var nondefaultContext = map[string]any{
	config.KeyBillingMode:                  "provisioned",
	config.KeyReadCapacityMin:              "2",
	config.KeyReadCapacityMax:              "40",
	config.KeyWriteCapacityMin:             "3",
	config.KeyWriteCapacityMax:             "50",
	config.KeyProcessorReservedConcurrency: "7",
	config.KeyEnv:                          "scn",
	config.KeyPrimaryRegion:                "eu-west-1",
	config.KeySecondaryRegion:              "eu-central-1",
	config.KeyTargetMaxEventAgeSeconds:     "60",
	config.KeyTargetRetryAttempts:          "3",
	config.KeyHealthCheckInsufficientData:  "LastKnownStatus",
	config.KeyDLQRetentionDays:             "4",
	config.KeyProcessorTimeoutSeconds:      "10",
	config.KeyAsyncRetryAttempts:           "0",
	config.KeyAsyncMaxEventAgeSeconds:      "120",
	config.KeyTableConsistency:             "strong",
	// The EU set has two regions besides the replicas, so TAP cannot
	// default one.
	config.KeyMRSCThirdRegion:     "eu-west-3",
	config.KeyMRSCThirdRegionRole: "replica",
}

func TestMain(m *testing.M) {
	code, err := setup(m)
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stacks test setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	root, err := bundle.ModuleRoot(".")
	if err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "tap-stacks-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	asset, err := bundle.Build(context.Background(), root, filepath.Join(tmp, "bootstrap"))
	if err != nil {
		return 0, err
	}

	ctx, err := config.ContextFiles(root)
	if err != nil {
		return 0, err
	}
	env := map[string]string{config.EnvAlertEmail: "ops@example.com"}
	if cfg, err = config.Load(ctx, env); err != nil {
		return 0, err
	}
	outDir = filepath.Join(tmp, "cdk.out")
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outDir), Context: &ctx})
	set = NewAll(app, cfg, asset)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
	for _, s := range set.All() {
		tpl[*s.StackName()] = assertions.Template_FromStack(s, nil)
	}

	if nondefault, err = synth(ctx, nondefaultContext, env, asset, filepath.Join(tmp, "nondefault.out"), false); err != nil {
		return 0, err
	}
	if strong, err = synth(ctx, strongContext, env, asset, filepath.Join(tmp, "strong.out"), true); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// synth loads the configuration of ctx with overrides, synthesizes every
// stack of it into outDir, with cdk-nag's AwsSolutions pack when nag is set.
func synth(ctx, overrides map[string]any, env map[string]string, asset, outDir string, nag bool) (app, error) {
	pctx := map[string]any{}
	for k, v := range ctx {
		pctx[k] = v
	}
	for k, v := range overrides {
		pctx[k] = v
	}
	a := app{outDir: outDir}
	var err error
	if a.cfg, err = config.Load(pctx, env); err != nil {
		return a, err
	}
	cdkApp := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outDir), Context: &pctx})
	a.set = NewAll(cdkApp, a.cfg, asset)
	if nag {
		awscdk.Aspects_Of(cdkApp).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	}
	cdkApp.Synth(nil)
	a.tpl, a.templates = map[string]assertions.Template{}, map[string]map[string]any{}
	for _, s := range a.set.All() {
		t := assertions.Template_FromStack(s, nil)
		a.tpl[*s.StackName()], a.templates[*s.StackName()] = t, *t.ToJSON()
	}
	a.data = a.tpl[*a.set.Data.StackName()]
	a.proc = a.tpl[*a.set.Processing[0].StackName()]
	return a, nil
}
