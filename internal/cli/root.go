// Package cli is tapctl, TAP's operator and developer command line (DESIGN
// §7–§8): one file per subcommand, every output written to the injected Env's
// writers and every AWS client built from its config loader, so each command
// runs in tests against moto or a loopback server.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Env is everything a tapctl run takes from its surroundings.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads environment variables (TAP_*, TAPCTL_STATE).
	Getenv func(string) string
	// Now is the clock.
	Now func() time.Time
	// LoadAWS loads the SDK config of a region for AWS (not local) commands.
	// Default: the SDK's default chain (env, profile, SSO, role).
	LoadAWS func(ctx context.Context, region string) (aws.Config, error)
	// Endpoints overrides the endpoint of single services by SDK service ID
	// ("EventBridge", "Route 53", ...), after LoadAWS; tests point the
	// services moto lacks at a loopback server with it.
	Endpoints map[string]string
	// Interactive says stderr is a terminal: progress bars are drawn only
	// there; elsewhere long steps print plain periodic lines.
	Interactive bool
	// PID is the process ID a local pipeline records as its owner. Default
	// os.Getpid.
	PID func() int
}

// DefaultEnv is the Env of the real process.
func DefaultEnv() Env {
	return Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Now: time.Now,
		LoadAWS:     defaultLoadAWS(os.Stderr),
		Interactive: isTerminal(os.Stderr),
		PID:         os.Getpid,
	}
}

func (e Env) withDefaults() Env {
	d := DefaultEnv()
	if e.Stdin == nil {
		e.Stdin = strings.NewReader("")
	}
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	if e.Stderr == nil {
		e.Stderr = io.Discard
	}
	if e.Getenv == nil {
		e.Getenv = func(string) string { return "" }
	}
	if e.Now == nil {
		e.Now = d.Now
	}
	if e.LoadAWS == nil {
		e.LoadAWS = defaultLoadAWS(e.Stderr)
	}
	if e.PID == nil {
		e.PID = os.Getpid
	}
	return e
}

// defaultLoadAWS loads the SDK's default configuration: environment, shared
// config and credentials files, SSO, container and instance roles. The SDK's
// log goes to stderr without the IMDS client's "falling back to IMDSv1"
// warning, which every machine outside EC2 prints on the way to the one
// clear error about missing credentials (see checkCredentials).
func defaultLoadAWS(stderr io.Writer) func(context.Context, string) (aws.Config, error) {
	logger := logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		if c == logging.Warn && strings.HasPrefix(format, "falling back to IMDSv1") {
			return
		}
		fmt.Fprintf(stderr, "SDK %s %s\n", c, fmt.Sprintf(format, v...))
	})
	return func(ctx context.Context, region string) (aws.Config, error) {
		return config.LoadDefaultConfig(ctx, config.WithRegion(region), config.WithLogger(logger))
	}
}

// Main runs tapctl with args (without the program name) and returns the
// exit code. Errors go to env.Stderr with what to do about them.
func Main(ctx context.Context, args []string, env Env) int {
	a := &app{env: env.withDefaults()}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(a.env.Stdin)
	root.SetOut(a.env.Stdout)
	root.SetErr(a.env.Stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var exit *exitError
	if errors.As(err, &exit) {
		return exit.code
	}
	if isUsage(err) {
		fmt.Fprintf(a.env.Stderr, "tapctl: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return ExitUsage
	}
	fmt.Fprintf(a.env.Stderr, "tapctl: %v\n", explain(err))
	return ExitFailure
}

// app is one tapctl run: its environment and global flags.
type app struct {
	env   Env
	flags globalFlags
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tapctl",
		Short: "Operate TAP in AWS, and run the whole pipeline on this machine",
		Long: `tapctl is the operator and developer command line of TAP, the Trading
Activity Pipeline: it publishes events, reads order state, redrives
dead-letter queues, drills the regional failover, and runs the whole pipeline
locally on moto with no AWS account.

Settings come from flags, then the environment (TAP_ENV, TAP_REGION,
TAP_SECONDARY_REGION, TAP_ENDPOINT_ID, and the AWS SDK's own AWS_PROFILE,
AWS_REGION, credentials...), then the deployed stacks' outputs
(Tap-<env>-Data, Tap-<env>-Processing-<region>, Tap-<env>-Failover).

Exit codes: 0 success, 1 failure, 2 usage error.`,
		Example: `  # the pipeline on this machine, with demo traffic and a verified report
  tapctl local --demo

  # publish events through the global endpoint of env dev
  tapctl send --env dev --file examples/lifecycle.jsonl

  # what is in the processing dead-letter queue, and send it back
  tapctl dlq list --queue processing
  tapctl dlq redrive --queue processing`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          usageArgs(cobra.NoArgs),
		RunE:          needSubcommand,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	a.flags.register(root)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		a.localCmd(),
		a.sendCmd(),
		a.loadCmd(),
		a.dlqCmd(),
		a.failoverCmd(),
		a.orderCmd(),
		a.accountCmd(),
		a.replayCmd(),
		a.verifyCmd(),
	)
	return root
}

// needSubcommand is the RunE of commands that only group others.
func needSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
	}
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return usageError{fmt.Errorf("%s needs a command: %s", cmd.CommandPath(), strings.Join(names, ", "))}
}

// usageError is a command-line mistake: exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func isUsage(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	// Cobra's own messages for unknown commands and bad argument counts.
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand flag")
}

// usageArgs makes an argument validator's errors usage errors.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// oneArg accepts exactly one positional argument and names it when it is
// missing or repeated.
func oneArg(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch len(args) {
		case 1:
			return nil
		case 0:
			return usagef("%s needs %s", cmd.CommandPath(), name)
		}
		return usagef("%s takes one %s, got %d arguments: %s", cmd.CommandPath(), name, len(args), strings.Join(args, " "))
	}
}

// exitError ends the run with a code after the command has already said why
// (e.g. a failed verification whose report is printed).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// failed is the error of a command that printed its own failure report.
func failed() error { return &exitError{code: ExitFailure} }
