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
}

// AlertTopic is the SNS topic every alarm of a region notifies, encrypted with
// its own customer-managed KMS key.
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
			// lets the service encrypt for it.
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("CloudWatchAlarmsPublish"),
				Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
				Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
				Resources:  jsii.Strings("*"),
				Conditions: &map[string]any{
					"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
				},
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
	topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.Email), nil))
	return &AlertTopic{Construct: c, Topic: topic, Key: key}
}
