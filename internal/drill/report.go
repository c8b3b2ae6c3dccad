package drill

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/twin"
)

// Progress is a snapshot of a running drill: the twin's status, the phase
// and the load.
type Progress struct {
	twin.Status
	Elapsed time.Duration `json:"elapsedNs"`
	Phase   string        `json:"phase"`
	// Accepted counts the events the endpoint accepted.
	Accepted int `json:"accepted"`
}

// Line renders p on one line.
func (p Progress) Line() string {
	return fmt.Sprintf("%6.1fs %-24s accepted %d | %s", p.Elapsed.Seconds(), p.Phase, p.Accepted, p.Status.Line())
}

// Duration is a drill time with what it stands for in AWS.
type Duration struct {
	// Local is measured in the drill.
	Local time.Duration `json:"localNs"`
	// AWS is the AWS-equivalent: Local divided by the twin's scale (the
	// alarm, the metric's delay and Route 53's reads are all scaled, so
	// nothing is added).
	AWS time.Duration `json:"awsNs"`
	// Measured is false when the event never happened.
	Measured bool `json:"measured"`
}

func (d Duration) String() string {
	if !d.Measured {
		return "not measured"
	}
	return fmt.Sprintf("%s (AWS ≈ %s)", d.Local.Round(10*time.Millisecond), d.AWS)
}

// PhaseMark is when a phase of the drill began.
type PhaseMark struct {
	Phase string        `json:"phase"`
	At    time.Duration `json:"atNs"` // since the load started
}

// RegionReport is one region's part of the report.
type RegionReport struct {
	Region string `json:"region"`
	// Accepted counts the events the endpoint routed to this region.
	Accepted int `json:"accepted"`
	// Outcomes counts the region's settled events by outcome (heartbeats
	// included).
	Outcomes map[string]int `json:"outcomes"`
	// Invocations is the number of events the region's processor settled.
	Invocations int `json:"invocations"`
	// DynamoDBOps counts the processor's DynamoDB requests by kind, and
	// OpsPerEvent divides them by Invocations.
	DynamoDBOps map[string]int     `json:"dynamodbOps"`
	OpsPerEvent map[string]float64 `json:"opsPerEvent"`
	// DeadLetters and DeliveryDeadLetters are the processing and delivery
	// DLQs' depths after the drill.
	DeadLetters         int `json:"deadLetters"`
	DeliveryDeadLetters int `json:"deliveryDeadLetters"`
	// Checks are I1 and I2 on this region's replica.
	Checks []local.Check `json:"checks"`
}

// RouteMark is when the endpoint started sending calls to a region.
type RouteMark struct {
	Region string        `json:"region"`
	At     time.Duration `json:"atNs"` // since the drill started
}

// Report is the result of a drill.
type Report struct {
	Scenario  Scenario `json:"scenario"`
	About     string   `json:"about"`
	Primary   string   `json:"primary"`
	Secondary string   `json:"secondary"`
	Seed      uint64   `json:"seed"`
	// Period stands for the alarm's 60 s; Scale is local time per AWS time.
	Period time.Duration `json:"periodNs"`
	Scale  string        `json:"scale"`
	// Alarm describes the deployed health alarm and health check the twin
	// ran; Overrides lists the deployment settings the scenario changed.
	Alarm     string   `json:"alarm"`
	Overrides []string `json:"overrides,omitempty"`
	// The load and replication settings.
	Rate      float64       `json:"rate"`
	Lag       time.Duration `json:"lagNs"`
	LagJitter time.Duration `json:"lagJitterNs"`
	Skew      time.Duration `json:"skewNs"`
	Phases    []PhaseMark   `json:"phases"`
	// RTO: failure → routing switched, and → first event accepted by the
	// secondary and applied there; recovery → routing back.
	FailureToRouted       Duration `json:"failureToRouted"`
	FailureToFirstApplied Duration `json:"failureToFirstApplied"`
	HealToFailback        Duration `json:"healToFailback"`
	// Published counts the deliveries the load sent; Accepted those the
	// endpoint accepted (after client retries), Unaccepted the rest.
	Published  int `json:"published"`
	Accepted   int `json:"accepted"`
	Unaccepted int `json:"unaccepted"`
	// EntriesRefused counts entries the endpoint failed (the producer
	// retried them); ReplicationsExpired events whose replication to the
	// other region exceeded the managed rule's retry policy.
	EntriesRefused      int `json:"entriesRefused"`
	ReplicationsExpired int `json:"replicationsExpired"`
	// AcceptedDuringOutage counts events accepted between failure and
	// recovery; WaitedForHealing those whose replication to or from the
	// failed region had to wait for the recovery (AtRisk: the ones accepted
	// by the primary, which existed only there meanwhile).
	AcceptedDuringOutage int `json:"acceptedDuringOutage"`
	WaitedForHealing     int `json:"waitedForHealing"`
	AtRisk               int `json:"atRisk"`
	// Lost counts accepted events neither recorded nor dead-lettered in
	// the converged table: must be 0.
	Lost int `json:"lost"`
	// BothApplied counts events whose execution both regions' processors
	// wrote themselves (before table replication brought it).
	BothApplied int `json:"bothApplied"`
	// Conflicts summarizes the contested (orderId, seq).
	Conflicts string `json:"conflicts"`
	// Event replication delay (accepted → delivered to the other region)
	// and table replication lag (write → applied in the other replica),
	// p50/p99 over both directions.
	EventReplicationP50 time.Duration `json:"eventReplicationP50Ns"`
	EventReplicationP99 time.Duration `json:"eventReplicationP99Ns"`
	TableLagP50         time.Duration `json:"tableLagP50Ns"`
	TableLagP99         time.Duration `json:"tableLagP99Ns"`
	TableReplicated     int64         `json:"tableReplicated"`
	TableSuperseded     int64         `json:"tableSuperseded"`
	// Consistency is the table's mode (MREC or MRSC) the drill ran.
	Consistency schema.Consistency `json:"consistency"`
	// RPO is the table's recovery point had the failed region (RPORegion:
	// the one the scenario fails, the primary unless it is the secondary)
	// been lost for good when the failure began: the writes it had
	// acknowledged that no other member of the table held then. Under MREC,
	// those the other replica received only later (replication.Stranded);
	// under MRSC, none can be (a write is acknowledged once in the other
	// replica or the witness's log): RPOViaWitness counts those of them the
	// other replica took from the witness's log after the failure began.
	RPORegion     string `json:"rpoRegion"`
	RPOWrites     int    `json:"rpoWrites"`
	RPOViaWitness int64  `json:"rpoViaWitness,omitempty"`
	// Strong is the MRSC quorum's work (MRSC only).
	Strong *StrongTableReport `json:"strong,omitempty"`
	// Redriven counts dead letters redriven.
	Redriven int `json:"redriven"`
	// Capacity is the twin's capacity on this machine (events/s; 0 if not
	// measured), and Achieved the rate the endpoint accepted while the
	// load ran, against the offered Rate.
	Capacity float64 `json:"capacityEventsPerSecond,omitempty"`
	Achieved float64 `json:"achievedEventsPerSecond"`
	// Cause names why checks could not read: the regions whose local AWS
	// does not answer (overload, a crashed emulator). Empty if all read.
	Cause string `json:"cause,omitempty"`
	// Unreadable lists what the checks could not read, by region, with the
	// cause (a local AWS that stopped answering); their checks failed.
	Unreadable []string `json:"unreadable,omitempty"`
	// Replicas is I3: the replicas compared item by item after quiesce.
	Replicas string         `json:"replicas"`
	Regions  []RegionReport `json:"regions"`
	// Alarms, HealthChecks and Routes list every change of the alarms,
	// the health check and the endpoint's routing.
	Alarms       []twin.AlarmChange  `json:"alarms"`
	HealthChecks []twin.HealthChange `json:"healthChecks"`
	Routes       []RouteMark         `json:"routes"`
	// Survived counts errors the twin survived (a cut region's pollers,
	// the AWS SDK's warnings, replication retries) by where they arose:
	// counted here, their raw lines in the processor log, not streamed.
	Survived twin.SurvivedCounts `json:"survived"`
	Elapsed  time.Duration       `json:"elapsedNs"`
	Started  time.Time           `json:"started"`
	// Timeline is the path of the scenario's HTML timeline, if written.
	Timeline string `json:"timeline,omitempty"`
	// Interrupted says the drill was stopped (Ctrl-C) before it finished.
	Interrupted bool          `json:"interrupted"`
	Checks      []local.Check `json:"checks"`
}

// region returns the named region's part, or nil.
func (r *Report) region(name string) *RegionReport {
	for i := range r.Regions {
		if r.Regions[i].Region == name {
			return &r.Regions[i]
		}
	}
	return nil
}

// OK reports whether every check passed.
func (r *Report) OK() bool {
	if r.Interrupted || len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	for _, rr := range r.Regions {
		for _, c := range rr.Checks {
			if !c.OK {
				return false
			}
		}
	}
	return true
}

func check(name string, ok bool, format string, a ...any) local.Check {
	c := local.Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, a...)}
	if !ok {
		c.Violations = 1
	}
	return c
}

// StrongTableReport is what the quorum of a strongly consistent (MRSC)
// table did in a drill (internal/twin/strongtable).
type StrongTableReport struct {
	// AckedBoth and AckedViaWitness count writes acknowledged with both
	// replicas, and with the witness as the second member (the other
	// replica took them from its log later).
	AckedBoth       int64 `json:"ackedBoth"`
	AckedViaWitness int64 `json:"ackedViaWitness"`
	// Conflicts counts writes refused with ReplicatedWriteConflictException
	// (retried by the processor's SDK client); WriteRefusals and
	// ReadRefusals writes and strongly consistent reads refused for want of
	// a quorum.
	Conflicts     int64 `json:"conflicts"`
	WriteRefusals int64 `json:"writeRefusals"`
	ReadRefusals  int64 `json:"readRefusals"`
	// WriteLatencyMean and WriteLatencyMax are what the quorum step added
	// to each acknowledged write, in local time; RoundTrip is the AWS round
	// trip it stands for (assumed, twin.QuorumDelay).
	WriteLatencyMean time.Duration `json:"writeLatencyMeanNs"`
	WriteLatencyMax  time.Duration `json:"writeLatencyMaxNs"`
	RoundTrip        time.Duration `json:"roundTripNs"`
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Drill %s: %s\n", r.Scenario, r.About)
	fmt.Fprintf(w, "primary %s, secondary %s, seed %d; period %s (scale %s); load %g events/s; replication lag %s + up to %s; clock skew %s\n",
		r.Primary, r.Secondary, r.Seed, r.Period, r.Scale, r.Rate, r.Lag, r.LagJitter, r.Skew)
	fmt.Fprintf(w, "deployed alarm: %s\n", r.Alarm)
	fmt.Fprintf(w, "table: %s\n", consistencyName(r.Consistency))
	load := fmt.Sprintf("load offered %g events/s, accepted %.1f/s", r.Rate, r.Achieved)
	if r.Capacity > 0 {
		load += fmt.Sprintf("; twin capacity on this machine %g events/s (headroom %.1f×)", r.Capacity, r.Capacity/r.Rate)
	}
	fmt.Fprintln(w, load)
	if len(r.Overrides) > 0 {
		fmt.Fprintf(w, "deployment overrides: %s\n", strings.Join(r.Overrides, " "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "timeline\t")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "  %7.2fs\t%s\n", p.At.Seconds(), p.Phase)
	}
	for _, a := range r.Alarms {
		if a.Deployed {
			fmt.Fprintf(tw, "  %7.2fs\talarm %s: %s → %s\n", a.At.Sub(r.start()).Seconds(), a.Region, a.From, a.To)
		}
	}
	for _, h := range r.HealthChecks {
		st := map[bool]string{true: "healthy", false: "UNHEALTHY"}[h.Healthy]
		read := string(h.Alarm)
		if read == "" {
			read = "alarm unreadable"
		}
		fmt.Fprintf(tw, "  %7.2fs\thealth check %s (%s)\n", h.At.Sub(r.start()).Seconds(), st, read)
	}
	for _, rt := range r.Routes {
		fmt.Fprintf(tw, "  %7.2fs\trouting → %s\n", rt.At.Seconds(), rt.Region)
	}
	fmt.Fprintln(tw, "\t")
	if r.FailureToRouted.Measured || r.HealToFailback.Measured {
		fmt.Fprintf(tw, "RTO: failure → routing switched\t%s\n", r.FailureToRouted)
		fmt.Fprintf(tw, "RTO: failure → first event applied through the secondary\t%s\n", r.FailureToFirstApplied)
		fmt.Fprintf(tw, "recovery → routing failed back\t%s\n", r.HealToFailback)
	}
	fmt.Fprintf(tw, "events published / accepted / never accepted\t%d / %d / %d\n", r.Published, r.Accepted, r.Unaccepted)
	fmt.Fprintf(tw, "entries refused by the endpoint (producer retried)\t%d\n", r.EntriesRefused)
	fmt.Fprintf(tw, "errors survived (counted, not streamed)\t%d (%s)\n", r.Survived.Total(), r.Survived)
	fmt.Fprintf(tw, "accepted during the outage\t%d\n", r.AcceptedDuringOutage)
	fmt.Fprintf(tw, "waited for healing (at risk: only in the primary)\t%d (%d)\n", r.WaitedForHealing, r.AtRisk)
	fmt.Fprintf(tw, "dead letters redriven\t%d\n", r.Redriven)
	fmt.Fprintf(tw, "conflicts\t%s\n", r.Conflicts)
	if r.Cause != "" {
		fmt.Fprintf(tw, "CAUSE of the failed reads\t%s\n", r.Cause)
	}
	for _, u := range r.Unreadable {
		fmt.Fprintf(tw, "UNREADABLE (its checks fail)\t%s\n", u)
	}
	if len(r.Unreadable) > 0 {
		fmt.Fprintf(tw, "events lost\tnot established (%d on what could be read)\n", r.Lost)
	} else {
		fmt.Fprintf(tw, "events lost\t%d\n", r.Lost)
	}
	fmt.Fprintf(tw, "events both regions applied themselves\t%d\n", r.BothApplied)
	fmt.Fprintf(tw, "event replication p50 / p99\t%s / %s\n", r.EventReplicationP50.Round(time.Millisecond), r.EventReplicationP99.Round(time.Millisecond))
	if st := r.Strong; st != nil {
		fmt.Fprintf(tw, "table (MRSC) writes acknowledged with both replicas / via the witness\t%d / %d\n", st.AckedBoth, st.AckedViaWitness)
		fmt.Fprintf(tw, "table (MRSC) write conflicts (retried) / refused for no quorum: writes, reads\t%d / %d, %d\n", st.Conflicts, st.WriteRefusals, st.ReadRefusals)
		fmt.Fprintf(tw, "table (MRSC) quorum step per write: mean / max (AWS round trip assumed)\t%s / %s (%s)\n",
			st.WriteLatencyMean.Round(100*time.Microsecond), st.WriteLatencyMax.Round(100*time.Microsecond), st.RoundTrip)
		fmt.Fprintf(tw, "table RPO had %s been lost at the failure\t%d writes (%d of them the other replica took from the witness later)\n", r.RPORegion, r.RPOWrites, r.RPOViaWitness)
	} else {
		fmt.Fprintf(tw, "table replication lag p50 / p99\t%s / %s (%d applied, %d superseded by LWW)\n",
			r.TableLagP50.Round(time.Millisecond), r.TableLagP99.Round(time.Millisecond), r.TableReplicated, r.TableSuperseded)
		fmt.Fprintf(tw, "table RPO had %s been lost at the failure (MREC)\t%d acknowledged writes the other replica did not have yet\n", r.RPORegion, r.RPOWrites)
	}
	fmt.Fprintf(tw, "I3 replicas after quiesce\t%s\n", r.Replicas)
	fmt.Fprintf(tw, "elapsed\t%s\n", r.Elapsed.Round(100*time.Millisecond))
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "region\taccepted\tinvocations\toutcomes\tDynamoDB ops per invocation\tDLQ processing/delivery")
	for _, rr := range r.Regions {
		var outs, ops []string
		for _, k := range slices.Sorted(maps.Keys(rr.Outcomes)) {
			outs = append(outs, fmt.Sprintf("%s %d", k, rr.Outcomes[k]))
		}
		for _, k := range []string{twin.OpWrite, twin.OpCondFailed, twin.OpQuery, twin.OpRead, twin.OpError} {
			ops = append(ops, fmt.Sprintf("%s %.2f (%d)", k, rr.OpsPerEvent[k], rr.DynamoDBOps[k]))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%d/%d\n", rr.Region, rr.Accepted, rr.Invocations, strings.Join(outs, ", "), strings.Join(ops, ", "), rr.DeadLetters, rr.DeliveryDeadLetters)
	}
	tw.Flush()

	fmt.Fprintln(w)
	var all []local.Check
	for _, rr := range r.Regions {
		for _, c := range rr.Checks {
			c.Name = rr.Region + ": " + c.Name
			all = append(all, c)
		}
	}
	all = append(all, r.Checks...)
	for _, c := range all {
		mark := "PASS"
		if !c.OK {
			mark = "FAIL"
		}
		inv := ""
		if c.Invariant != "" {
			inv = c.Invariant + " "
		}
		fmt.Fprintf(w, "%s  %s%s — %s\n", mark, inv, c.Name, c.Detail)
		for _, f := range c.Failures {
			fmt.Fprintf(w, "        %s\n", f)
		}
	}
	if r.Interrupted {
		fmt.Fprintln(w, "INTERRUPTED before the drill finished")
	}
	if r.Timeline != "" {
		fmt.Fprintf(w, "\ntimeline: %s\n", r.Timeline)
	}
	fmt.Fprintf(w, "\nDRILL %s %s\n", r.Scenario, r.verdict())
}

// verdict is PASSED when every check passed, else FAILED.
func (r *Report) verdict() string {
	if r.OK() {
		return "PASSED"
	}
	return "FAILED"
}

// DynamoDBOps sums both regions' processor DynamoDB operations by kind
// (twin.OpWrite, twin.OpCondFailed, twin.OpQuery, twin.OpRead).
func (r *Report) DynamoDBOps() map[string]int {
	ops := map[string]int{}
	for _, rr := range r.Regions {
		for k, n := range rr.DynamoDBOps {
			ops[k] += n
		}
	}
	return ops
}

// start is when the drill started, for absolute times in the report.
func (r *Report) start() time.Time { return r.Started }

// consistencyName names a table mode for reports.
func consistencyName(c schema.Consistency) string {
	if c == schema.Strong {
		return "multi-Region strong consistency (" + consistencyAbbrev(c) + ")"
	}
	return "multi-Region eventual consistency (" + consistencyAbbrev(c) + ")"
}

// consistencyAbbrev is DynamoDB's abbreviation of a table mode: MRSC or
// MREC.
func consistencyAbbrev(c schema.Consistency) string {
	if c == schema.Strong {
		return "MRSC"
	}
	return "MREC"
}
