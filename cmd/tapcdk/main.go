// Command tapcdk is TAP's CDK app: it loads the configuration, builds the
// processor's bootstrap once, creates every stack with an explicit
// account/region and synthesizes them. `cdk synth|diff|deploy` run it through
// cdk.json; `make synth` runs it directly, offline, with the same context.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/infra/bundle"
	"github.com/tap-trading/tap/internal/stacks"
)

func main() {
	err := run(os.Stdout, os.Stderr)
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tapcdk:", err)
		os.Exit(1)
	}
}

func run(stdout, stderr io.Writer) error {
	props := &awscdk.AppProps{}
	// The CDK CLI passes the context of cdk.json + cdk.context.json (+ -c) in
	// CDK_CONTEXT_JSON (or a file named by CONTEXT_OVERFLOW_LOCATION_ENV).
	// Without it, read the same files, so `make synth` and `cdk synth` agree.
	if os.Getenv("CDK_CONTEXT_JSON") == "" && os.Getenv("CONTEXT_OVERFLOW_LOCATION_ENV") == "" {
		ctx, err := config.ContextFiles(".")
		if err != nil {
			return err
		}
		props.Context = &ctx
	}
	// The App itself takes CDK_OUTDIR when set (as the CLI and make do).
	if os.Getenv("CDK_OUTDIR") == "" {
		props.Outdir = jsii.String("cdk.out")
	}
	app := awscdk.NewApp(props)

	cfg, err := config.FromCDK(app.Node(), os.Environ())
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, w)
	}

	root, err := bundle.ModuleRoot(".")
	if err != nil {
		return err
	}
	buildDir, err := os.MkdirTemp("", "tap-bootstrap-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(buildDir) // synthesis copies the asset into the cloud assembly
	assetDir, err := bundle.Build(context.Background(), root, buildDir)
	if err != nil {
		return err
	}

	stacks.NewAll(app, cfg, assetDir)
	assembly := app.Synth(nil)

	fmt.Fprintf(stdout, "synthesized TAP (%s) to %s:\n", cfg.Describe(), *assembly.Directory())
	for _, s := range *assembly.Stacks() {
		fmt.Fprintf(stdout, "  %-36s %-10s %s\n", *s.StackName(), *s.Environment().Region,
			filepath.Join(*assembly.Directory(), *s.TemplateFile()))
	}
	return nil
}
