// Command fn is a tiny Lambda function built by the lambdaruntime tests. Its
// behaviour is chosen by FN_MODE at init and by the event at invoke time.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// rejectedError gives the error path a named type, which aws-lambda-go reports
// as the errorType.
type rejectedError struct{ reason string }

func (e *rejectedError) Error() string { return "rejected: " + e.reason }

type request struct {
	Say   string `json:"say"`
	Fail  string `json:"fail"`
	Panic bool   `json:"panic"`
}

type response struct {
	Echo      string `json:"echo"`
	RequestID string `json:"requestId"`
	Function  string `json:"function"`
	Deadline  bool   `json:"deadline"`
}

func handle(ctx context.Context, req request) (response, error) {
	if req.Panic {
		panic("told to panic")
	}
	if req.Fail != "" {
		return response{}, &rejectedError{reason: req.Fail}
	}
	lc, _ := lambdacontext.FromContext(ctx)
	_, hasDeadline := ctx.Deadline()
	return response{Echo: req.Say, RequestID: lc.AwsRequestID, Function: lambdacontext.FunctionName, Deadline: hasDeadline}, nil
}

func main() {
	switch os.Getenv("FN_MODE") {
	case "exit":
		fmt.Fprintln(os.Stderr, "fn: missing configuration")
		os.Exit(3)
	case "panic":
		panic("fn: init failed")
	}
	lambda.Start(handle)
}
