package infra

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// DefaultDLQRetention is how long a dead-lettered event waits for a redrive:
// 14 days, the SQS maximum (DESIGN §4).
const DefaultDLQRetention = 14 * 24 * time.Hour

// DeadLetterQueueProps configure a dead-letter queue.
type DeadLetterQueueProps struct {
	// QueueName is the physical name. Required.
	QueueName string
	// Retention of messages. Default DefaultDLQRetention.
	Retention time.Duration
}

// NewDeadLetterQueue creates an encrypted (SQS-managed SSE), TLS-only queue.
// SQS-managed keys rather than a KMS key keep the writers' grants to
// sqs:SendMessage (a KMS key would add kms:GenerateDataKey* to each).
func NewDeadLetterQueue(scope constructs.Construct, id string, props DeadLetterQueueProps) awssqs.Queue {
	retention := props.Retention
	if retention == 0 {
		retention = DefaultDLQRetention
	}
	q := awssqs.NewQueue(scope, jsii.String(id), &awssqs.QueueProps{
		QueueName:       jsii.String(props.QueueName),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Seconds(jsii.Number(retention.Seconds())),
	})
	suppress(q, suppression{
		rule:   "AwsSolutions-SQS3",
		reason: "This queue is itself a terminal dead-letter queue (EventBridge target DLQ or Lambda on-failure destination); its messages are inspected and redriven by tapctl, never consumed automatically, so it needs no DLQ of its own.",
	})
	return q
}
