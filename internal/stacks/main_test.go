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
	// provisioned billing and reserved concurrency.
	nondefault struct {
		cfg        config.Config
		set        Set
		data, proc assertions.Template // Data, and Processing in the primary
		// tpl and templates hold each stack's template by stack name.
		tpl       map[string]assertions.Template
		templates map[string]map[string]any
	}
)

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

	pctx := map[string]any{}
	for k, v := range ctx {
		pctx[k] = v
	}
	for k, v := range nondefaultContext {
		pctx[k] = v
	}
	if nondefault.cfg, err = config.Load(pctx, env); err != nil {
		return 0, err
	}
	papp := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(tmp, "nondefault.out")), Context: &pctx})
	nondefault.set = NewAll(papp, nondefault.cfg, asset)
	papp.Synth(nil)
	nondefault.tpl, nondefault.templates = map[string]assertions.Template{}, map[string]map[string]any{}
	for _, s := range nondefault.set.All() {
		t := assertions.Template_FromStack(s, nil)
		nondefault.tpl[*s.StackName()], nondefault.templates[*s.StackName()] = t, *t.ToJSON()
	}
	nondefault.data = nondefault.tpl[*nondefault.set.Data.StackName()]
	nondefault.proc = nondefault.tpl[*nondefault.set.Processing[0].StackName()]

	return m.Run(), nil
}
