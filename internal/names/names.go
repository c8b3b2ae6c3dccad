// Package names derives every deterministic resource name of a TAP environment
// from its env name, so the CDK app, the processor, tapctl and the tests never
// spell a name twice (DESIGN §3).
package names

import "fmt"

// Names holds the env name; its methods return the names built from it.
// The same names are used in both regions.
type Names struct {
	// Env is the environment name, e.g. "dev" (validated by the config package).
	Env string
}

// For returns the names of environment env.
func For(env string) Names { return Names{Env: env} }

func (n Names) prefixed(s string) string { return fmt.Sprintf("tap-%s-%s", n.Env, s) }

// Table is the DynamoDB global table, e.g. tap-dev-orders.
func (n Names) Table() string { return n.prefixed("orders") }

// Bus is the EventBridge bus, the same in both regions, e.g. tap-dev-trading.
func (n Names) Bus() string { return n.prefixed("trading") }

// Archive is the bus's event archive (replay source).
func (n Names) Archive() string { return n.prefixed("trading-archive") }

// ProcessorRule is the rule that routes trading events to the processor.
func (n Names) ProcessorRule() string { return n.prefixed("processor") }

// HeartbeatSchedule is the rule that publishes a Heartbeat event every minute.
func (n Names) HeartbeatSchedule() string { return n.prefixed("heartbeat") }

// DeliveryDLQ is the queue for events EventBridge could not deliver to the processor.
func (n Names) DeliveryDLQ() string { return n.prefixed("delivery-dlq") }

// ProcessingDLQ is the queue for events the processor could not or must not apply.
func (n Names) ProcessingDLQ() string { return n.prefixed("processing-dlq") }

// Processor is the Lambda function name.
func (n Names) Processor() string { return n.prefixed("processor") }

// AlertTopic is the SNS topic all alarms notify.
func (n Names) AlertTopic() string { return n.prefixed("alerts") }

// Dashboard is the per-region CloudWatch dashboard; region is part of the name
// because dashboards are global to the account in the console's listing.
func (n Names) Dashboard(region string) string { return n.prefixed("pipeline-" + region) }

// Endpoint is the EventBridge global endpoint.
func (n Names) Endpoint() string { return n.prefixed("endpoint") }

// HealthAlarm is the alarm whose state drives the global endpoint's failover.
func (n Names) HealthAlarm() string { return n.prefixed("primary-health") }

// Alarm is the name of a per-region alarm, e.g. tap-dev-us-east-1-processing-dlq-depth.
func (n Names) Alarm(region, what string) string { return n.prefixed(region + "-" + what) }

// ServiceName is the POWERTOOLS_SERVICE_NAME of the processor.
func (n Names) ServiceName() string { return "tap-processor" }

// MetricsNamespace is the CloudWatch namespace of the processor's EMF metrics.
func (n Names) MetricsNamespace() string { return "TAP/" + n.Env }

// DataStack is the stack holding the global table (primary region).
func (n Names) DataStack() string { return fmt.Sprintf("Tap-%s-Data", n.Env) }

// ProcessingStack is the stack of one region's processing path.
func (n Names) ProcessingStack(region string) string {
	return fmt.Sprintf("Tap-%s-Processing-%s", n.Env, region)
}

// FailoverStack is the stack holding the global endpoint (primary region).
func (n Names) FailoverStack() string { return fmt.Sprintf("Tap-%s-Failover", n.Env) }
