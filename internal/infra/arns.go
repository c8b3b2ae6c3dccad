package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// Deterministic ARNs of resources that live in another stack or region. TAP
// never passes references across regions: names come from internal/names, so
// each stack can spell the ARN it needs from the region and the account.

// TableArn is the ARN of the orders table's replica in region.
func TableArn(scope awscdk.Stack, region, table string) *string {
	return scope.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("dynamodb"), Region: jsii.String(region),
		Resource: jsii.String("table"), ResourceName: jsii.String(table),
	})
}

// BusArn is the ARN of the event bus named bus in region.
func BusArn(scope awscdk.Stack, region, bus string) *string {
	return scope.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("events"), Region: jsii.String(region),
		Resource: jsii.String("event-bus"), ResourceName: jsii.String(bus),
	})
}

// TopicArn is the ARN of the SNS topic named topic in region.
func TopicArn(scope awscdk.Stack, region, topic string) *string {
	return scope.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("sns"), Region: jsii.String(region),
		Resource: jsii.String(topic), ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME,
	})
}

// ManagedRuleArnPattern matches the rules a global endpoint creates on bus in
// region to replicate events; its replication role may manage only those.
func ManagedRuleArnPattern(scope awscdk.Stack, region, bus string) *string {
	return scope.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("events"), Region: jsii.String(region),
		Resource: jsii.String("rule"), ResourceName: jsii.String(bus + "/GlobalEndpointManagedRule-*"),
	})
}

// HealthCheckArn is the Route 53 health check ARN a global endpoint expects
// (Route 53 is global: no region or account in the ARN).
func HealthCheckArn(scope awscdk.Stack, healthCheckID *string) *string {
	return scope.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("route53"), Region: jsii.String(""), Account: jsii.String(""),
		Resource: jsii.String("healthcheck"), ResourceName: healthCheckID,
	})
}
