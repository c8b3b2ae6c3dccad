package local

import (
	"sync"
	"time"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/deployspec"
)

// The local pipeline takes every deployed value from a deployspec.Spec (the
// rule's name and whole pattern, the table, the queues and their retention,
// the function's timeout and asynchronous retries, the target's retry
// policy) and runs it at a time scale: a local duration is the AWS duration
// × scale. Scale 1 runs at AWS's own times; the two-region twin runs at its
// health period ÷ 60 s (DESIGN §8.1).
//
// `tapctl local` (one region) runs at DefaultScale, 1, and passes its flags
// as explicit invoker limits, which take precedence: Lambda's retry backoff
// 500 ms (1/120 of AWS's minute, so a failing event settles in seconds),
// the 6 h maximum event age and the 30 s function timeout. Its dead-letter
// queues keep AWS's 14 days.

// DefaultScale is the time scale of a pipeline whose Config.Scale is zero:
// AWS's own durations.
const DefaultScale = 1.0

// LambdaRetryBackoff is Lambda's wait before the first retry of a failed
// asynchronous invocation; it doubles for the second. "If the function
// returns an error, by default Lambda attempts to run it two more times,
// with a one-minute wait between the first two attempts, and two minutes
// between the second and third attempts" (Lambda Developer Guide, "How
// Lambda handles errors and retries with asynchronous invocation",
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
// It is AWS's behaviour, not a deployed setting, so it is not in the spec.
const LambdaRetryBackoff = time.Minute

// EventBridge retries a delivery the target refused "with an exponential
// back off and jitter, or randomized delay", by default "for 24 hours and up
// to 185 times" (EventBridge User Guide, "Event retry policy and using
// dead-letter queues",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html,
// which links the Architecture Blog's "Exponential Backoff And Jitter",
// https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
// Neither the base nor the cap is published.
//
// ASSUMED: the n-th retry waits a uniformly random time in
// [0, min(TargetRetryCap, TargetRetryBase × 2^(n-1))) (the blog's "full
// jitter"), with a 1 s base and a 15 min cap. The cap is the one at which
// the two published defaults describe the same schedule: 10 doubling
// retries take about 8.5 min on average, and the other 175 average 7.5 min
// each, so the 185th retry falls due after about 22 h, just inside 24 h.
const (
	TargetRetryBase = time.Second
	TargetRetryCap  = 15 * time.Minute
)

// FunctionTimeoutFloor is the least function timeout InvokerFromSpec gives,
// whatever the scale. The local AWS (moto) answers in milliseconds what
// DynamoDB answers in tens of microseconds, about 100 times slower, and
// serializes DynamoDB requests (DESIGN §8), so an invocation that takes tens
// of milliseconds in AWS can take seconds locally under load; a timeout
// scaled below that would fail healthy invocations. 5 s is what the drill
// used before the scale existed.
const FunctionTimeoutFloor = 5 * time.Second

// MinQueueRetention and MaxQueueRetention are SQS's bounds on a queue's
// MessageRetentionPeriod (60 s to 14 days).
const (
	MinQueueRetention = time.Minute
	MaxQueueRetention = 14 * 24 * time.Hour
)

// SpecFor returns the deployed behaviour of env with every other setting at
// its default (config.Defaults): what `tapctl local` provisions.
func SpecFor(env string) deployspec.Spec {
	c := config.Defaults()
	c.Env = env
	return deployspec.For(c)
}

// Scaled returns d × scale, at least 1 ns when d is positive.
func Scaled(d time.Duration, scale float64) time.Duration {
	if d <= 0 {
		return d
	}
	return max(time.Duration(float64(d)*scale), 1)
}

// InvokerFromSpec returns the invoker limits of s at scale: the function
// timeout (at least FunctionTimeoutFloor), Lambda's asynchronous retries
// and maximum event age, Lambda's retry backoff, the target's retry policy
// and EventBridge's delivery backoff, every duration × scale. The caller
// adds the queues, the hooks and the concurrency.
func InvokerFromSpec(s deployspec.Spec, scale float64) InvokerConfig {
	return InvokerConfig{
		Timeout:             max(Scaled(s.Function.Timeout, scale), FunctionTimeoutFloor),
		RetryAttempts:       s.Function.AsyncRetryAttempts,
		RetryBackoff:        Scaled(LambdaRetryBackoff, scale),
		MaxEventAge:         Scaled(s.Function.AsyncMaxEventAge, scale),
		TargetRetryAttempts: s.Target.MaximumRetryAttempts,
		TargetMaxEventAge:   Scaled(s.Target.MaximumEventAge, scale),
		TargetRetryBase:     Scaled(TargetRetryBase, scale),
		TargetRetryCap:      Scaled(TargetRetryCap, scale),
	}
}

// dlqRetention is the dead-letter queues' retention of s at scale, within
// SQS's bounds.
func dlqRetention(s deployspec.Spec, scale float64) time.Duration {
	return min(max(Scaled(s.DLQ.Retention, scale), MinQueueRetention), MaxQueueRetention)
}

// defaultLimits are the limits of an invoker built with no spec: the
// defaults' at DefaultScale.
var defaultLimits = sync.OnceValue(func() InvokerConfig { return InvokerFromSpec(SpecFor(DefaultEnv), DefaultScale) })

// withDurationsFrom fills c's zero durations from base. Counts (Lambda's
// and EventBridge's retry attempts) are taken as given: zero means none, as
// it does in AWS.
func (c InvokerConfig) withDurationsFrom(base InvokerConfig) InvokerConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Timeout, base.Timeout)
	def(&c.RetryBackoff, base.RetryBackoff)
	def(&c.MaxEventAge, base.MaxEventAge)
	def(&c.TargetMaxEventAge, base.TargetMaxEventAge)
	def(&c.TargetRetryBase, base.TargetRetryBase)
	def(&c.TargetRetryCap, base.TargetRetryCap)
	return c
}
