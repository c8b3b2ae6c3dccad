package producer

import "time"

// Metrics receives a producer's figures as they change, for the caller to
// export (CloudWatch EMF, Prometheus, a log line). Calls come from the
// producer's goroutines, one at a time per producer; they must not block.
// Embed NopMetrics to implement only some of them.
//
// An entry's life in these terms: Spooled once (with a spool) when Send
// returns; then every call that carries it either accepts it (Accepted,
// once) or refuses it (Refused); a refused entry is sent again (Retried) or
// given up (Failed, once). So over a producer's life, with nothing left
// unsent, Accepted + Failed is the number of entries, and Refused is
// Retried + the refusals that ended in Failed.
type Metrics interface {
	// Accepted counts entries EventBridge accepted (gave an event ID).
	Accepted(n int)
	// Refused counts entry attempts EventBridge refused: an entry's
	// ErrorCode, or a whole call failing for a reason a retry can fix.
	Refused(n int)
	// Retried counts entries sent again after a refusal.
	Retried(n int)
	// Failed counts entries given up: refused for a reason no retry can fix
	// (MalformedDetail, AccessDenied...), or out of attempts or time.
	Failed(n int)
	// Spooled counts entries written and fsync'd to the spool.
	Spooled(n int)
	// OldestUnsent is the age of the oldest entry not yet settled (0 when
	// there is none), reported after every call: the producer's lag. With a
	// spool, an entry's age counts from when it was first spooled, across
	// restarts.
	OldestUnsent(age time.Duration)
}

// NopMetrics discards every figure; embed it to implement Metrics in part.
type NopMetrics struct{}

// Accepted implements Metrics.
func (NopMetrics) Accepted(int) {}

// Refused implements Metrics.
func (NopMetrics) Refused(int) {}

// Retried implements Metrics.
func (NopMetrics) Retried(int) {}

// Failed implements Metrics.
func (NopMetrics) Failed(int) {}

// Spooled implements Metrics.
func (NopMetrics) Spooled(int) {}

// OldestUnsent implements Metrics.
func (NopMetrics) OldestUnsent(time.Duration) {}

// Stats is a snapshot of a Producer's figures since it was opened.
type Stats struct {
	// Accepted, Refused, Retried, Failed and Spooled are the totals of the
	// Metrics calls of the same names.
	Accepted, Refused, Retried, Failed, Spooled int
	// Resumed counts the entries found unsent in the spool when the
	// producer opened it (left by an earlier producer that stopped or
	// crashed); they are sent first.
	Resumed int
	// Unsent counts entries taken by Send and not yet settled (queued or
	// in a call).
	Unsent int
	// OldestUnsent is the age of the oldest of them (0 when none).
	OldestUnsent time.Duration
	// Calls counts PutEvents calls.
	Calls int
	// SpoolBytes is the spool's size on disk (0 without a spool).
	SpoolBytes int64
}
