package twin

import (
	"time"

	"github.com/tap-trading/tap/internal/twin/route53"
)

// Scale converts AWS durations to the twin's and back: one factor for
// every duration, the local period over the alarm's period.
type Scale struct {
	local, aws time.Duration
}

// NewScale is the scale that makes aws last local.
func NewScale(local, aws time.Duration) Scale { return Scale{local: local, aws: aws} }

// Factor is local time per AWS time (1/30 for 2 s standing for 60 s).
func (s Scale) Factor() float64 { return float64(s.local) / float64(s.aws) }

// Local is the twin's time for an AWS duration.
func (s Scale) Local(aws time.Duration) time.Duration {
	return time.Duration(float64(aws) * s.Factor())
}

// AWS is the AWS-equivalent of a twin duration.
func (s Scale) AWS(local time.Duration) time.Duration {
	return time.Duration(float64(local) / s.Factor()).Round(time.Second)
}

// AWS behaviour the deployment does not configure, with its source.
const (
	// EventBridgeDefaultMaxEventAge is the default retry policy of a target
	// without one, the global endpoint's managed replication rule included:
	// "By default, EventBridge retries sending the event for 24 hours and
	// up to 185 times with an exponential back off and jitter"
	// (EventBridge User Guide, "Retrying events that aren't delivered",
	// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html).
	EventBridgeDefaultMaxEventAge = 24 * time.Hour
)

// AWS behaviour no deployed value sets, each with its source or marked
// ASSUMED.
const (
	// Route53AlarmPollInterval is how often Route 53 reads the alarm of a
	// CLOUDWATCH_METRIC health check (route53.AssumedAWSInterval: ASSUMED,
	// Route 53 documents the interval of endpoint checks only).
	Route53AlarmPollInterval = route53.AssumedAWSInterval
	// MetricDeliveryDelay is how long after a period ends its datapoint is
	// visible to alarm evaluation. ASSUMED: EventBridge sends its metrics
	// every minute, best effort, possibly delayed, with no figure given
	// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html).
	MetricDeliveryDelay = 30 * time.Second
	// Route53InitialHealthy is a new health check's status before its
	// first read: healthy (Route 53 API Reference, HealthCheckConfig,
	// https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html).
	Route53InitialHealthy = route53.InitialHealthy
)
