package infra

import (
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tap-trading/tap/internal/deployspec"
)

// FailoverProps configure the global endpoint (deployed in the primary region).
type FailoverProps struct {
	// Spec gives the names, the primary region (the stack's, where events go
	// while healthy), the secondary (where they go when the health check
	// fails), the health alarm and the health check. Required:
	// deployspec.For(cfg).
	Spec deployspec.Spec
}

// Failover is the health alarm, its Route 53 health check, the endpoint and
// the endpoint's replication role.
type Failover struct {
	constructs.Construct
	HealthAlarm     awscloudwatch.Alarm
	HealthCheck     awsroute53.CfnHealthCheck
	Endpoint        awsevents.CfnEndpoint
	ReplicationRole awsiam.Role
}

// NewFailover creates the global endpoint whose primary is judged by a Route 53
// CLOUDWATCH_METRIC health check on EventBridge's own latency metric — not on a
// subscriber metric such as the processor's errors, which would fail over for
// a bug that follows the traffic to the secondary. The heartbeat keeps the
// metric alive when no trades flow, so missing data is treated as breaching.
func NewFailover(scope constructs.Construct, id string, p FailoverProps) *Failover {
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	spec := p.Spec
	n, primary, secondary := spec.Names, spec.Primary, spec.Secondary
	primaryBus := BusArn(stack, primary, n.Bus())
	secondaryBus := BusArn(stack, secondary, n.Bus())
	// The primary region's alert topic, created by its processing stack.
	topic := awssns.Topic_FromTopicArn(c, jsii.String("AlertTopic"), TopicArn(stack, primary, n.AlertTopic()))

	ha := spec.HealthAlarm
	alarm := NewAlarm(c, "HealthAlarm", specAlarm(ha, fmt.Sprintf(
		"EventBridge %s in %s breached (%s over %g s %s %g ms) in %d of %d periods, or was absent: the global endpoint %s fails over to %s.",
		ha.MetricName, primary, ha.Statistic, ha.Period.Seconds(), ha.ComparisonOperator, ha.Threshold,
		ha.DatapointsToAlarm, ha.EvaluationPeriods, n.Endpoint(), secondary,
	)), topic)

	healthCheck := awsroute53.NewCfnHealthCheck(c, jsii.String("HealthCheck"), &awsroute53.CfnHealthCheckProps{
		HealthCheckConfig: &awsroute53.CfnHealthCheck_HealthCheckConfigProperty{
			Type: jsii.String(spec.HealthCheck.Type),
			AlarmIdentifier: &awsroute53.CfnHealthCheck_AlarmIdentifierProperty{
				Name: alarm.AlarmName(), Region: jsii.String(primary),
			},
			// What the primary counts as while CloudWatch has too little
			// data to evaluate the alarm (tap:healthCheckInsufficientData).
			// Unhealthy, the default: fail over when the primary's CloudWatch
			// cannot evaluate the alarm in a regional outage, where
			// LastKnownStatus would keep routing to the region last seen
			// healthy. The price: a new alarm has insufficient data until its
			// first evaluation, so a fresh endpoint may start on the secondary.
			InsufficientDataHealthStatus: jsii.String(spec.HealthCheck.InsufficientDataHealthStatus),
		},
		HealthCheckTags: &[]*awsroute53.CfnHealthCheck_HealthCheckTagProperty{
			{Key: jsii.String("Name"), Value: jsii.String(ha.Name)},
		},
	})

	role, policy := newReplicationRole(c, stack, spec, primaryBus, secondaryBus)

	endpoint := awsevents.NewCfnEndpoint(c, jsii.String("Endpoint"), &awsevents.CfnEndpointProps{
		Name:        jsii.String(n.Endpoint()),
		Description: jsii.String("TAP " + n.Env + " ingestion: " + primary + ", failing over to " + secondary),
		RoutingConfig: &awsevents.CfnEndpoint_RoutingConfigProperty{
			FailoverConfig: &awsevents.CfnEndpoint_FailoverConfigProperty{
				Primary:   &awsevents.CfnEndpoint_PrimaryProperty{HealthCheck: HealthCheckArn(stack, healthCheck.AttrHealthCheckId())},
				Secondary: &awsevents.CfnEndpoint_SecondaryProperty{Route: jsii.String(secondary)},
			},
		},
		EventBuses: &[]any{
			&awsevents.CfnEndpoint_EndpointEventBusProperty{EventBusArn: primaryBus},
			&awsevents.CfnEndpoint_EndpointEventBusProperty{EventBusArn: secondaryBus},
		},
		ReplicationConfig: &awsevents.CfnEndpoint_ReplicationConfigProperty{State: jsii.String("ENABLED")},
		RoleArn:           role.RoleArn(),
	})
	// The endpoint references only the role; without this CloudFormation may
	// create it before the policy that lets the role replicate exists.
	endpoint.Node().AddDependency(policy)
	return &Failover{Construct: c, HealthAlarm: alarm, HealthCheck: healthCheck, Endpoint: endpoint, ReplicationRole: role}
}

// newReplicationRole is the role EventBridge assumes to replicate events from
// the primary bus to the secondary: it may manage only the endpoint's managed
// rules, put events only on the two buses, and pass only itself. It returns
// the role and the policy that grants it those.
func newReplicationRole(c constructs.Construct, stack awscdk.Stack, spec deployspec.Spec, primaryBus, secondaryBus *string) (awsiam.Role, awsiam.Policy) {
	n := spec.Names
	role := awsiam.NewRole(c, jsii.String("ReplicationRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
		Description: jsii.String("Replicates events of " + n.Endpoint() + " between the two " + n.Bus() + " buses"),
	})
	// A separate policy resource (not inline in the role) so the PassRole
	// statement can name the role's own ARN without a circular reference.
	policy := awsiam.NewPolicy(c, jsii.String("ReplicationPolicy"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{role},
		Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:     jsii.String("ManageEndpointManagedRules"),
				Actions: jsii.Strings("events:PutRule", "events:PutTargets", "events:DeleteRule", "events:RemoveTargets"),
				Resources: &[]*string{
					ManagedRuleArnPattern(stack, spec.Primary, n.Bus()),
					ManagedRuleArnPattern(stack, spec.Secondary, n.Bus()),
				},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("PutEventsOnBothBuses"),
				Actions:   jsii.Strings("events:PutEvents"),
				Resources: &[]*string{primaryBus, secondaryBus},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("PassOnlyItselfToEventBridge"),
				Actions:    jsii.Strings("iam:PassRole"),
				Resources:  &[]*string{role.RoleArn()},
				Conditions: &map[string]any{"StringLike": map[string]any{"iam:PassedToService": "events.amazonaws.com"}},
			}),
		},
	})
	suppress(policy, suppression{
		rule:   "AwsSolutions-IAM5",
		reason: "EventBridge names the global endpoint's replication rules GlobalEndpointManagedRule-<random>; the wildcard is limited to that prefix on this environment's bus in the two regions.",
		appliesToRegex: []string{
			"/^Resource::arn:[^:]+:events:(" + regexp.QuoteMeta(spec.Primary) + "|" + regexp.QuoteMeta(spec.Secondary) +
				"):(<AWS::AccountId>|[0-9]{12}):rule\\/" + regexp.QuoteMeta(n.Bus()) + "\\/GlobalEndpointManagedRule-\\*$/",
		},
	})
	return role, policy
}
