package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tap-trading/tap/internal/deployspec"
)

// DeadLetterQueueProps configure a dead-letter queue.
type DeadLetterQueueProps struct {
	// QueueName is the physical name. Required.
	QueueName string
	// DLQ is how long a dead-lettered event waits for a redrive (both queues
	// alike). Required: deployspec.For(cfg).DLQ (config default 14 days, the
	// SQS maximum; DESIGN §4).
	DLQ deployspec.DeadLetterQueue
}

// NewDeadLetterQueue creates an encrypted (SQS-managed SSE), TLS-only queue.
// SQS-managed keys rather than a KMS key keep the writers' grants to
// sqs:SendMessage (a KMS key would add kms:GenerateDataKey* to each).
func NewDeadLetterQueue(scope constructs.Construct, id string, props DeadLetterQueueProps) awssqs.Queue {
	if props.DLQ.Retention <= 0 {
		panic(fmt.Sprintf("infra: dead-letter queue %s has no retention; pass deployspec.For(cfg).DLQ", props.QueueName))
	}
	q := awssqs.NewQueue(scope, jsii.String(id), &awssqs.QueueProps{
		QueueName:       jsii.String(props.QueueName),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Seconds(jsii.Number(props.DLQ.Retention.Seconds())),
	})
	suppress(q, suppression{
		rule:   "AwsSolutions-SQS3",
		reason: "This queue is itself a terminal dead-letter queue (EventBridge target DLQ or Lambda on-failure destination); its messages are inspected and redriven by tapctl, never consumed automatically, so it needs no DLQ of its own.",
	})
	return q
}
