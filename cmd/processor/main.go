// Command processor is TAP's Lambda function (provided.al2023, built as
// `bootstrap`). It is wiring only: configuration, SDK clients and tracing are
// built once per execution environment, then aws-lambda-go runs the handler.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/aws/aws-lambda-go/lambda"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/store"
	"github.com/tap-trading/tap/internal/tracing"
)

func main() {
	tuneRuntime(os.Getenv)
	h, err := initHandler(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if rerr := processor.ReportInitError(os.Getenv("AWS_LAMBDA_RUNTIME_API"), err); rerr != nil {
			fmt.Fprintln(os.Stderr, "reporting init error:", rerr)
		}
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// initHandler builds everything an invocation needs. LoadDefaultConfig reads
// the environment only; the first network call is the first event's.
func initHandler(ctx context.Context) (*processor.Handler, error) {
	cfg, err := processor.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	tracer, err := tracing.Setup(tracing.ConfigFromEnv(os.Getenv))
	if err != nil {
		return nil, fmt.Errorf("processor init: tracing: %w", err)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(cfg.Region), config.WithHTTPClient(httpClient()))
	if err != nil {
		return nil, fmt.Errorf("processor init: AWS SDK config: %w", err)
	}
	// Two sets of clients: instrumented ones for the invocations Lambda
	// samples, plain ones for the rest (most of them), which then skip the
	// tracing middleware's work on every call.
	traced := awsCfg.Copy()
	tracer.Instrument(&traced)
	return processor.New(cfg, processor.Deps{
		DynamoDB:       dynamodb.NewFromConfig(awsCfg, store.RetryReplicatedWriteConflicts),
		SQS:            sqs.NewFromConfig(awsCfg),
		TracedDynamoDB: dynamodb.NewFromConfig(traced, store.RetryReplicatedWriteConflicts),
		TracedSQS:      sqs.NewFromConfig(traced),
		Stdout:         os.Stdout,
		Tracer:         tracer,
	})
}

// tuneRuntime sets the Go runtime for a Lambda execution environment; an
// explicit GOMAXPROCS or GOGC in the function's environment wins.
//
// GOMAXPROCS=1: Lambda gives a 256 MB function about a seventh of one vCPU
// (CPU share is proportional to memory) while the process sees all the host's
// cores, and one invocation runs at a time, so a second P buys no parallelism.
// It costs CPU instead: every HTTP exchange hands work between the caller and
// net/http's read and write loop goroutines, and with idle Ps each hand-off
// wakes another thread (futex, scheduler spinning) rather than running on this
// one.
//
// GC percent 200: the live heap is a few MiB and each event allocates about
// 100 KiB (mostly the AWS SDK), so at the default 100 the collector runs every
// few dozen events; doubling the headroom halves that work for a few MiB more
// of the function's 256 MB.
func tuneRuntime(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	if getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
}

// httpClient is the SDK's default client with a write buffer large enough for
// a whole DynamoDB request: with net/http's default 4 KiB, a request whose
// headers and body exceed it goes out in two write syscalls instead of one.
func httpClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.WriteBufferSize = 16 << 10
	})
}
