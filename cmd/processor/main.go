// Command processor is TAP's Lambda function (provided.al2023, built as
// `bootstrap`). It is wiring only: configuration, SDK clients and tracing are
// built once per execution environment, then aws-lambda-go runs the handler.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/tracing"
)

func main() {
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
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(cfg.Region))
	if err != nil {
		return nil, fmt.Errorf("processor init: AWS SDK config: %w", err)
	}
	tracer.Instrument(&awsCfg)
	return processor.New(cfg, processor.Deps{
		DynamoDB: dynamodb.NewFromConfig(awsCfg),
		SQS:      sqs.NewFromConfig(awsCfg),
		Stdout:   os.Stdout,
		Tracer:   tracer,
	})
}
