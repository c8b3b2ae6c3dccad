// Command without is the baseline of the tracing cost measurement: a Lambda
// main with the processor's SDK clients and no tracing. See ../README.md.
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
)

func main() {
	start := time.Now()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("eu-west-1"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	q := sqs.NewFromConfig(cfg)
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		fmt.Printf("init %v\n", time.Since(start))
		return
	}
	lambda.Start(func(ctx context.Context) error {
		_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"),
			Item: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "x"}}})
		if err != nil {
			_, err = q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String("q"), MessageBody: aws.String("x")})
		}
		return err
	})
}
