package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// AlertTopicProps configure a region's alert topic.
type AlertTopicProps struct {
	// TopicName is the physical name, the same in each region. Required.
	TopicName string
	// Email is subscribed to the topic (the recipient confirms it). Required.
	Email string
	// AlarmNames are the names (or patterns with *) of the alarms of this
	// region that may publish to the topic. Required: without them no alarm
	// can notify (a topic policy replaces SNS's default one).
	AlarmNames []string
}

// AlertTopic is the SNS topic every alarm of a region notifies, encrypted with
// its own customer-managed KMS key. Both the topic policy and the key policy
// admit CloudWatch for this account's named alarms: one side alone leaves
// every notification refused, and only the alarm's history would show it.
type AlertTopic struct {
	constructs.Construct
	Topic awssns.Topic
	Key   awskms.Key
}

// keyAdminActions are the KMS actions the account (through IAM) keeps on the
// key, listed one by one so no key policy grants a wildcard action.
var keyAdminActions = []string{
	"kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:DeleteAlias",
	"kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey",
	"kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
	"kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListResourceTags",
	"kms:PutKeyPolicy", "kms:RetireGrant", "kms:RevokeGrant", "kms:ScheduleKeyDeletion",
	"kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
	"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey",
}

// NewAlertTopic creates the KMS key, the TLS-only topic and the email subscription.
func NewAlertTopic(scope constructs.Construct, id string, props AlertTopicProps) *AlertTopic {
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	cloudWatch := awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)
	// CloudWatch calls SNS, and SNS calls KMS, on behalf of the alarm: both
	// carry the alarm's ARN and account, so both grants are limited to them.
	fromOwnAlarms := &map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
		"ArnLike":      map[string]any{"aws:SourceArn": alarmArns(stack, props.AlarmNames)},
	}

	policy := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
		Statements: &[]awsiam.PolicyStatement{
			// The account keeps administration (and must keep kms:PutKeyPolicy,
			// or CloudFormation refuses a policy that would lock it out).
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("AccountAdministersKey"),
				Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
				Actions:    jsii.Strings(keyAdminActions...),
				Resources:  jsii.Strings("*"),
			}),
			// CloudWatch alarms publish to an encrypted topic only if the key
			// lets the service use it: the statement AWS documents for
			// CloudWatch and encrypted SNS topics (kms:GenerateDataKey* is its
			// documented form, also covering GenerateDataKeyWithoutPlaintext).
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("CloudWatchAlarmsPublish"),
				Principals: &[]awsiam.IPrincipal{cloudWatch},
				Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
				Resources:  jsii.Strings("*"),
				Conditions: fromOwnAlarms,
			}),
		},
	})
	key := awskms.NewKey(c, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the " + props.TopicName + " SNS topic"),
		EnableKeyRotation: jsii.Bool(true),
		Policy:            policy,
	})

	topic := awssns.NewTopic(c, jsii.String("Topic"), &awssns.TopicProps{
		TopicName:  jsii.String(props.TopicName),
		MasterKey:  key,
		EnforceSSL: jsii.Bool(true),
	})
	// EnforceSSL made a topic policy (the TLS Deny), which replaces SNS's
	// default policy: CloudWatch must be allowed explicitly.
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{cloudWatch},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: fromOwnAlarms,
	}))
	topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.Email), nil))
	return &AlertTopic{Construct: c, Topic: topic, Key: key}
}

// alarmArns are the ARNs of this stack's alarms named (or matching) names.
func alarmArns(stack awscdk.Stack, names []string) []*string {
	arns := make([]*string, 0, len(names))
	for _, n := range names {
		arns = append(arns, stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("cloudwatch"), Resource: jsii.String("alarm"),
			ResourceName: jsii.String(n), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
		}))
	}
	return arns
}
