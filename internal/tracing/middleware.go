package tracing

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Attributes the call-details middleware adds to an SDK call's span; the
// exporter turns them into aws.retries and the error/throttle flags, which
// otelaws does not record.
const (
	attrAttempts  = attribute.Key("tap.aws.attempts")
	attrErrorCode = attribute.Key("tap.aws.error_code")
)

// addCallDetails adds an Initialize middleware that, after the call (all
// its retries included), records on the call's span how many attempts it
// took and the AWS error code it failed with.
func addCallDetails(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("TapTraceCallDetails",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
			middleware.InitializeOutput, middleware.Metadata, error,
		) {
			out, md, err := next.HandleInitialize(ctx, in)
			span := trace.SpanFromContext(ctx)
			if !span.IsRecording() {
				return out, md, err
			}
			if results, ok := retry.GetAttemptResults(md); ok {
				span.SetAttributes(attrAttempts.Int(len(results.Results)))
			}
			var apiErr smithy.APIError
			if errors.As(err, &apiErr) {
				span.SetAttributes(attrErrorCode.String(apiErr.ErrorCode()))
			}
			return out, md, err
		}), middleware.After)
}
