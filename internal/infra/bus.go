package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tap-trading/tap/internal/schema"
)

// TradingBusProps configure a region's trading bus and its archive.
type TradingBusProps struct {
	// BusName is the physical name, the same in both regions (the global
	// endpoint requires it). Required.
	BusName string
	// ArchiveName names the replay archive. Required.
	ArchiveName string
	// ArchiveRetentionDays keeps archived events this long; 0 keeps them forever. Default 0.
	ArchiveRetentionDays int
}

// TradingBus is the bus, its resource policy and its archive.
type TradingBus struct {
	constructs.Construct
	Bus     awsevents.EventBus
	Archive awsevents.Archive
}

// NewTradingBus creates the bus with a policy admitting PutEvents from this
// account only, and an archive of every TAP event so a fixed processor can
// replay what it missed.
func NewTradingBus(scope constructs.Construct, id string, p TradingBusProps) *TradingBus {
	c := constructs.NewConstruct(scope, jsii.String(id))
	bus := awsevents.NewEventBus(c, jsii.String("Bus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(p.BusName),
	})
	bus.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("PutEventsFromOwnAccountOnly"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
		Actions:    jsii.Strings("events:PutEvents"),
		Resources:  &[]*string{bus.EventBusArn()},
	}))

	archive := bus.Archive(jsii.String("Archive"), &awsevents.BaseArchiveProps{
		ArchiveName:  jsii.String(p.ArchiveName),
		Description:  jsii.String("Every " + schema.Source + " event on " + p.BusName + ", for replay"),
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(schema.Source)},
		Retention:    awscdk.Duration_Days(jsii.Number(p.ArchiveRetentionDays)),
	})
	// The archive's L1 is rendered with "KmsKeyIdentifier": "" when no key is
	// given, which CloudFormation can reject; absent means the AWS owned key.
	archive.Node().DefaultChild().(awscdk.CfnResource).AddPropertyDeletionOverride(jsii.String("KmsKeyIdentifier"))
	return &TradingBus{Construct: c, Bus: bus, Archive: archive}
}
