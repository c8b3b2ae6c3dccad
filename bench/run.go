// Package bench is TAP's benchmark harness (issue 5, DESIGN §9): it measures
// the Go processor against the seed's Node.js processor (the peer) in one run,
// on the same machine, the same moto server and the same events, both driven
// through a loopback Lambda Runtime API, and renders BENCHMARKS.md.
//
// The peer is never part of the repository: BuildPeer installs and bundles it
// from ../shared into the ignored .cache/ folder.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/processor"
)

// Config is one benchmark run.
type Config struct {
	// RepoRoot is the module root.
	RepoRoot string
	// Processor is the package built into TAP's bootstrap: ./cmd/processor.
	Processor string
	// CacheDir holds the built peer, the bootstrap and logs; git ignores it.
	CacheDir string
	// PeerSrc is the peer's directory: ../shared/peers/seed-node-processor.
	PeerSrc string
	Plan    Plan
	// Seed chooses the generated events.
	Seed   uint64
	Region string
	// TapMemoryMB and PeerMemoryMB are the deployed memory sizes: they set
	// AWS_LAMBDA_FUNCTION_MEMORY_SIZE and price the cost estimate.
	TapMemoryMB, PeerMemoryMB int
	// MicroCount is go test -count for the micro-benchmarks.
	MicroCount int
	// BaseRev is the git revision whose processor is measured as "before"
	// in the cost model (the processor before issue 15).
	BaseRev string
	Log     Logf
}

// PeerTracingNote is why the peer runs with POWERTOOLS_TRACE_ENABLED=false.
// In Lambda (AWS_EXECUTION_ENV set) Powertools v1 turns tracing on, and the
// seed's tracer.captureAWSClient — the AWS SDK v2 API — applied to its SDK v3
// client throws during init, so the function never handles an event.
const PeerTracingNote = "With tracing on — Powertools turns it on wherever `AWS_EXECUTION_ENV` is set, as in Lambda — " +
	"the seed fails at init: `tracer.captureAWSClient` is Powertools' AWS SDK **v2** API and the seed passes it an SDK v3 " +
	"client (`Runtime.TypeError: service.customizeRequests is not a function`), so deployed it would handle no event at all. " +
	"The peer therefore runs with `POWERTOOLS_TRACE_ENABLED=false` and does no tracing work, which flatters it."

// Sides' labels in the report.
const (
	TapName  = "TAP (Go)"
	PeerName = "peer (Node.js)"
)

// Run builds both sides, measures them and verifies what they wrote, then
// runs the cost model's passes, the interleaved rounds of TAP against the SDK
// floor, the CPU profiles and the micro-benchmarks. It fails if either side
// reported an error, exited, or left a different number of items than it was
// sent events; a profile that cannot be taken only says so in the report.
func Run(ctx context.Context, cfg Config) (Report, error) {
	began := time.Now()
	log := cfg.Log
	rep := Report{Plan: cfg.Plan, Machine: machine(ctx)}
	rep.Machine.Date = began

	peer, err := BuildPeer(ctx, cfg.PeerSrc, cfg.CacheDir, log)
	if err != nil {
		return rep, err
	}
	bootstrap, err := BuildBootstrap(ctx, cfg.RepoRoot, cfg.Processor, cfg.CacheDir, log)
	if err != nil {
		return rep, err
	}
	rep.Tap = SideResult{Name: TapName, Arch: "arm64", MemoryMB: cfg.TapMemoryMB, ArtifactWhat: "bootstrap"}
	rep.Peer = SideResult{Name: PeerName, Arch: "x86_64", MemoryMB: cfg.PeerMemoryMB, ArtifactWhat: "index.js"}
	if rep.Tap.Artifact, err = ZipSize(bootstrap, "bootstrap"); err != nil {
		return rep, err
	}
	if rep.Peer.Artifact, err = ZipSize(peer.Bundle, "index.js"); err != nil {
		return rep, err
	}

	log("moto: starting")
	moto, err := motoserver.Start(ctx, filepath.Join(cfg.CacheDir, "moto.log"))
	if err != nil {
		return rep, err
	}
	defer moto.Stop()
	awsCfg, err := awslocal.Config(ctx, moto.Endpoint, cfg.Region)
	if err != nil {
		return rep, err
	}
	db, q := dynamodb.NewFromConfig(awsCfg), sqs.NewFromConfig(awsCfg)
	res, err := Setup(ctx, db, q)
	if err != nil {
		return rep, err
	}
	events, orders := Events(cfg.Seed, cfg.Plan.Total(), cfg.Region)
	log("moto: %s; tables %s and %s; %d events over %d orders", moto.Endpoint, res.TapTable, res.PeerTable, len(events), orders)

	front, err := StartKeepAliveFront(moto.Endpoint)
	if err != nil {
		return rep, err
	}
	defer front.Close()
	sdkEnv := awslocal.Env(front.Endpoint, cfg.Region)
	n := names.For(env)
	tapRT := Runtime{
		Name: TapName, Path: bootstrap, Dir: filepath.Dir(bootstrap), Handler: "bootstrap",
		MemoryMB: cfg.TapMemoryMB, FunctionName: n.Processor(),
		Env: append([]string{
			processor.EnvTableName + "=" + res.TapTable,
			processor.EnvProcessingDLQURL + "=" + res.DLQURL,
			processor.EnvServiceName + "=" + n.ServiceName(),
			processor.EnvMetricsNamespace + "=" + n.MetricsNamespace(),
			processor.EnvLogLevel + "=INFO",
		}, sdkEnv...),
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return rep, fmt.Errorf("node not found on PATH: %w", err)
	}
	peerRT := Runtime{
		Name: PeerName, Path: node, Args: []string{peer.Runtime}, Dir: filepath.Dir(peer.Bundle),
		Handler: "index.handler", MemoryMB: cfg.PeerMemoryMB, FunctionName: "trading-event-processor",
		// The seed stack's environment, plus what Lambda's Node.js runtime sets,
		// with tracing off: see PeerTracingNote.
		Env: append([]string{
			"TABLE_NAME=" + res.PeerTable,
			"POWERTOOLS_SERVICE_NAME=trading-event-processor",
			"POWERTOOLS_LOGGER_LOG_LEVEL=INFO",
			"POWERTOOLS_METRICS_NAMESPACE=TradingSystem",
			"AWS_EXECUTION_ENV=AWS_Lambda_nodejs20.x",
			"POWERTOOLS_TRACE_ENABLED=false",
		}, sdkEnv...),
	}

	pl := cfg.Plan
	tapCur, peerCur := NewCursor(events), NewCursor(events)
	// Phases alternate between the sides so drift in the machine's load hits both alike.
	steps := []struct {
		name string
		run  func(rt Runtime, cur *Cursor, side *SideResult) error
	}{
		{"cold starts", func(rt Runtime, cur *Cursor, side *SideResult) (err error) {
			side.Cold, err = MeasureColdStarts(ctx, rt, cur, pl.ColdStarts, log)
			return err
		}},
		{"1 in flight", func(rt Runtime, cur *Cursor, side *SideResult) (err error) {
			mark := front.Mark()
			side.Seq, err = MeasurePhase(ctx, rt, cur, 1, pl.Warmup, pl.Events, log)
			side.SeqCalls = front.Since(mark)
			return err
		}},
		{fmt.Sprintf("%d in flight", pl.InFlight), func(rt Runtime, cur *Cursor, side *SideResult) (err error) {
			side.Conc, err = MeasurePhase(ctx, rt, cur, pl.InFlight, pl.Warmup*pl.InFlight, pl.Events, log)
			return err
		}},
	}
	for _, st := range steps {
		log("%s: %s", PeerName, st.name)
		if err := st.run(peerRT, peerCur, &rep.Peer); err != nil {
			return rep, err
		}
		log("%s: %s", TapName, st.name)
		if err := st.run(tapRT, tapCur, &rep.Tap); err != nil {
			return rep, err
		}
	}

	log("verify: counting items")
	counts, err := Count(ctx, db, q, res)
	if err != nil {
		return rep, err
	}
	if rep.Verified, err = verify(counts, tapCur.Used(), peerCur.Used(), orders); err != nil {
		return rep, err
	}

	first := pl.ColdStarts
	tapA := Analyze(rep.Tap.Seq, rep.Tap.SeqCalls)
	// TAP's table had the cold starts' events before this phase.
	tapA.Created = Created(events[:first+pl.Warmup], events[first+pl.Warmup:first+pl.Warmup+pl.Events])
	roundEvents, _ := Events(cfg.Seed, pl.Warmup+pl.RoundEvents, cfg.Region)
	rep.Deployed, err = measureDeployed(ctx, deployedEnv{
		cfg: cfg, front: front, motoURL: moto.Endpoint, tapRT: tapRT, res: res,
		events: events[first : first+pl.Warmup+pl.Events], roundEvents: roundEvents, orders: orders, log: log,
		tapA:  tapA,
		peerA: Analyze(rep.Peer.Seq, rep.Peer.SeqCalls),
	})
	if err != nil {
		return rep, err
	}
	rep.Verified = append(rep.Verified, fmt.Sprintf("in each of the %d interleaved rounds TAP's fresh table holds exactly %d execution items and one order state per order",
		len(rep.Deployed.Rounds), len(roundEvents)))

	// A profile that cannot be taken says why in the report; it never fails the run.
	rep.Profiles = RunProfiles(ctx, cfg.RepoRoot, cfg.CacheDir, pl.ProfileIterations, log)

	if rep.Micro, err = RunMicro(ctx, cfg.RepoRoot, cfg.CacheDir, cfg.MicroCount, log); err != nil {
		return rep, err
	}
	rep.Elapsed = time.Since(began)
	return rep, nil
}

// verify checks that each side applied every event it was sent exactly once.
func verify(c Counts, tapSent, peerSent, orders int) ([]string, error) {
	var errs []string
	if tapSent != peerSent {
		errs = append(errs, fmt.Sprintf("the sides were sent different numbers of events: TAP %d, peer %d", tapSent, peerSent))
	}
	if c.TapExecutions != tapSent {
		errs = append(errs, fmt.Sprintf("TAP's table holds %d execution items for %d events", c.TapExecutions, tapSent))
	}
	if states := c.TapItems - c.TapExecutions; states != orders {
		errs = append(errs, fmt.Sprintf("TAP's table holds %d order states for %d orders", states, orders))
	}
	if c.DLQ != 0 {
		errs = append(errs, fmt.Sprintf("TAP dead-lettered %d events, but every generated event is valid", c.DLQ))
	}
	if c.PeerItems != peerSent {
		errs = append(errs, fmt.Sprintf("the peer's table holds %d items for %d events", c.PeerItems, peerSent))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("verify: %s", strings.Join(errs, "; "))
	}
	return []string{
		fmt.Sprintf("TAP's table holds exactly %d execution items (one per event) and %d order states (one per order); its processing DLQ is empty", c.TapExecutions, orders),
		fmt.Sprintf("the peer's table holds exactly %d items (one per event)", c.PeerItems),
	}, nil
}

// machine describes this machine and the toolchains.
func machine(ctx context.Context) Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU(), CPU: "unknown"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	m.Kernel = firstLine(os.ReadFile("/proc/sys/kernel/osrelease"))
	m.Go = firstLine(exec.CommandContext(ctx, "go", "env", "GOVERSION").Output())
	m.Node = firstLine(exec.CommandContext(ctx, "node", "--version").Output())
	m.Moto = firstLine(exec.CommandContext(ctx, "python3", "-c", "import importlib.metadata as m; print(m.version('moto'))").Output())
	return m
}

func firstLine(b []byte, err error) string {
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return line
}
