package infra

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/schema"
)

// ScheduledTimePlaceholder is replaced by EventBridge Scheduler with the
// invocation's scheduled time in RFC 3339 (e.g. 2022-03-22T18:59:43Z).
const ScheduledTimePlaceholder = "<aws.scheduler.scheduled-time>"

// HeartbeatProps configure a region's heartbeat.
type HeartbeatProps struct {
	// Heartbeat is the schedule's physical name, rate and target retry
	// policy. Required: deployspec.For(cfg).Heartbeat.
	Heartbeat deployspec.Heartbeat
	// BusArn is this region's trading bus. Required.
	BusArn *string
	// Region is written into the event as the region it was sent to. Required.
	Region string
}

// Heartbeat is the schedule and the role it publishes with.
type Heartbeat struct {
	constructs.Construct
	Schedule awsscheduler.CfnSchedule
	Role     awsiam.Role
}

// NewHeartbeat publishes {"source":"tap.trading","detail-type":"Heartbeat",
// "detail":{"region":<region>,"sentAt":<scheduled time>}} to the bus at the
// spec's rate (every minute), which keeps the failover health metric alive
// outside market hours.
//
// It is an EventBridge Scheduler schedule, not a schedule rule: rules with a
// schedule exist only on the default bus, and an event-bus target forwards the
// "Scheduled Event" unchanged (no input transformer), so a rule could never
// emit the contract's source and detail-type. Scheduler's EventBridge target
// sets both and fills <aws.scheduler.scheduled-time> (RFC 3339) in the detail.
func NewHeartbeat(scope constructs.Construct, id string, p HeartbeatProps) *Heartbeat {
	hb := p.Heartbeat
	expression := hb.ScheduleExpression() // panics on a rate Scheduler cannot express
	c := constructs.NewConstruct(scope, jsii.String(id))
	account := awscdk.Stack_Of(c).Account()

	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": account}},
		}),
		Description: jsii.String("Lets the " + hb.Name + " schedule put Heartbeat events on its bus"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("PutHeartbeatOnThisBus"),
		Actions:   jsii.Strings("events:PutEvents"),
		Resources: &[]*string{p.BusArn},
	}))

	// Scheduler substitutes the placeholder textually, so it must appear
	// verbatim: no HTML escaping of '<' and '>'.
	var detail bytes.Buffer
	enc := json.NewEncoder(&detail)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]string{"region": p.Region, "sentAt": ScheduledTimePlaceholder}); err != nil {
		panic(err) // a map of strings always encodes
	}
	schedule := awsscheduler.NewCfnSchedule(c, jsii.String("Schedule"), &awsscheduler.CfnScheduleProps{
		Name:               jsii.String(hb.Name),
		Description:        jsii.String("Heartbeat event to this region's trading bus at " + expression),
		ScheduleExpression: jsii.String(expression),
		FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
		Target: &awsscheduler.CfnSchedule_TargetProperty{
			Arn:     p.BusArn,
			RoleArn: role.RoleArn(),
			Input:   jsii.String(strings.TrimSpace(detail.String())),
			EventBridgeParameters: &awsscheduler.CfnSchedule_EventBridgeParametersProperty{
				Source:     jsii.String(schema.Source),
				DetailType: jsii.String(schema.DetailTypeHeartbeat),
			},
			// A heartbeat older than one rate is replaced by the next one.
			RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{
				MaximumRetryAttempts:     jsii.Number(hb.RetryAttempts),
				MaximumEventAgeInSeconds: jsii.Number(hb.MaxEventAge.Seconds()),
			},
		},
	})
	// The schedule references only the role; its permission is the role's
	// separate default policy, which must exist before the first invocation.
	schedule.Node().AddDependency(role)
	return &Heartbeat{Construct: c, Schedule: schedule, Role: role}
}
