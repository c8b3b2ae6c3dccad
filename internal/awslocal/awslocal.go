// Package awslocal builds AWS SDK configuration for the local AWS (moto) used by
// tests and `tapctl local`: a base endpoint, a region and static dummy
// credentials, so nothing ever reaches real AWS.
package awslocal

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Dummy credentials moto accepts; real AWS would reject them.
const (
	AccessKeyID     = "testing"
	SecretAccessKey = "testing"
	// AccountID is moto's default account.
	AccountID = "123456789012"
)

// Config returns an SDK config whose every service client talks to endpoint in
// region. Extra options (retryers, HTTP clients) are applied after ours.
func Config(ctx context.Context, endpoint, region string, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	base := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithBaseEndpoint(endpoint),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")),
		// Never read the developer's ~/.aws files: tests must not depend on them.
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	}
	return config.LoadDefaultConfig(ctx, append(base, opts...)...)
}

// Env returns the standard AWS SDK environment variables that point a child
// process (the processor binary, the Node peer) at endpoint in region — the only
// way the processor is configured for local AWS (DESIGN §4).
func Env(endpoint, region string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_REGION=" + region,
		"AWS_DEFAULT_REGION=" + region,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}
