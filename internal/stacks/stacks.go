// Package stacks composes TAP's constructs into its CloudFormation stacks:
// Tap-<env>-Data and Tap-<env>-Failover in the primary region and one
// Tap-<env>-Processing-<region> per region. Stacks are thin: they pass the
// parts of one deployspec.Spec (every behavioural value) and the rest of the
// config to construct props, set an explicit account/region, and declare
// outputs. Nothing is referenced across regions; ARNs are rebuilt from
// deterministic names instead.
package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tap-trading/tap/internal/config"
)

// env is the explicit account/region of a stack. An unset account leaves the
// account to the deploying credentials (AWS::AccountId).
func env(cfg config.Config, region string) *awscdk.Environment {
	e := &awscdk.Environment{Region: jsii.String(region)}
	if cfg.Account != "" {
		e.Account = jsii.String(cfg.Account)
	}
	return e
}

func newStack(scope constructs.Construct, name, region, description string, cfg config.Config) awscdk.Stack {
	s := awscdk.NewStack(scope, jsii.String(name), &awscdk.StackProps{
		StackName:   jsii.String(name),
		Env:         env(cfg, region),
		Description: jsii.String(description),
	})
	// Dashboards are left untagged: cfn-lint's resource schema (1.51) does not
	// know their Tags property yet and would fail the lint.
	untagged := &awscdk.TagProps{ExcludeResourceTypes: jsii.Strings("AWS::CloudWatch::Dashboard")}
	awscdk.Tags_Of(s).Add(jsii.String("app"), jsii.String("tap"), untagged)
	awscdk.Tags_Of(s).Add(jsii.String("tap:env"), jsii.String(cfg.Env), untagged)
	return s
}

// output declares a stack output (never exported: tapctl reads outputs by
// stack name, and exports would couple stacks).
func output(s awscdk.Stack, id string, value *string, description string) {
	awscdk.NewCfnOutput(s, jsii.String(id), &awscdk.CfnOutputProps{
		Value: value, Description: jsii.String(description),
	})
}
