// Command with is the tracing side of the cost measurement: the baseline
// main plus tracing.Setup, Instrument and an invocation span. See ../README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/tracing"
)

func main() {
	start := time.Now()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("eu-west-1"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	setupStart := time.Now()
	tr, err := tracing.Setup(tracing.Config{DaemonAddress: "127.0.0.1:2000"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tr.Instrument(&cfg)
	setup := time.Since(setupStart)
	ddb := dynamodb.NewFromConfig(cfg)
	q := sqs.NewFromConfig(cfg)
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		fmt.Printf("init %v setup %v\n", time.Since(start), setup)
		return
	}
	lambda.Start(func(ctx context.Context) error {
		ctx, end := tr.StartInvocation(ctx, tracing.TraceHeader(ctx))
		defer end()
		tracing.Annotate(ctx, "o", "e", "applied")
		_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"),
			Item: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "x"}}})
		if err != nil {
			_, err = q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String("q"), MessageBody: aws.String("x")})
		}
		return err
	})
}
