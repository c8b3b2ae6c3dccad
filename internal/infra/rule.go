package infra

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ProcessorRuleProps configure the rule that delivers events to the processor.
type ProcessorRuleProps struct {
	// RuleName is the physical name. Required.
	RuleName string
	// Bus the rule listens on. Required.
	Bus awsevents.IEventBus
	// Pattern is the event pattern ("source", "detail-type" → values). Required (schema.ProcessorPattern()).
	Pattern map[string][]string
	// Function is the target. Required.
	Function awslambda.IFunction
	// DeliveryDLQ receives events EventBridge could not deliver. Required.
	DeliveryDLQ awssqs.IQueue
	// RetryAttempts of the target retry policy (0..185). Zero is a valid
	// setting, so there is no default here: TAP passes the configured value
	// (config default 185, the service maximum).
	RetryAttempts int
	// MaxEventAge of the target retry policy. Required (60 s .. 24 h).
	MaxEventAge time.Duration
}

// NewProcessorRule creates the rule with the processor as its target, the
// target's retry policy and its delivery dead-letter queue.
func NewProcessorRule(scope constructs.Construct, id string, p ProcessorRuleProps) awsevents.Rule {
	pattern := &awsevents.EventPattern{
		Source:     jsii.Strings(p.Pattern["source"]...),
		DetailType: jsii.Strings(p.Pattern["detail-type"]...),
	}
	return awsevents.NewRule(scope, jsii.String(id), &awsevents.RuleProps{
		RuleName:     jsii.String(p.RuleName),
		Description:  jsii.String("Trading events and heartbeats to the processor"),
		EventBus:     p.Bus,
		EventPattern: pattern,
		Targets: &[]awsevents.IRuleTarget{
			awseventstargets.NewLambdaFunction(p.Function, &awseventstargets.LambdaFunctionProps{
				DeadLetterQueue: p.DeliveryDLQ,
				RetryAttempts:   jsii.Number(p.RetryAttempts),
				MaxEventAge:     awscdk.Duration_Seconds(jsii.Number(p.MaxEventAge.Seconds())),
			}),
		},
	})
}
