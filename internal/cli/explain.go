package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
)

// explain adds what to do to the errors operators meet most: missing or
// expired credentials, missing permissions, resources that are not deployed,
// and a local pipeline that has stopped.
func explain(err error) error {
	var api smithy.APIError
	msg := err.Error()
	switch {
	case errors.As(err, &api):
		switch code := api.ErrorCode(); {
		case strings.HasPrefix(code, "AccessDenied"), code == "UnauthorizedOperation", code == "AuthorizationError":
			return hint(err, "the AWS credentials in use may not call this API: check the IAM permissions of the role or user (aws sts get-caller-identity)")
		case code == "ExpiredToken", code == "ExpiredTokenException", code == "RequestExpired":
			return hint(err, "the AWS session has expired: refresh it (e.g. aws sso login) and retry")
		case code == "UnrecognizedClientException", code == "InvalidClientTokenId", code == "InvalidSignatureException", code == "SignatureDoesNotMatch":
			return hint(err, "the AWS credentials are not valid for this account or region: check AWS_PROFILE and the access keys")
		case code == "ResourceNotFoundException", code == "AWS.SimpleQueueService.NonExistentQueue", code == "QueueDoesNotExist":
			return hint(err, "the resource does not exist: is the environment deployed in this region? check --env and --region")
		case code == "ThrottlingException", code == "Throttling", code == "TooManyRequestsException":
			return hint(err, "AWS is throttling these calls: retry later or lower the rate")
		}
	case noCredentials(msg):
		return hint(err, "no AWS credentials found: "+noCredentialsHint)
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return hint(err, "nothing answers at that endpoint: if it is the local pipeline, is `tapctl local` still running? "+
			"With --regions, a cut region refuses: type `heal REGION` there, or read the other region with --region")
	case timedOut(err):
		return hint(err, "the endpoint accepted the connection and did not answer in time: "+
			"with --regions, a region cut with `cut REGION hang` does that: type `heal REGION` there, or read the other region with --region")
	}
	return err
}

// timedOut reports whether err is a network timeout (an HTTP client's).
func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func hint(err error, what string) error { return fmt.Errorf("%w\n  what to do: %s", err, what) }

// noCredentialsHint is what to do when the SDK finds no credentials.
const noCredentialsHint = "set AWS_PROFILE (then aws sso login if it uses SSO) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"

// checkCredentials resolves cfg's credentials once, before any call: a
// command then fails with one error and one hint, not one per call it makes.
// The result is cached in cfg, so the calls that follow reuse it.
func checkCredentials(ctx context.Context, cfg aws.Config) error {
	if cfg.Credentials == nil {
		return hint(errors.New("no AWS credentials configured"), noCredentialsHint)
	}
	_, err := cfg.Credentials.Retrieve(ctx)
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "no EC2 IMDS role found"):
		// The whole chain fell through to the instance role, which is not
		// there: the SDK's message lists every provider it tried, and the
		// user needs only to know that none had credentials.
		return hint(errors.New("no AWS credentials found (looked in the environment, the shared config and credentials files, SSO, and container and instance roles)"), noCredentialsHint)
	}
	return explain(fmt.Errorf("AWS credentials: %w", err))
}

// noCredentials reports whether an SDK error message says the default chain
// found no credentials at all.
func noCredentials(msg string) bool {
	return strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "no EC2 IMDS role found") ||
		strings.Contains(msg, "failed to refresh cached credentials")
}
