// Package deployspec is the one definition of every value that decides how
// the deployed pipeline behaves: the rule's event pattern and target retry
// policy, the function's timeout and asynchronous retries, the dead-letter
// queues' retention, the table's keys, index, billing, stream, consistency
// and MRSC third region, the health alarm and the Route 53 health check on
// it, and the heartbeat's rate. It is computed from the validated
// configuration (internal/config). The CDK constructs build from it, and the
// two-region twin (internal/twin) runs on it, scaled in time; a test
// (internal/stacks) walks the synthesized templates and holds every value
// here equal to the template's, so the twin rehearses what deploys (DESIGN
// §8.1).
package deployspec

import (
	"fmt"
	"time"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/schema"
)

// Spec is the deployed behaviour of one environment. Build it with For; the
// constructs (internal/infra) take their parts as props, unchanged.
type Spec struct {
	Names              names.Names
	Primary, Secondary string
	Table              Table
	Rule               Rule
	Target             TargetRetryPolicy
	Function           Function
	DLQ                DeadLetterQueue
	HealthAlarm        Alarm
	HealthCheck        HealthCheck
	Heartbeat          Heartbeat
}

// Table is the orders global table.
type Table struct {
	Name string
	// Keys are the key schema and the global secondary indexes, with each
	// index's projection.
	Keys schema.Table
	// Billing is the table's BillingMode: BillingPayPerRequest or
	// BillingProvisioned (whose capacity range stays in config: it decides
	// cost, not behaviour).
	Billing string
	// StreamViewType is the replicas' stream view: NEW_AND_OLD_IMAGES under
	// MREC, which replicates through the stream; empty (no stream) under
	// MRSC, which does not use Streams for replication, and nothing in TAP
	// reads one (DESIGN §3, strong consistency).
	StreamViewType string
	// Consistency is the table's multi-Region consistency mode; its
	// CloudFormation form is MultiRegionConsistency.
	Consistency schema.Consistency
	// ThirdRegion is an MRSC table's third Region and ThirdRegionRole what
	// it holds: the witness or a third full replica. Both are empty under
	// MREC. The primary and secondary are always the full replicas.
	ThirdRegion     string
	ThirdRegionRole config.ThirdRegionRole
}

// MultiRegionConsistency is CloudFormation's MultiRegionConsistency for the
// table: STRONG under MRSC, empty (the property absent, which CloudFormation
// reads as EVENTUAL) under MREC, so an existing MREC table's template stays
// the one it was created from.
func (t Table) MultiRegionConsistency() string {
	if t.Consistency == schema.Strong {
		return MultiRegionConsistencyStrong
	}
	return ""
}

// Witness is the Region of the table's MRSC witness, or "" when it has none.
func (t Table) Witness() string {
	if t.Consistency == schema.Strong && t.ThirdRegionRole == config.Witness {
		return t.ThirdRegion
	}
	return ""
}

// Rule is the processor rule.
type Rule struct {
	Name string
	// Pattern is the rule's whole event pattern: each key is a top-level
	// field of the event ("source", "detail-type", ...) and its values the
	// ones that match (schema.ProcessorPattern).
	Pattern map[string][]string
}

// TargetRetryPolicy is the processor target's EventBridge retry policy; an
// event still undelivered after it goes to the delivery DLQ.
type TargetRetryPolicy struct {
	MaximumRetryAttempts int
	MaximumEventAge      time.Duration
}

// Function is the processor Lambda function.
type Function struct {
	Name    string
	Timeout time.Duration
	// AsyncRetryAttempts and AsyncMaxEventAge are its event invoke config.
	AsyncRetryAttempts int
	AsyncMaxEventAge   time.Duration
}

// DeadLetterQueue is both dead-letter queues' settings.
type DeadLetterQueue struct {
	Retention time.Duration
}

// Alarm is a CloudWatch metric alarm, in CloudFormation's terms.
type Alarm struct {
	Name, Namespace, MetricName, Statistic string
	Period                                 time.Duration
	EvaluationPeriods, DatapointsToAlarm   int
	// Threshold is in the metric's unit (milliseconds for the health alarm).
	Threshold float64
	// ComparisonOperator is CloudFormation's, e.g. GreaterThanThreshold.
	ComparisonOperator string
	// TreatMissingData is breaching, notBreaching, ignore or missing.
	TreatMissingData string
}

// HealthCheck is the Route 53 health check the endpoint's primary uses.
type HealthCheck struct {
	// Type is CLOUDWATCH_METRIC.
	Type string
	// InsufficientDataHealthStatus is Healthy, Unhealthy or LastKnownStatus.
	InsufficientDataHealthStatus string
}

// Heartbeat is the heartbeat schedule of each region.
type Heartbeat struct {
	Name string
	// Rate is the schedule's rate, a whole number of minutes
	// (ScheduleExpression spells it for EventBridge Scheduler).
	Rate time.Duration
	// RetryAttempts and MaxEventAge are the schedule target's retry policy:
	// a heartbeat older than one Rate is replaced by the next one.
	RetryAttempts int
	MaxEventAge   time.Duration
}

// ScheduleExpression is Rate as EventBridge Scheduler's rate expression, e.g.
// "rate(1 minute)". It panics on a rate that is not a positive whole number
// of minutes, which Scheduler cannot express.
func (h Heartbeat) ScheduleExpression() string {
	if h.Rate <= 0 || h.Rate%time.Minute != 0 {
		panic(fmt.Sprintf("deployspec: heartbeat rate %s is not a whole number of minutes", h.Rate))
	}
	n, unit := int64(h.Rate/time.Minute), "minute"
	switch {
	case h.Rate%(24*time.Hour) == 0:
		n, unit = int64(h.Rate/(24*time.Hour)), "day"
	case h.Rate%time.Hour == 0:
		n, unit = int64(h.Rate/time.Hour), "hour"
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("rate(%d %s)", n, unit)
}

// Regions returns the primary then the secondary region: where TAP runs.
func (s Spec) Regions() []string { return []string{s.Primary, s.Secondary} }

// TableReplicas returns the Regions holding a full replica of the table:
// the primary, the secondary and, for an MRSC table with a third replica, the
// third Region. A witness is not a replica: it serves no reads or writes.
func (s Spec) TableReplicas() []string {
	r := s.Regions()
	if s.Table.Consistency == schema.Strong && s.Table.ThirdRegionRole == config.ThirdReplica {
		r = append(r, s.Table.ThirdRegion)
	}
	return r
}

// Peer returns the other region of the pair.
func (s Spec) Peer(region string) string {
	if region == s.Primary {
		return s.Secondary
	}
	return s.Primary
}

// Values fixed by the design rather than by configuration.
const (
	// HealthMetricNamespace and HealthMetricName are EventBridge's metric the
	// health alarm watches, with no dimensions (every rule of the region).
	HealthMetricNamespace = "AWS/Events"
	HealthMetricName      = "IngestionToInvocationStartLatency"
	// HealthCheckType is Route 53's type for a health check on an alarm.
	HealthCheckType = "CLOUDWATCH_METRIC"
	// StreamViewNewAndOldImages is the stream view global tables use.
	StreamViewNewAndOldImages = "NEW_AND_OLD_IMAGES"
	// BillingPayPerRequest (on-demand) and BillingProvisioned are
	// CloudFormation's BillingMode values.
	BillingPayPerRequest = "PAY_PER_REQUEST"
	BillingProvisioned   = "PROVISIONED"
	// MultiRegionConsistencyStrong is CloudFormation's MultiRegionConsistency
	// of an MRSC table.
	MultiRegionConsistencyStrong = "STRONG"
)

// The health alarm of AWS's global-endpoint template (EventBridge User
// Guide, "Setting up the Route 53 health check for EventBridge global
// endpoints"): the Average of IngestionToInvocationStartLatency over 60 s
// above 30 s for 5 of 5 periods. Missing data breaches: the heartbeat keeps
// the metric alive, so silence means the region is not invoking anything.
const (
	HealthAlarmPeriod    = time.Minute
	HealthAlarmPeriods   = 5
	HealthAlarmThreshold = 30 * time.Second
)

// The heartbeat: every minute, so each health alarm period has data; a
// heartbeat Scheduler could not deliver within one rate is dropped, since the
// next one replaces it.
const (
	HeartbeatRate          = time.Minute
	HeartbeatRetryAttempts = 2
)

// For returns the deployed behaviour of cfg.
func For(cfg config.Config) Spec {
	n := cfg.Names()
	billing := BillingPayPerRequest
	if cfg.BillingMode == config.Provisioned {
		billing = BillingProvisioned
	}
	table := Table{
		Name: n.Table(), Keys: schema.Orders(),
		Billing: billing, StreamViewType: StreamViewNewAndOldImages, Consistency: schema.Eventual,
	}
	if cfg.TableConsistency == schema.Strong {
		table.Consistency, table.StreamViewType = schema.Strong, ""
		table.ThirdRegion, table.ThirdRegionRole = cfg.MRSCThirdRegion, cfg.MRSCThirdRegionRole
	}
	return Spec{
		Names: n, Primary: cfg.PrimaryRegion, Secondary: cfg.SecondaryRegion,
		Table:  table,
		Rule:   Rule{Name: n.ProcessorRule(), Pattern: schema.ProcessorPattern()},
		Target: TargetRetryPolicy{MaximumRetryAttempts: cfg.TargetRetryAttempts, MaximumEventAge: cfg.TargetMaxEventAge},
		Function: Function{
			Name: n.Processor(), Timeout: cfg.ProcessorTimeout,
			AsyncRetryAttempts: cfg.AsyncRetryAttempts, AsyncMaxEventAge: cfg.AsyncMaxEventAge,
		},
		DLQ: DeadLetterQueue{Retention: cfg.DLQRetention},
		HealthAlarm: Alarm{
			Name: n.HealthAlarm(), Namespace: HealthMetricNamespace, MetricName: HealthMetricName, Statistic: "Average",
			Period: HealthAlarmPeriod, EvaluationPeriods: HealthAlarmPeriods, DatapointsToAlarm: HealthAlarmPeriods,
			Threshold:          float64(HealthAlarmThreshold / time.Millisecond),
			ComparisonOperator: "GreaterThanThreshold", TreatMissingData: "breaching",
		},
		HealthCheck: HealthCheck{Type: HealthCheckType, InsufficientDataHealthStatus: cfg.HealthCheckInsufficientData},
		Heartbeat: Heartbeat{
			Name: n.HeartbeatSchedule(), Rate: HeartbeatRate,
			RetryAttempts: HeartbeatRetryAttempts, MaxEventAge: HeartbeatRate,
		},
	}
}
