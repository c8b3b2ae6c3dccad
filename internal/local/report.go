package local

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is the result of a demo run.
type Report struct {
	Seed    uint64 `json:"seed"`
	Orders  int    `json:"orders"`
	Options string `json:"options"`
	// Generated counts the deliveries generated; Kinds splits them by kind
	// (original, duplicate, conflicting, invalid).
	Generated int            `json:"generated"`
	Kinds     map[string]int `json:"kinds"`
	// Sent counts the entries PutEvents accepted, PublishFailed those it
	// refused, NotSent those never sent (the run was interrupted).
	Sent          int           `json:"sent"`
	PublishFailed int           `json:"publishFailed"`
	NotSent       int           `json:"notSent"`
	PublishTime   time.Duration `json:"publishTimeNs"`
	// Outcomes counts settled events by outcome; Settled is their sum
	// without unfinished ones.
	Outcomes map[string]int `json:"outcomes"`
	Settled  int            `json:"settled"`
	// DeadLettered counts the messages in the processing DLQ after the run;
	// Outranked those of executions recorded first and then outranked by
	// another event of the same (orderId, seq) with a lower eventId (the
	// processor dead-letters the loser, processor.ReasonConflict).
	DeadLettered int `json:"deadLettered"`
	Outranked    int `json:"outranked,omitempty"`
	// Elapsed runs from the first publish to the last event settled.
	Elapsed    time.Duration `json:"elapsedNs"`
	Throughput float64       `json:"throughputPerSecond"`
	// Publish-to-applied latency of the events applied.
	LatencySamples int           `json:"latencySamples"`
	LatencyP50     time.Duration `json:"latencyP50Ns"`
	LatencyP99     time.Duration `json:"latencyP99Ns"`
	LatencyMax     time.Duration `json:"latencyMaxNs"`
	// Breakdown is where the publish-to-applied time went, measured per
	// applied event.
	Breakdown *Breakdown `json:"breakdown,omitempty"`
	// Drained says every sent event was settled before the drain timeout;
	// Interrupted that the run was stopped (Ctrl-C) before verification.
	Drained bool `json:"drained"`
	// Stalled says publishing stopped early because the pipeline stopped
	// settling events.
	Stalled     bool    `json:"stalled"`
	Interrupted bool    `json:"interrupted"`
	Checks      []Check `json:"checks"`
}

// Breakdown splits the publish-to-applied latency of the applied events
// into measured parts, as means over those events (so the parts add up to
// the mean latency). Only ProcessorSelf is TAP's own cost; Delivery and
// AWSWait are the local AWS's, and InboxWait is mostly queueing behind it.
type Breakdown struct {
	// Events is how many applied events were measured.
	Events int `json:"events"`
	// Latency is the mean publish-to-applied latency.
	Latency time.Duration `json:"latencyNs"`
	// Delivery runs from PutEvents accepting the event to its arrival in the
	// inbox queue: the local EventBridge's rule matching and its SQS send.
	Delivery time.Duration `json:"deliveryNs"`
	// InboxWait runs from the inbox to the first invocation: waiting for a
	// free invocation slot and for the poll.
	InboxWait time.Duration `json:"inboxWaitNs"`
	// AWSWait is the time the processor spent waiting on the local AWS: its
	// DynamoDB and SQS round trips (DynamoDB ones serialized, see atomic.go).
	AWSWait time.Duration `json:"awsWaitNs"`
	// ProcessorSelf is the rest of the invocations: the handler's own work,
	// decoding, validating, SDK marshalling and signing, logs and metrics,
	// and waiting for a CPU.
	ProcessorSelf time.Duration `json:"processorSelfNs"`
	// Other is what is left between the first invocation and the event
	// settling: retry backoff.
	Other time.Duration `json:"otherNs"`
}

// add sums one applied event published at sent.
func (b *Breakdown) add(sent time.Time, r Result) {
	// Wall-clock readings only: Enqueued comes from SQS and has no monotonic
	// reading, and mixing the two clocks would leave the parts a few
	// nanoseconds off their sum.
	sent, r.Started, r.Done = sent.Round(0), r.Started.Round(0), r.Done.Round(0)
	b.Events++
	total := r.Done.Sub(sent)
	b.Latency += total
	b.Delivery += r.Enqueued.Sub(sent)
	b.InboxWait += r.Started.Sub(r.Enqueued)
	b.AWSWait += r.AWSWait
	b.ProcessorSelf += r.Busy - r.AWSWait
	// total = delivery + inbox wait + busy + the rest.
	b.Other += r.Done.Sub(r.Started) - r.Busy
}

// mean turns the sums into means.
func (b Breakdown) mean() *Breakdown {
	n := time.Duration(b.Events)
	return &Breakdown{
		Events: b.Events, Latency: b.Latency / n, Delivery: b.Delivery / n, InboxWait: b.InboxWait / n,
		AWSWait: b.AWSWait / n, ProcessorSelf: b.ProcessorSelf / n, Other: b.Other / n,
	}
}

// writeText writes the breakdown under the latency line.
func (b *Breakdown) writeText(p func(string, ...any)) {
	share := func(d time.Duration) string {
		if b.Latency <= 0 {
			return ""
		}
		return fmt.Sprintf("%3.0f%%", 100*float64(d)/float64(b.Latency))
	}
	p("  where the time went (mean of %d applied events, publish→applied %s):", b.Events, ms(b.Latency))
	p("    local EventBridge → inbox     %9s %s  the emulator's rule matching and delivery", ms(b.Delivery), share(b.Delivery))
	p("    inbox wait                    %9s %s  queueing for an invocation slot and the poll", ms(b.InboxWait), share(b.InboxWait))
	p("    processor waiting on AWS      %9s %s  its DynamoDB and SQS calls, answered by the emulator", ms(b.AWSWait), share(b.AWSWait))
	p("    processor own time            %9s %s  TAP: decode, validate, SDK work, logs, metrics, CPU wait", ms(b.ProcessorSelf), share(b.ProcessorSelf))
	if b.Other >= time.Millisecond {
		p("    other                         %9s %s  retry backoff", ms(b.Other), share(b.Other))
	}
	p("  The throughput and latency above are the local AWS's: moto spends milliseconds of Python on each")
	p("  request, and in AWS DynamoDB and SQS answer in single-digit milliseconds. TAP's part is its own time.")
}

// Check is one verification of the run against the table and the DLQ.
type Check struct {
	// Invariant is I1 or I2 (DESIGN §3), or empty for a consistency check.
	Invariant string `json:"invariant,omitempty"`
	Name      string `json:"name"`
	OK        bool   `json:"ok"`
	// Detail sums up what was checked.
	Detail string `json:"detail"`
	// Failures lists the first violations found.
	Failures []string `json:"failures,omitempty"`
	// Violations counts them all.
	Violations int `json:"violations"`
}

// maxListed bounds the violations a check lists.
const maxListed = 10

func (c *Check) fail(format string, a ...any) {
	c.Violations++
	if len(c.Failures) < maxListed {
		c.Failures = append(c.Failures, fmt.Sprintf(format, a...))
	}
}

// OK reports whether the run sent everything, drained, and passed every check.
func (r *Report) OK() bool {
	if !r.Drained || r.Stalled || r.Interrupted || r.PublishFailed > 0 || r.NotSent > 0 || len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("TAP local demo: seed %d, %d orders, %s", r.Seed, r.Orders, r.Options)
	p("")
	p("  sent           %d of %d generated (%s)%s", r.Sent, r.Generated, kinds(r.Kinds), notAccepted(r.PublishFailed, r.NotSent))
	p("  applied        %d", r.Outcomes["applied"])
	p("  duplicate      %d", r.Outcomes["duplicate"])
	p("  stale          %d", r.Outcomes["stale"])
	p("  rejected       %d invalid, %d conflict", r.Outcomes["rejected"], r.Outcomes["conflict"])
	p("  failed         %d (retries exhausted)", r.Outcomes[OutcomeFailed])
	if n := r.Outcomes[OutcomeDeliveryFailed]; n > 0 {
		p("  not delivered  %d (the Lambda service refused them; in the delivery DLQ)", n)
	}
	if r.Interrupted {
		p("  dead-lettered  not counted (interrupted)")
	} else {
		p("  dead-lettered  %d in the processing DLQ", r.DeadLettered)
		if r.Outranked > 0 {
			p("                 (%d of them executions recorded first, then outranked by a lower eventId)", r.Outranked)
		}
	}
	if r.Stalled {
		p("  STALLED        publishing stopped: the pipeline settled nothing for the drain timeout")
	}
	if n := r.Outcomes[OutcomeUnfinished]; n > 0 || r.Settled < r.Sent {
		p("  NOT SETTLED    %d of %d sent events, left in the inbox (%d cut short mid-processing)", r.Sent-r.Settled, r.Sent, n)
	}
	p("  throughput     %.0f events/s (%d events settled in %s; publishing took %s)",
		r.Throughput, r.Settled, r.Elapsed.Round(time.Millisecond), r.PublishTime.Round(time.Millisecond))
	p("  latency        publish→applied p50 %s, p99 %s, max %s (%d events; at most a window of events in the pipeline)",
		ms(r.LatencyP50), ms(r.LatencyP99), ms(r.LatencyMax), r.LatencySamples)
	if r.Breakdown != nil {
		r.Breakdown.writeText(p)
	}
	p("")
	if r.Interrupted {
		p("interrupted before verification")
		return
	}
	p("verification against the table and the processing DLQ:")
	for _, c := range r.Checks {
		status := "PASS"
		if !c.OK {
			status = "FAIL"
		}
		name := c.Name
		if c.Invariant != "" {
			name = c.Invariant + " " + name
		}
		p("  %s  %s: %s", status, name, c.Detail)
		for _, f := range c.Failures {
			p("          - %s", f)
		}
		if c.Violations > len(c.Failures) {
			p("          ... and %d more", c.Violations-len(c.Failures))
		}
	}
	if r.OK() {
		p("\nresult: PASS")
	} else {
		p("\nresult: FAIL")
	}
}

func kinds(k map[string]int) string {
	var parts []string
	for _, name := range []string{"original", "duplicate", "conflicting", "invalid"} {
		if n := k[name]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, name))
		}
	}
	return strings.Join(parts, ", ")
}

func notAccepted(refused, notSent int) string {
	var s string
	if refused > 0 {
		s += fmt.Sprintf("; %d NOT ACCEPTED by PutEvents", refused)
	}
	if notSent > 0 {
		s += fmt.Sprintf("; %d not sent", notSent)
	}
	return s
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
