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
	// provisioned is a second app: provisioned billing and reserved concurrency.
	provisioned struct {
		cfg        config.Config
		data, proc assertions.Template
	}
)

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
	pctx[config.KeyBillingMode] = "provisioned"
	pctx[config.KeyReadCapacityMin], pctx[config.KeyReadCapacityMax] = "2", "40"
	pctx[config.KeyWriteCapacityMin], pctx[config.KeyWriteCapacityMax] = "3", "50"
	pctx[config.KeyProcessorReservedConcurrency] = "7"
	if provisioned.cfg, err = config.Load(pctx, env); err != nil {
		return 0, err
	}
	papp := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(tmp, "provisioned.out")), Context: &pctx})
	pdata := NewData(papp, provisioned.cfg)
	pproc := NewProcessing(papp, provisioned.cfg, provisioned.cfg.PrimaryRegion, asset)
	papp.Synth(nil)
	provisioned.data = assertions.Template_FromStack(pdata.Stack, nil)
	provisioned.proc = assertions.Template_FromStack(pproc.Stack, nil)

	return m.Run(), nil
}
