// Package cdk pins the AWS CDK CLI TAP is deployed with: package.json and
// package-lock.json name the exact aws-cdk version, the cdk script installs it
// into .cache/cdk (npm ci, reinstalled only when the lockfile changes) and runs
// it from the module root (`make cdk ARGS=...`). The package's test proves that
// CLI synthesizes the same templates as `make synth`.
package cdk
