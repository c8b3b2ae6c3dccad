package processor_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
	"github.com/tap-trading/tap/internal/tracing"
)

// The two benchmarks below apply the same fresh generated events to moto:
// BenchmarkHandlerApply through the Handler as cmd/processor builds it,
// BenchmarkFloorApply with only the two SDK calls of bench/floor/sdk. Their
// CPU profiles side by side show what TAP adds per event:
//
//	go test -run '^$' -bench 'HandlerApply$' -cpuprofile tap.out ./internal/processor/
//	go test -run '^$' -bench 'FloorApply$' -cpuprofile floor.out ./internal/processor/
//
// Both run against a moto of their own in a child process (moto and the
// motoserver proxy in front of it, which reconnects to moto for every
// request): none of that work is in this process's CPU or profile. ns/op is
// mostly moto's time; cpu-µs/op is this process's user and system CPU per
// event, which is what Lambda bills.

// benchMotoEnv, when set, makes the test binary serve moto for a parent's
// benchmark (see TestMain) instead of running tests.
const benchMotoEnv = "TAP_PROCESSOR_BENCH_MOTO"

// serveBenchMoto starts moto with its proxy, prints the endpoint, and
// serves until stdin closes (the parent is done or gone).
func serveBenchMoto() int {
	srv, err := motoserver.Start(context.Background(), "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Stop()
	fmt.Println(srv.Endpoint)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// benchMoto starts serveBenchMoto in a child process and returns its endpoint.
func benchMoto(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchMotoEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("moto child: %v", err)
	}
	return strings.TrimSpace(line)
}

// freshEvents hands out events nobody has applied, as EventBridge delivers
// them: published a moment ago, trades a few seconds old (a live stream,
// not a replay: no TradeAge). Batches are generated with the timer stopped.
type freshEvents struct {
	b     *testing.B
	seed  uint64
	batch [][]byte
	cpu   time.Duration // spent generating, not applying
}

func (f *freshEvents) next() []byte {
	if len(f.batch) == 0 {
		f.b.StopTimer()
		cpu0 := cpuTime(f.b)
		f.seed++
		now := time.Now()
		// 32 orders 20 ms apart with fills up to 2 s apart: every trade is
		// within ~15 s before now, so none is in the future or late while
		// the batch lasts.
		for _, r := range gen.Events(gen.Lifecycles(f.seed, 32, gen.Options{Start: now.Add(-15 * time.Second)})) {
			f.batch = append(f.batch, event.EncodeEnvelope(event.Envelope{
				ID: uuid.NewString(), Source: schema.Source,
				DetailType: schema.DetailTypeExecutionReport, Account: awslocal.AccountID, Region: testRegion,
				Time: now.Truncate(time.Second), Detail: event.EncodeDetail(&r),
			}))
		}
		f.cpu += cpuTime(f.b) - cpu0
		f.b.StartTimer()
	}
	raw := f.batch[0]
	f.batch = f.batch[1:]
	return raw
}

// lambdaRuntime sets the Go runtime as each program under comparison sets
// it (GOMAXPROCS 1; the processor also GC percent 200, see cmd/processor's
// tuneRuntime), for the benchmark's duration.
func lambdaRuntime(b *testing.B, gcPercent int) {
	procs := runtime.GOMAXPROCS(1)
	gc := debug.SetGCPercent(gcPercent)
	b.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(gc)
	})
}

// cpuTime is this process's user plus system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs apply on fresh events and reports CPU per event.
func loop(b *testing.B, apply func(raw []byte)) {
	events := &freshEvents{b: b, seed: uint64(time.Now().UnixNano())}
	b.ReportAllocs()
	cpu0, n := cpuTime(b), 0
	for b.Loop() {
		apply(events.next())
		n++
	}
	b.ReportMetric(float64((cpuTime(b)-cpu0-events.cpu).Microseconds())/float64(n), "cpu-µs/op")
}

// BenchmarkHandlerApply applies fresh events through processor.Handler
// built as cmd/processor's initHandler builds it from Lambda's environment
// (the SDK's default config with the processor's HTTP client, plain and
// traced clients, a tracer with a daemon address as active tracing sets),
// invoked as aws-lambda-go invokes it with an unsampled trace header.
func BenchmarkHandlerApply(b *testing.B) {
	endpoint := benchMoto(b)
	f := newFixtureAt(b, endpoint)
	lambdaRuntime(b, 200)
	// The SDK reads its endpoint, region and credentials from the environment, as in Lambda.
	for _, kv := range awslocal.Env(endpoint, testRegion) {
		k, v, _ := strings.Cut(kv, "=")
		b.Setenv(k, v)
	}
	env := map[string]string{
		processor.EnvTableName: f.cfg.TableName, processor.EnvProcessingDLQURL: f.cfg.ProcessingDLQURL,
		processor.EnvServiceName: testService, processor.EnvMetricsNamespace: testNamespace,
		processor.EnvRegion: testRegion, processor.EnvFunctionName: testFunctionName, processor.EnvLogLevel: "INFO",
		// Active tracing's daemon address (UDP): nothing is sent for unsampled invocations.
		tracing.DaemonAddressEnv: "127.0.0.1:2000",
	}
	getenv := func(k string) string { return env[k] }

	// cmd/processor's initHandler, with io.Discard for stdout (a drained pipe).
	ctx := context.Background()
	cfg, err := processor.ConfigFromEnv(getenv)
	if err != nil {
		b.Fatal(err)
	}
	tracer, err := tracing.Setup(tracing.ConfigFromEnv(getenv))
	if err != nil {
		b.Fatal(err)
	}
	client := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) { tr.WriteBufferSize = 16 << 10 })
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(cfg.Region), config.WithHTTPClient(client))
	if err != nil {
		b.Fatal(err)
	}
	traced := awsCfg.Copy()
	tracer.Instrument(&traced)
	h, err := processor.New(cfg, processor.Deps{
		DynamoDB:       dynamodb.NewFromConfig(awsCfg),
		SQS:            sqs.NewFromConfig(awsCfg),
		TracedDynamoDB: dynamodb.NewFromConfig(traced),
		TracedSQS:      sqs.NewFromConfig(traced),
		Stdout:         io.Discard,
		Tracer:         tracer,
	})
	if err != nil {
		b.Fatal(err)
	}

	// What aws-lambda-go's invoke loop hands the handler: the Lambda context
	// and the trace header of the Runtime API's response (one for all: the
	// harness's own formatting is not TAP's work).
	lc := &lambdacontext.LambdaContext{AwsRequestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd"}
	const header = "Root=1-67a0c0de-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=0"
	loop(b, func(raw []byte) {
		ctx := context.WithValue(lambdacontext.NewContext(ctx, lc), "x-amzn-trace-id", header)
		if err := h.Handle(ctx, raw); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkFloorApply is bench/floor/sdk's work per event on the same kind
// of events: decode, then store.PlanExecution and store.PlanState sent by a
// dynamodb.Client built from minimal options.
func BenchmarkFloorApply(b *testing.B) {
	endpoint := benchMoto(b)
	f := newFixtureAt(b, endpoint)
	lambdaRuntime(b, 100) // the floor sets GOMAXPROCS only
	table := f.cfg.TableName
	db := dynamodb.New(dynamodb.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(awslocal.AccessKeyID, awslocal.SecretAccessKey, ""),
		HTTPClient:   &http.Client{},
	})
	ctx := context.Background()
	loop(b, func(raw []byte) {
		now := time.Now()
		d, err := event.Decode(raw, now)
		if err != nil || d.Report == nil {
			b.Fatalf("decode: %v", err)
		}
		put := store.PlanExecution(d.Report, testRegion, now)
		put.TableName = &table
		if _, err := db.PutItem(ctx, put); err != nil {
			b.Fatal(err)
		}
		upd := store.PlanState(d.Report, testRegion, now)
		upd.TableName = &table
		if _, err := db.UpdateItem(ctx, upd); err != nil {
			b.Fatal(err)
		}
	})
}
