// Package config is TAP's one typed configuration: what the CDK app deploys,
// where, and with which limits. It is loaded once at the entrypoint from CDK
// context and the environment and validated before any construct is built, so a
// bad setting stops synthesis with one message naming the setting and the
// values it accepts (DESIGN §1).
package config

import (
	"fmt"
	"time"

	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/schema"
)

// BillingMode is how the orders table pays for throughput.
type BillingMode string

// The billing modes TAP supports.
const (
	// OnDemand pays per request; no capacity to manage. The default.
	OnDemand BillingMode = "on-demand"
	// Provisioned pays for capacity that auto scaling keeps between Min and Max.
	Provisioned BillingMode = "provisioned"
)

// Capacity is the auto-scaling range of provisioned read or write capacity units.
type Capacity struct {
	Min int
	Max int
}

// Config is the validated configuration of one TAP environment.
type Config struct {
	// Env is the environment name that prefixes every resource name. Default "dev".
	Env string
	// Account is the AWS account ID; empty means "the account of the
	// credentials at deploy time" (the stacks then use AWS::AccountId).
	Account string
	// PrimaryRegion holds the table's primary replica and the global endpoint. Default us-east-1.
	PrimaryRegion string
	// SecondaryRegion is where the endpoint fails over to. Default us-west-2.
	SecondaryRegion string
	// AlertEmail receives every alarm. Defaulted (with a warning) only so synth works.
	AlertEmail string
	// BillingMode of the orders table. Default on-demand.
	BillingMode BillingMode
	// TableConsistency is the orders table's multi-Region consistency:
	// schema.Eventual (MREC) or schema.Strong (MRSC). Fixed when the table
	// is created (DESIGN §3, strong consistency). Default schema.Eventual.
	TableConsistency schema.Consistency
	// MRSCThirdRegion is the third Region of a strongly consistent table,
	// which holds the witness or the third replica; the primary and
	// secondary are always the two full replicas. Default under
	// schema.Strong: the one other Region of the replicas' MRSC Region set,
	// when there is exactly one (us-east-1 + us-west-2 → us-east-2); empty
	// under schema.Eventual.
	MRSCThirdRegion string
	// MRSCThirdRegionRole is what MRSCThirdRegion holds. Default under
	// schema.Strong: Witness; empty under schema.Eventual.
	MRSCThirdRegionRole ThirdRegionRole
	// ReadCapacity and WriteCapacity bound auto scaling in provisioned mode. Default 5..100.
	ReadCapacity, WriteCapacity Capacity
	// ProcessorMemoryMB is the Lambda memory size. Default 1769: one full
	// vCPU (Lambda scales CPU with memory), so the processor's own time per
	// event is as short as it gets (it runs on one thread), for about 3 % more
	// on the whole bill than the cheapest size; the measured table and the
	// rule are in BENCHMARKS.md (make bench).
	ProcessorMemoryMB int
	// ProcessorReservedConcurrency caps the processor's concurrency; 0 means unreserved. Default 0.
	ProcessorReservedConcurrency int
	// ProcessorTimeout is the Lambda timeout. Default 30 s.
	ProcessorTimeout time.Duration
	// TargetRetryAttempts is EventBridge's retry count for the processor target. Default 185 (service max).
	TargetRetryAttempts int
	// TargetMaxEventAge is how long EventBridge keeps retrying delivery. Default 24 h (service max).
	TargetMaxEventAge time.Duration
	// AsyncRetryAttempts is Lambda's retry count for function errors. Default 2 (service max).
	AsyncRetryAttempts int
	// AsyncMaxEventAge is how long Lambda keeps an async event. Default 6 h (service max).
	AsyncMaxEventAge time.Duration
	// LogRetentionDays of the processor's log group. Default 30.
	LogRetentionDays int
	// ArchiveRetentionDays of the bus archive; 0 keeps events forever. Default 90.
	ArchiveRetentionDays int
	// LogLevel is the processor's POWERTOOLS_LOG_LEVEL. Default INFO.
	LogLevel string
	// DLQRetention is how long both dead-letter queues keep a message.
	// Default 14 days, the SQS maximum.
	DLQRetention time.Duration
	// HealthCheckInsufficientData is the Route 53 health check's
	// InsufficientDataHealthStatus: what the endpoint's primary counts as
	// while its alarm cannot be evaluated. Default Unhealthy (DESIGN §1).
	HealthCheckInsufficientData string
	// Warnings are problems that do not stop synthesis (e.g. a defaulted alert
	// email); the entrypoint prints them on stderr.
	Warnings []string
}

// Names returns the deterministic resource names of this environment.
func (c Config) Names() names.Names { return names.For(c.Env) }

// Regions returns the primary then the secondary region.
func (c Config) Regions() []string { return []string{c.PrimaryRegion, c.SecondaryRegion} }

// Peer returns the other region of the pair.
func (c Config) Peer(region string) string {
	if region == c.PrimaryRegion {
		return c.SecondaryRegion
	}
	return c.PrimaryRegion
}

// Describe is a one-line summary for the entrypoint's output.
func (c Config) Describe() string {
	account := c.Account
	if account == "" {
		account = "<deploy-time account>"
	}
	table := "consistency=" + string(c.TableConsistency)
	if c.TableConsistency == schema.Strong {
		table += fmt.Sprintf(" %s=%s", c.MRSCThirdRegionRole, c.MRSCThirdRegion)
	}
	return fmt.Sprintf("env=%s account=%s primary=%s secondary=%s billing=%s %s",
		c.Env, account, c.PrimaryRegion, c.SecondaryRegion, c.BillingMode, table)
}
