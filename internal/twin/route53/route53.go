// Package route53 is a Route 53 CLOUDWATCH_METRIC health check for the
// two-region twin (DESIGN §8.1): a health check whose status follows a
// CloudWatch alarm (internal/twin/cloudwatch), read on an injected clock. It
// makes no AWS call.
//
// # What it follows
//
// Route 53 Developer Guide, "How Amazon Route 53 determines whether a health
// check is healthy", section "How Route 53 determines the status of health
// checks that monitor CloudWatch alarms",
// https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html:
//   - OK makes the health check healthy, ALARM unhealthy; when there is not
//     enough information to determine the alarm's state the status follows
//     InsufficientDataHealthStatus: Healthy, Unhealthy, or LastKnownStatus.
//   - "Route 53 considers a new health check to be healthy until there's
//     enough data to determine the actual status" (InitialHealthy).
//   - Route 53 "monitors the data stream for the corresponding alarm instead
//     of monitoring the alarm state" (so SetAlarmState cannot force it). The
//     twin reads the alarm's state through an AlarmSource, which is the same
//     thing as long as the source is the alarm evaluated on that data
//     stream, as cloudwatch.Alarm is.
//
// Route 53 API Reference, HealthCheckConfig, InsufficientDataHealthStatus,
// https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html,
// and the Developer Guide's "Values that you specify when you create or
// update health checks" (Monitoring a CloudWatch alarm):
//   - LastKnownStatus "uses the status of the health check from the last
//     time that CloudWatch had sufficient data to determine the alarm state.
//     For new health checks that have no last known status, the default
//     status for the health check is healthy."
//   - Route 53 supports alarms on standard-resolution metrics with the
//     Average, Minimum, Maximum, Sum and SampleCount statistics.
//
// EventBridge User Guide, "Setting up the Route 53 health check for
// EventBridge global endpoints",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-ge-cfn.html:
// the template's health check is CLOUDWATCH_METRIC on the latency alarm, its
// InsufficientDataHealthStatus Unhealthy when missing data is breaching (the
// default) and LastKnownStatus when it is missing.
//
// # ASSUMED where no page says
//
//   - How often Route 53 reads the alarm: no page gives a figure for
//     CLOUDWATCH_METRIC health checks (the 10 s / 30 s request interval is
//     for endpoint health checks only). It is Config.Interval;
//     AssumedAWSInterval is the figure the twin used so far.
//   - When the alarm's region's CloudWatch cannot be reached (the source
//     reports ok=false), the alarm state is unavailable and is treated as
//     insufficient data: there is no data stream to determine the state
//     from.
//   - Health check inversion is not modelled (the deployed check does not
//     invert).
package route53

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tap-trading/tap/internal/twin/cloudwatch"
)

// InsufficientDataHealthStatus is the status a CLOUDWATCH_METRIC health
// check takes when the alarm's state cannot be determined.
type InsufficientDataHealthStatus string

// The values Route 53 accepts.
const (
	Healthy         InsufficientDataHealthStatus = "Healthy"
	Unhealthy       InsufficientDataHealthStatus = "Unhealthy"
	LastKnownStatus InsufficientDataHealthStatus = "LastKnownStatus"
)

// InsufficientDataHealthStatuses are the accepted values.
var InsufficientDataHealthStatuses = []InsufficientDataHealthStatus{Healthy, Unhealthy, LastKnownStatus}

// InitialHealthy is what AWS documents a new health check to be until there
// is enough data: healthy.
const InitialHealthy = true

// AssumedAWSInterval is how often the twin has Route 53 read the alarm, in
// AWS time. ASSUMED: no page gives the figure for CLOUDWATCH_METRIC health
// checks; 30 s is endpoint health checks' standard request interval.
const AssumedAWSInterval = 30 * time.Second

// Config is a CLOUDWATCH_METRIC health check.
type Config struct {
	// InsufficientData is the status when the alarm's state cannot be
	// determined.
	InsufficientData InsufficientDataHealthStatus
	// Interval is how often Route 53 reads the alarm, scaled by the caller:
	// Poll reads it at most once per Interval. 0 reads it on every Poll.
	Interval time.Duration
}

// Validate names a setting the health check cannot run with.
func (c Config) Validate() error {
	if !slices.Contains(InsufficientDataHealthStatuses, c.InsufficientData) {
		return fmt.Errorf("route53: health check: InsufficientDataHealthStatus %q: must be one of Healthy, Unhealthy, LastKnownStatus", c.InsufficientData)
	}
	if c.Interval < 0 {
		return fmt.Errorf("route53: health check: Interval %s: must not be negative", c.Interval)
	}
	return nil
}

// AlarmSource is how the health check reads its alarm: the alarm's state,
// and ok=false when the alarm's region's CloudWatch cannot be reached.
type AlarmSource func() (state cloudwatch.State, ok bool)

// Transition is a change of the health check's status.
type Transition struct {
	At      time.Time
	Healthy bool
	// AlarmState is the alarm state read, "" when it could not be read.
	AlarmState cloudwatch.State
	// Reachable is false when the alarm's CloudWatch could not be reached.
	Reachable bool
	Reason    string
}

// HealthCheck is one CLOUDWATCH_METRIC health check. Safe for concurrent
// use; the source is called with the health check's lock held, so it must
// not call back into the health check.
type HealthCheck struct {
	cfg Config
	src AlarmSource

	mu        sync.Mutex
	healthy   bool
	read      bool      // the alarm has been read at least once
	lastRead  time.Time // when it was last read
	lastState cloudwatch.State
	lastOK    bool
	history   []Transition
}

// New returns a health check on src, healthy or not as initialHealthy says
// until its first read. AWS starts a new health check healthy
// (InitialHealthy).
func New(cfg Config, src AlarmSource, initialHealthy bool) (*HealthCheck, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if src == nil {
		return nil, fmt.Errorf("route53: health check: no alarm source")
	}
	return &HealthCheck{cfg: cfg, src: src, healthy: initialHealthy}, nil
}

// Poll reads the alarm if Interval has passed since the last read (the
// first Poll always reads) and reports the status and whether this poll
// changed it. ALARM is unhealthy and OK healthy; INSUFFICIENT_DATA, an
// unknown state, or an unreachable CloudWatch give the InsufficientData
// status, LastKnownStatus keeping the current one.
func (h *HealthCheck) Poll(now time.Time) (healthy bool, changed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.read && now.Before(h.lastRead.Add(h.cfg.Interval)) {
		return h.healthy, false
	}
	state, ok := h.src()
	h.read, h.lastRead, h.lastState, h.lastOK = true, now, state, ok
	next, reason := h.judge(state, ok)
	if next == h.healthy {
		return h.healthy, false
	}
	h.healthy = next
	if !ok {
		state = ""
	}
	h.history = append(h.history, Transition{At: now, Healthy: next, AlarmState: state, Reachable: ok, Reason: reason})
	return next, true
}

func (h *HealthCheck) judge(state cloudwatch.State, ok bool) (bool, string) {
	var why string
	switch {
	case ok && state == cloudwatch.StateOK:
		return true, "the alarm is OK"
	case ok && state == cloudwatch.StateAlarm:
		return false, "the alarm is in ALARM"
	case !ok:
		why = "the alarm's CloudWatch cannot be reached (treated as insufficient data)"
	case state == cloudwatch.StateInsufficientData:
		why = "the alarm has insufficient data"
	default:
		why = fmt.Sprintf("the alarm's state %q is not one Route 53 knows (treated as insufficient data)", state)
	}
	switch h.cfg.InsufficientData {
	case Healthy:
		return true, why + ": InsufficientDataHealthStatus Healthy"
	case Unhealthy:
		return false, why + ": InsufficientDataHealthStatus Unhealthy"
	}
	return h.healthy, why + ": InsufficientDataHealthStatus LastKnownStatus"
}

// Healthy is the current status.
func (h *HealthCheck) Healthy() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.healthy
}

// LastRead is when the alarm was last read and what was read; at is zero
// before the first read.
func (h *HealthCheck) LastRead() (at time.Time, state cloudwatch.State, reachable bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastRead, h.lastState, h.lastOK
}

// History is every status change so far, oldest first.
func (h *HealthCheck) History() []Transition {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Transition(nil), h.history...)
}
