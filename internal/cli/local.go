package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/processor"
)

// localFlags are tapctl local's flags.
type localFlags struct {
	awsEndpoint   string
	concurrency   int
	retryAttempts int
	maxEventAge   time.Duration
	retryBackoff  time.Duration
	timeout       time.Duration
	grace         time.Duration
	processorLog  string

	demo         bool
	orders       int
	duplicates   float64
	reorder      bool
	invalid      float64
	conflicts    float64
	seed         uint64
	drainTimeout time.Duration
}

func (a *app) localCmd() *cobra.Command {
	var f localFlags
	var two drillFlags
	cmd := &cobra.Command{
		Use:   "local [--demo]",
		Short: "Run the whole pipeline on this machine (moto), optionally with verified demo traffic",
		Long: `Run TAP's pipeline on loopback with no AWS account: start moto (or use
--aws-endpoint), create the orders table, the bus, the processor rule (the
same table schema and event pattern the CDK stacks deploy), both dead-letter
queues and an inbox queue the rule targets, and run the real processor behind
a local invoker with Lambda's asynchronous semantics: failed invocations are
retried --retry-attempts times with exponential backoff while younger than
--max-event-age, then recorded in the processing DLQ as Lambda's on-failure
destination does; invalid and conflicting events are dead-lettered by the
processor itself.

Events enter through EventBridge PutEvents, so the AWS CLI, any SDK, and
tapctl send --local publish into it; tapctl dlq list|redrive --local,
tapctl order get --local and tapctl account orders --local read it. Without
--demo it runs until Ctrl-C, printing each event's outcome.

--demo generates realistic order lifecycles (NEW, partial fills, replaces,
fills, cancels, expiries, rejections) with duplicates, reordering and invalid
events, publishes them with a progress bar, waits for the pipeline to drain,
prints a report (outcomes, throughput, publish-to-applied latency) and
verifies invariants I1 and I2 against the table and the DLQ; it exits 1 if
they do not hold.

The resources are named after --env (default "local", not TAP_ENV).
Ctrl-C stops cleanly: polling stops, events in flight get --grace to finish
(the rest are reported and stay in the inbox), moto is stopped.`,
		Example: `  # the README's demo
  tapctl local --demo

  # a bigger, rougher stream, repeatable
  tapctl local --demo --orders 200 --duplicates 0.3 --invalid 0.1 --conflicts 0.02 --seed 7

  # keep it running (it prints its endpoint), and from another terminal publish and read back
  tapctl local
  tapctl send --local --file examples/lifecycle.jsonl
  tapctl order get ORD-1001 --local

  # on a moto you started, so the endpoint is known in advance
  moto_server -p 5000 &
  tapctl local --aws-endpoint http://127.0.0.1:5000
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws events put-events \
    --endpoint-url http://127.0.0.1:5000 --region us-east-1 --entries file://examples/put-events.json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			if err := f.validate(); err != nil {
				return err
			}
			if two.regions != "" {
				if f.demo || f.awsEndpoint != "" {
					return usagef("--regions runs its own two local AWS servers: it takes neither --demo (see tapctl local drill) nor --aws-endpoint")
				}
				return a.runRegions(cmd.Context(), two, f.concurrency, f.processorLog)
			}
			env := local.DefaultEnv
			if a.flags.env != "" {
				env = a.flags.env
			}
			return a.runLocal(cmd.Context(), f, env, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.awsEndpoint, "aws-endpoint", "", "use this running local AWS (moto) instead of starting one")
	fl.IntVar(&f.concurrency, "concurrency", 4, "events processed at once (the local stand-in for Lambda concurrency)")
	fl.IntVar(&f.retryAttempts, "retry-attempts", 2, "retries of a failed invocation, 0 to 2 (Lambda's MaximumRetryAttempts)")
	fl.DurationVar(&f.maxEventAge, "max-event-age", 6*time.Hour, "oldest an event may get before it is dead-lettered untried (Lambda's MaximumEventAge)")
	fl.DurationVar(&f.retryBackoff, "retry-backoff", 500*time.Millisecond, "delay before the first retry, doubling per retry (Lambda waits minutes)")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "limit of one invocation (the function timeout)")
	fl.DurationVar(&f.grace, "grace", 5*time.Second, "on Ctrl-C, how long events in flight may take to finish")
	fl.StringVar(&f.processorLog, "processor-log", "", "file for the processor's JSON logs and EMF metrics; - for stderr (default: a file next to the state file)")
	fl.BoolVar(&f.demo, "demo", false, "publish generated order lifecycles, report, verify I1 and I2, and exit")
	fl.IntVar(&f.orders, "orders", 50, "demo: order lifecycles to generate")
	fl.Float64Var(&f.duplicates, "duplicates", 0.1, "demo: probability an event is delivered again")
	fl.BoolVar(&f.reorder, "reorder", true, "demo: shuffle deliveries (--reorder=false keeps transactTime order)")
	fl.Float64Var(&f.invalid, "invalid", 0.05, "demo: invalid events added, as a fraction of the events")
	fl.Float64Var(&f.conflicts, "conflicts", 0, "demo: events reusing another's (orderId, seq), as a fraction of the events")
	fl.Uint64Var(&f.seed, "seed", 0, "demo: generator seed, to repeat a run (default: from the clock)")
	fl.DurationVar(&f.drainTimeout, "drain-timeout", time.Minute, "demo: how long to wait for the pipeline to settle every event")
	two.register(cmd, false)
	cmd.AddCommand(a.localDrillCmd())
	return cmd
}

func (f localFlags) validate() error {
	switch {
	case f.concurrency < 1:
		return usagef("--concurrency must be at least 1")
	case f.retryAttempts < 0 || f.retryAttempts > 2:
		return usagef("--retry-attempts %d: Lambda allows 0 to 2", f.retryAttempts)
	case f.maxEventAge < time.Second || f.retryBackoff <= 0 || f.timeout <= 0 || f.grace < 0:
		return usagef("--max-event-age must be at least 1s, --retry-backoff and --timeout positive, --grace not negative")
	case f.orders < 1:
		return usagef("--orders must be at least 1")
	case !fraction(f.duplicates) || !fraction(f.invalid) || !fraction(f.conflicts):
		return usagef("--duplicates, --invalid and --conflicts are fractions from 0 to 1")
	case f.drainTimeout <= 0:
		return usagef("--drain-timeout must be positive")
	}
	return nil
}

func fraction(p float64) bool { return p >= 0 && p <= 1 }

func (a *app) runLocal(ctx context.Context, f localFlags, env string, asJSON bool) (err error) {
	statePath := local.StatePath(a.env.Getenv)
	// Refuse before starting anything: a second pipeline must not touch the
	// running one's moto, state file or processor log.
	if err := local.CheckFree(statePath, a.env.PID()); err != nil {
		return err
	}
	procOut := &pendingLog{}
	cfg := local.Config{
		AWSEndpoint: f.awsEndpoint, Region: local.DefaultRegion, Env: env, ProcessorOutput: procOut,
		// The bus's archive, as deployed: tapctl replay --local replays it.
		Archive: true,
		Invoker: local.InvokerConfig{
			Concurrency: f.concurrency, RetryAttempts: f.retryAttempts, MaxEventAge: f.maxEventAge,
			RetryBackoff: f.retryBackoff, Timeout: f.timeout,
			OnError: func(err error) { fmt.Fprintf(a.env.Stderr, "local invoker: %v\n", err) },
		},
	}
	if a.flags.region != "" {
		cfg.Region = a.flags.region
	}
	fmt.Fprintln(a.env.Stderr, "starting the local pipeline...")
	p, err := local.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	st := local.State{Resources: p.Resources, PID: a.env.PID(), StartedAt: a.env.Now().UTC()}
	if err := local.WriteState(statePath, st); err != nil {
		return err
	}
	defer local.RemoveState(statePath, st.PID)
	logName, closeLog, err := a.processorLog(f.processorLog, statePath, procOut)
	if err != nil {
		return err
	}
	defer closeLog()
	a.writeLocalBanner(p, logName, statePath, f.demo)

	// The invoker runs until Ctrl-C, or until the demo is done.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(runCtx, f.grace) }()
	stopInvoker := func() error {
		stop()
		err := <-runErr
		if n := p.Invoker.Stats().Outcomes[local.OutcomeUnfinished]; n > 0 {
			fmt.Fprintf(a.env.Stderr, "stopped with %s in flight not finished: they stay in the inbox, neither applied nor dead-lettered\n", plural(n, "event"))
		}
		return err
	}

	if !f.demo {
		unsubscribe := p.Subscribe(func(r local.Result) { a.writeOutcome(r) })
		defer unsubscribe()
		select {
		case <-ctx.Done():
			fmt.Fprintln(a.env.Stderr, "\nstopping...")
		case err := <-runErr:
			runErr <- err // stopInvoker reads it
		}
		if err := stopInvoker(); err != nil {
			return err
		}
		s := p.Invoker.Stats()
		fmt.Fprintf(a.env.Stderr, "stopped: %d events received, %d settled%s\n", s.Received, s.Settled(), moto(p))
		return nil
	}

	rep, derr := local.RunDemo(ctx, p, local.DemoConfig{
		Orders: f.orders, Seed: f.seed, Duplicates: f.duplicates, Reorder: f.reorder,
		Invalid: f.invalid, Conflicts: f.conflicts, DrainTimeout: f.drainTimeout,
		Progress: a.env.Stderr,
	})
	serr := stopInvoker()
	if derr != nil {
		return derr
	}
	if asJSON {
		if err := writeJSON(a.env.Stdout, rep); err != nil {
			return err
		}
	} else {
		rep.WriteText(a.env.Stdout)
	}
	if serr != nil {
		return serr
	}
	if !rep.OK() {
		return failed()
	}
	return nil
}

func moto(p *local.Pipeline) string {
	if p.StartedMoto() {
		return "; moto stopped"
	}
	return ""
}

// processorLog opens where the processor's logs go and attaches it to out.
// It appends: the file may hold an earlier run's log, which is kept.
func (a *app) processorLog(flag, statePath string, out *pendingLog) (string, func(), error) {
	switch flag {
	case "-":
		return "stderr", func() {}, out.attach(a.env.Stderr)
	case "":
		flag = defaultProcessorLog(statePath)
	}
	if err := os.MkdirAll(filepath.Dir(flag), 0o700); err != nil {
		return "", nil, fmt.Errorf("processor log: %w", err)
	}
	fh, err := os.OpenFile(flag, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("processor log: %w", err)
	}
	if err := out.attach(fh); err != nil {
		fh.Close()
		return "", nil, fmt.Errorf("processor log %s: %w", flag, err)
	}
	return flag + " (appended)", func() { fh.Close() }, nil
}

// defaultProcessorLog is where tapctl local writes the processor's log
// unless --processor-log says otherwise: beside the state file.
func defaultProcessorLog(statePath string) string {
	return strings.TrimSuffix(statePath, filepath.Ext(statePath)) + "-processor.log"
}

// pendingLog holds the processor's output until its log is open. The log is
// opened only once the pipeline has started and recorded its state, so a
// refused or failed start never touches the log of a pipeline that is running.
type pendingLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
	w   io.Writer
}

func (l *pendingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil {
		return l.buf.Write(p)
	}
	return l.w.Write(p)
}

// attach sends what was held, and everything after it, to w.
func (l *pendingLog) attach(w io.Writer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w = w
	_, err := l.buf.WriteTo(w)
	return err
}

// writeLocalBanner tells the user where everything is and how to publish.
func (a *app) writeLocalBanner(p *local.Pipeline, logName, statePath string, demo bool) {
	r := p.Resources
	w := a.env.Stderr
	started := "started by tapctl, stopped on exit"
	if !p.StartedMoto() {
		started = "external"
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "AWS endpoint\t%s (moto, %s)\n", r.Endpoint, started)
	fmt.Fprintf(tw, "region / env\t%s / %s\n", r.Region, r.Env)
	fmt.Fprintf(tw, "bus\t%s\n", r.Bus)
	fmt.Fprintf(tw, "table\t%s\n", r.Table)
	fmt.Fprintf(tw, "processing DLQ\t%s\n", r.ProcessingDLQURL)
	fmt.Fprintf(tw, "delivery DLQ\t%s\n", r.DeliveryDLQURL)
	fmt.Fprintf(tw, "processor log\t%s\n", logName)
	fmt.Fprintf(tw, "state file\t%s\n", statePath)
	tw.Flush()
	if demo {
		fmt.Fprintln(w)
		return
	}
	entries := "file://examples/put-events.json"
	if r.Bus != names.For(local.DefaultEnv).Bus() {
		// examples/put-events.json addresses the default env's bus.
		entries = fmt.Sprintf(`'[{"EventBusName":"%s","Source":"tap.trading","DetailType":"Heartbeat","Detail":"{\"region\":\"%s\",\"sentAt\":\"2026-01-05T14:30:00Z\"}"}]'`, r.Bus, r.Region)
	}
	fmt.Fprintf(w, `
From the repository root, in another terminal, publish the example order and read it back:
  tapctl send --local --file examples/lifecycle.jsonl
  tapctl order get ORD-1001 --local
or publish with the AWS CLI (any credentials do; moto ignores them):
  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s aws events put-events \
    --endpoint-url %s --region %s --entries %s
rejected events:  tapctl dlq list --queue processing --local
Ctrl-C stops the pipeline.

`, awslocal.AccessKeyID, awslocal.SecretAccessKey, r.Endpoint, r.Region, entries)
}

// writeOutcome prints one settled event.
func (a *app) writeOutcome(r local.Result) {
	id := "event " + r.EventID
	switch {
	case r.EventID != "":
	case r.Outcome == string(processor.Heartbeat):
		id = "recorded" // heartbeats have no eventId
	default:
		id = "event without an eventId"
	}
	line := fmt.Sprintf("%s  %-10s %s", r.Done.UTC().Format("15:04:05.000"), r.Outcome, id)
	if r.Invokes > 1 {
		line += fmt.Sprintf(" after %d invocations", r.Invokes)
	}
	if r.Reason != "" {
		line += fmt.Sprintf(": %s: %s", r.Reason, r.Message)
	}
	if r.Err != nil {
		line += ": " + r.Err.Error()
	}
	fmt.Fprintln(a.env.Stdout, line)
}
