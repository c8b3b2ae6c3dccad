// Command processor is the TAP Lambda bootstrap. PLACEHOLDER while
// internal/processor is written this session: it must be replaced before commit.
package main

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context) error { return errors.New("processor not wired yet") })
}
