package infra

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tap-trading/tap/internal/deployspec"
)

// ProcessorRuleProps configure the rule that delivers events to the processor.
type ProcessorRuleProps struct {
	// Rule is the rule's physical name and its whole event pattern.
	// Required: deployspec.For(cfg).Rule.
	Rule deployspec.Rule
	// Target is the target's retry policy (0..185 attempts, 60 s .. 24 h;
	// zero attempts is a valid setting). Required: deployspec.For(cfg).Target.
	Target deployspec.TargetRetryPolicy
	// Bus the rule listens on. Required.
	Bus awsevents.IEventBus
	// Function is the target. Required.
	Function awslambda.IFunction
	// DeliveryDLQ receives events EventBridge could not deliver. Required.
	DeliveryDLQ awssqs.IQueue
}

// NewProcessorRule creates the rule with the processor as its target, the
// target's retry policy and its delivery dead-letter queue.
func NewProcessorRule(scope constructs.Construct, id string, p ProcessorRuleProps) awsevents.Rule {
	if p.Target.MaximumEventAge <= 0 {
		panic("infra: ProcessorRuleProps.Target has no maximum event age; pass deployspec.For(cfg).Target")
	}
	return awsevents.NewRule(scope, jsii.String(id), &awsevents.RuleProps{
		RuleName:     jsii.String(p.Rule.Name),
		Description:  jsii.String("Trading events and heartbeats to the processor"),
		EventBus:     p.Bus,
		EventPattern: eventPattern(p.Rule.Pattern),
		Targets: &[]awsevents.IRuleTarget{
			awseventstargets.NewLambdaFunction(p.Function, &awseventstargets.LambdaFunctionProps{
				DeadLetterQueue: p.DeliveryDLQ,
				RetryAttempts:   jsii.Number(p.Target.MaximumRetryAttempts),
				MaxEventAge:     awscdk.Duration_Seconds(jsii.Number(p.Target.MaximumEventAge.Seconds())),
			}),
		},
	})
}

// eventPattern renders every key of pattern into the CDK's EventPattern, so
// the rule matches exactly what the spec says. A key the EventPattern has no
// field for stops synthesis rather than being dropped (the rule would then
// match more than the spec).
func eventPattern(pattern map[string][]string) *awsevents.EventPattern {
	if len(pattern) == 0 {
		panic("infra: the processor rule needs an event pattern (deployspec.Rule.Pattern)")
	}
	out := &awsevents.EventPattern{}
	fields := map[string]**[]*string{
		"source": &out.Source, "detail-type": &out.DetailType, "account": &out.Account,
		"region": &out.Region, "resources": &out.Resources, "id": &out.Id,
		"time": &out.Time, "version": &out.Version,
	}
	keys := make([]string, 0, len(pattern))
	for k := range pattern {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field, ok := fields[k]
		if !ok {
			panic(fmt.Sprintf("infra: event pattern key %q has no EventPattern field; add it to infra.eventPattern", k))
		}
		if len(pattern[k]) == 0 {
			panic(fmt.Sprintf("infra: event pattern key %q has no values (EventBridge rejects an empty array)", k))
		}
		*field = jsii.Strings(pattern[k]...)
	}
	return out
}
