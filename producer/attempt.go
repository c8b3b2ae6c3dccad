package producer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
)

// API is the part of *eventbridge.Client a producer uses. The caller builds
// the client (region, credentials, retries of its own); a global endpoint
// needs nothing more than Options.EndpointID / Config.EndpointID, as the SDK
// signs calls that carry an EndpointId with SigV4a
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-global-endpoints.html).
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// verdict is what one call made of one entry.
type verdict int

const (
	accepted  verdict = iota // EventBridge gave it an event ID
	refused                  // refused for a reason a retry can fix
	permanent                // refused for a reason no retry can fix
)

// outcome is one entry's verdict in one call.
type outcome struct {
	verdict   verdict
	eventID   string
	code, msg string
}

// put makes one PutEvents call carrying entries and returns each entry's
// outcome, in order. A call that failed as a whole for a reason a retry can
// fix (throttling, 5xx, a connection error: the SDK's own classification)
// refuses every entry; one that no retry can fix (AccessDenied, an unknown
// endpoint) is returned as the error, as is the end of ctx.
//
// PutEvents answers per entry: "a response Entries array can include both
// successful and unsuccessful entries. You must detect unsuccessful entries
// and include them in a subsequent call", each result in the request's order
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html).
func put(ctx context.Context, api API, endpointID string, entries []types.PutEventsRequestEntry) ([]outcome, error) {
	in := &eventbridge.PutEventsInput{Entries: entries}
	if endpointID != "" {
		in.EndpointId = aws.String(endpointID)
	}
	out, err := api.PutEvents(ctx, in)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !retryable(err) {
			return nil, fmt.Errorf("PutEvents: %w", err)
		}
		// The SDK has already retried the call as its client is
		// configured; the entries get the producer's attempts on top, as if
		// each had been refused. Such a call may have been accepted without
		// an answer reaching us (a timeout): sending it again is
		// at-least-once, which the processor's idempotency (DESIGN I1)
		// makes harmless.
		code, msg := errorCode(err)
		res := make([]outcome, len(entries))
		for i := range res {
			res[i] = outcome{verdict: refused, code: code, msg: msg}
		}
		return res, nil
	}
	if len(out.Entries) != len(entries) {
		return nil, fmt.Errorf("PutEvents: %d results for %d entries", len(out.Entries), len(entries))
	}
	res := make([]outcome, len(entries))
	for i, r := range out.Entries {
		code := aws.ToString(r.ErrorCode)
		switch {
		case code == "":
			res[i] = outcome{verdict: accepted, eventID: aws.ToString(r.EventId)}
		case permanentEntryError(code):
			res[i] = outcome{verdict: permanent, code: code, msg: aws.ToString(r.ErrorMessage)}
		default:
			res[i] = outcome{verdict: refused, code: code, msg: aws.ToString(r.ErrorMessage)}
		}
	}
	return res, nil
}

// permanentEntryError reports whether an entry error code can never succeed
// on retry: the entry itself, or the caller's permissions, are wrong. The API
// reference lists InternalFailure and ThrottlingException as retryable and
// these as not
// (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html);
// an unknown code is retried.
func permanentEntryError(code string) bool {
	switch code {
	case "MalformedDetail", "InvalidArgument", "ValidationException", "InvalidAccountIdException",
		"RedactionFailure", "AccessDeniedException", "NotAuthorizedForSourceException",
		"NotAuthorizedForDetailTypeException", "ResourceNotFoundException":
		return true
	}
	return false
}

// retryable reports whether a failed call is worth sending again: the SDK's
// own classification (throttling, 5xx, connection errors).
func retryable(err error) bool {
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

func errorCode(err error) (code, msg string) {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode(), api.ErrorMessage()
	}
	return "RequestError", err.Error()
}

// backoff is the delay before retry number try (1 for the first): base
// doubled per retry up to ceiling, with jitter over its upper half so that
// producers retrying together spread out ("exponential backoff and jitter",
// https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/).
func backoff(base, ceiling time.Duration, try int) time.Duration {
	d := base
	for i := 1; i < try && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
