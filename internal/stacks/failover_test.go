package stacks

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/tap-trading/tap/internal/deployspec"
)

func failoverTemplate() assertions.Template { return tpl[cfg.Names().FailoverStack()] }

func busArn(region string) map[string]any {
	return map[string]any{"Fn::Join": []any{"", []any{
		"arn:aws:events:" + region + ":", ref("AWS::AccountId"), ":event-bus/" + cfg.Names().Bus(),
	}}}
}

func failoverIDs(t *testing.T) (alarm, healthCheck, role string) {
	t.Helper()
	tp := failoverTemplate()
	alarm = logicalID(t, tp, "AWS::CloudWatch::Alarm", nil)
	healthCheck = logicalID(t, tp, "AWS::Route53::HealthCheck", nil)
	role = logicalID(t, tp, "AWS::IAM::Role", nil)
	return alarm, healthCheck, role
}

// TestEndpointHealthCheckIsRoute53ARN: the seed passed a URL; the endpoint
// takes arn:aws:route53:::healthcheck/<id>.
func TestEndpointHealthCheckIsRoute53ARN(t *testing.T) {
	_, hc, _ := failoverIDs(t)
	hasResource(t, failoverTemplate(), "AWS::Events::Endpoint", map[string]any{
		"RoutingConfig": map[string]any{"FailoverConfig": map[string]any{
			"Primary": map[string]any{"HealthCheck": map[string]any{"Fn::Join": []any{"", []any{
				"arn:aws:route53:::healthcheck/", map[string]any{"Fn::GetAtt": getAtt(hc, "HealthCheckId")},
			}}}},
			"Secondary": map[string]any{"Route": cfg.SecondaryRegion},
		}},
	})
}

func TestEndpointHasExactlyTheTwoBuses(t *testing.T) {
	hasResource(t, failoverTemplate(), "AWS::Events::Endpoint", map[string]any{
		"Name": cfg.Names().Endpoint(),
		"EventBuses": assertions.Match_Exact([]any{
			map[string]any{"EventBusArn": busArn(cfg.PrimaryRegion)},
			map[string]any{"EventBusArn": busArn(cfg.SecondaryRegion)},
		}),
	})
}

func TestEndpointReplicationHasRole(t *testing.T) {
	_, _, role := failoverIDs(t)
	hasResource(t, failoverTemplate(), "AWS::Events::Endpoint", map[string]any{
		"ReplicationConfig": map[string]any{"State": "ENABLED"},
		"RoleArn":           arnOf(role),
	})
	hasResource(t, failoverTemplate(), "AWS::IAM::Role", map[string]any{
		"AssumeRolePolicyDocument": map[string]any{"Statement": []any{assertions.Match_ObjectLike(&map[string]any{
			"Action": "sts:AssumeRole", "Principal": map[string]any{"Service": "events.amazonaws.com"},
		})}},
	})
}

// TestReplicationRoleIsLeastPrivilege: exactly the statements of DESIGN §1.
func TestReplicationRoleIsLeastPrivilege(t *testing.T) {
	_, _, role := failoverIDs(t)
	rule := func(region string) map[string]any {
		return map[string]any{"Fn::Join": []any{"", []any{
			"arn:aws:events:" + region + ":", ref("AWS::AccountId"),
			":rule/" + cfg.Names().Bus() + "/GlobalEndpointManagedRule-*",
		}}}
	}
	hasResource(t, failoverTemplate(), "AWS::IAM::Policy", map[string]any{
		"Roles": []any{ref(role)},
		"PolicyDocument": map[string]any{"Statement": assertions.Match_Exact([]any{
			map[string]any{
				"Sid":      "ManageEndpointManagedRules",
				"Effect":   "Allow",
				"Action":   []any{"events:DeleteRule", "events:PutRule", "events:PutTargets", "events:RemoveTargets"},
				"Resource": []any{rule(cfg.PrimaryRegion), rule(cfg.SecondaryRegion)},
			},
			map[string]any{
				"Sid":      "PutEventsOnBothBuses",
				"Effect":   "Allow",
				"Action":   "events:PutEvents",
				"Resource": []any{busArn(cfg.PrimaryRegion), busArn(cfg.SecondaryRegion)},
			},
			map[string]any{
				"Sid":       "PassOnlyItselfToEventBridge",
				"Effect":    "Allow",
				"Action":    "iam:PassRole",
				"Resource":  arnOf(role),
				"Condition": map[string]any{"StringLike": map[string]any{"iam:PassedToService": "events.amazonaws.com"}},
			},
		})},
	})
	check(t, "no other policy", func() { failoverTemplate().ResourceCountIs(strp("AWS::IAM::Policy"), num(1)) })
}

func TestHealthAlarmOnEventBridgeLatency(t *testing.T) {
	hasResource(t, failoverTemplate(), "AWS::CloudWatch::Alarm", map[string]any{
		"AlarmName":          cfg.Names().HealthAlarm(),
		"Namespace":          "AWS/Events",
		"MetricName":         "IngestionToInvocationStartLatency",
		"Statistic":          "Average",
		"Period":             deployspec.HealthAlarmPeriod.Seconds(),
		"EvaluationPeriods":  deployspec.HealthAlarmPeriods,
		"DatapointsToAlarm":  deployspec.HealthAlarmPeriods,
		"Threshold":          deployspec.HealthAlarmThreshold.Milliseconds(),
		"ComparisonOperator": "GreaterThanThreshold",
		"TreatMissingData":   "breaching",
	})
}

func TestHealthCheckWatchesHealthAlarm(t *testing.T) {
	alarm, _, _ := failoverIDs(t)
	hasResource(t, failoverTemplate(), "AWS::Route53::HealthCheck", map[string]any{
		"HealthCheckConfig": assertions.Match_ObjectLike(&map[string]any{
			"Type":                         "CLOUDWATCH_METRIC",
			"AlarmIdentifier":              map[string]any{"Name": ref(alarm), "Region": cfg.PrimaryRegion},
			"InsufficientDataHealthStatus": cfg.HealthCheckInsufficientData,
		}),
	})
}
