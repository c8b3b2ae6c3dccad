package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/infra"
)

// Failover is the Tap-<env>-Failover stack (primary region): the global endpoint.
type Failover struct {
	awscdk.Stack
	*infra.Failover
}

// NewFailover creates the failover stack. It needs both processing stacks
// deployed (buses and the primary alert topic), so it depends on them. spec
// is deployspec.For(cfg).
func NewFailover(scope constructs.Construct, cfg config.Config, spec deployspec.Spec, after ...awscdk.Stack) *Failover {
	n := spec.Names
	s := newStack(scope, n.FailoverStack(), spec.Primary,
		"TAP "+cfg.Env+": EventBridge global endpoint "+spec.Primary+" -> "+spec.Secondary+" with its health check", cfg)
	for _, dep := range after {
		s.AddStackDependency(dep, nil)
	}

	f := infra.NewFailover(s, "Failover", infra.FailoverProps{Spec: spec})

	output(s, "EndpointId", f.Endpoint.AttrEndpointId(), "Global endpoint ID (PutEvents EndpointId)")
	output(s, "EndpointUrl", f.Endpoint.AttrEndpointUrl(), "Global endpoint URL")
	output(s, "EndpointArn", f.Endpoint.AttrArn(), "Global endpoint ARN")
	output(s, "HealthAlarmName", f.HealthAlarm.AlarmName(), "Alarm whose state drives failover")
	output(s, "HealthCheckId", f.HealthCheck.AttrHealthCheckId(), "Route 53 health check ID (tapctl failover drill)")
	return &Failover{Stack: s, Failover: f}
}
