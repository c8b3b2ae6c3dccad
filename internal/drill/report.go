package drill

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tap-trading/tap/internal/health"
	"github.com/tap-trading/tap/internal/local"
)

// Progress is a snapshot of a running drill.
type Progress struct {
	Elapsed time.Duration `json:"elapsedNs"`
	Phase   string        `json:"phase"`
	// Route is the region the endpoint sends events to.
	Route string `json:"route"`
	// Healthy is each region's health.
	Healthy map[string]bool `json:"healthy"`
	// Cut lists the regions cut off.
	Cut []string `json:"cut,omitempty"`
	// Applied counts the events each region's processor applied.
	Applied map[string]int `json:"applied"`
	// Accepted counts the events the endpoint accepted.
	Accepted int `json:"accepted"`
	// PendingReplication counts accepted events not yet delivered to the
	// other region, by source region.
	PendingReplication map[string]int `json:"pendingReplication"`
	// TableBacklog counts table writes not yet replicated, by source.
	TableBacklog map[string]int64 `json:"tableBacklog"`
	// TableLagP99 is the table replication lag so far, by source.
	TableLagP99 map[string]time.Duration `json:"tableLagP99Ns"`
}

// Line renders p on one line.
func (p Progress) Line() string {
	var health []string
	for _, r := range slices.Sorted(maps.Keys(p.Healthy)) {
		s := "healthy"
		if !p.Healthy[r] {
			s = "UNHEALTHY"
		}
		if slices.Contains(p.Cut, r) {
			s += ",cut"
		}
		health = append(health, fmt.Sprintf("%s %s applied %d repl-pending %d table-backlog %d lag-p99 %s",
			r, s, p.Applied[r], p.PendingReplication[r], p.TableBacklog[r], p.TableLagP99[r].Round(time.Millisecond)))
	}
	if p.Phase == "" { // not a drill: no phases, no load of its own
		return fmt.Sprintf("route→%s | %s", p.Route, strings.Join(health, " | "))
	}
	return fmt.Sprintf("%6.1fs %-18s route→%s accepted %d | %s", p.Elapsed.Seconds(), p.Phase, p.Route, p.Accepted, strings.Join(health, " | "))
}

// Duration is a drill time with what it stands for in AWS.
type Duration struct {
	// Local is measured in the drill.
	Local time.Duration `json:"localNs"`
	// AWS is the AWS-equivalent (Config.AWSEquivalent, plus Route 53's
	// evaluation interval for routing transitions).
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
	// DeadLetters is the processing DLQ's depth after the drill.
	DeadLetters int `json:"deadLetters"`
	// Checks are I1 and I2 on this region's replica.
	Checks []local.Check `json:"checks"`
}

// Report is the result of a drill.
type Report struct {
	Scenario  Scenario `json:"scenario"`
	Primary   string   `json:"primary"`
	Secondary string   `json:"secondary"`
	Seed      uint64   `json:"seed"`
	// Settings: the scaled health evaluation and the load.
	Period    time.Duration `json:"periodNs"`
	Periods   int           `json:"periods"`
	Threshold time.Duration `json:"thresholdNs"`
	Rate      float64       `json:"rate"`
	Lag       time.Duration `json:"lagNs"`
	Mode      string        `json:"mode"`
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
	// retried them).
	EntriesRefused int `json:"entriesRefused"`
	// AcceptedDuringOutage counts events accepted between failure and
	// recovery; WaitedForHealing those whose replication to or from the
	// cut region had to wait for it to heal (AtRisk: the ones accepted by
	// the primary, which existed only there during the outage).
	AcceptedDuringOutage int `json:"acceptedDuringOutage"`
	WaitedForHealing     int `json:"waitedForHealing"`
	AtRisk               int `json:"atRisk"`
	// Lost counts accepted events neither recorded nor dead-lettered in
	// the converged table: must be 0.
	Lost int `json:"lost"`
	// BothApplied counts events whose execution both regions' processors
	// wrote themselves (before table replication brought it).
	BothApplied int `json:"bothApplied"`
	// Event replication delay (accepted → delivered to the other region)
	// and table replication lag (write → applied in the other replica),
	// p50/p99 over both directions.
	EventReplicationP50 time.Duration `json:"eventReplicationP50Ns"`
	EventReplicationP99 time.Duration `json:"eventReplicationP99Ns"`
	TableLagP50         time.Duration `json:"tableLagP50Ns"`
	TableLagP99         time.Duration `json:"tableLagP99Ns"`
	TableReplicated     int64         `json:"tableReplicated"`
	TableSuperseded     int64         `json:"tableSuperseded"`
	// Redriven counts dead letters redriven after a processor failure.
	Redriven int `json:"redriven"`
	// Replicas is I3: the replicas compared item by item after quiesce.
	Replicas string         `json:"replicas"`
	Regions  []RegionReport `json:"regions"`
	// Health lists every health transition.
	Health  []health.Transition `json:"health"`
	Elapsed time.Duration       `json:"elapsedNs"`
	// Interrupted says the drill was stopped (Ctrl-C) before it finished.
	Interrupted bool          `json:"interrupted"`
	Checks      []local.Check `json:"checks"`
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

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Drill %s: primary %s, secondary %s, seed %d\n", r.Scenario, r.Primary, r.Secondary, r.Seed)
	fmt.Fprintf(w, "health: %s periods (AWS 60s), unhealthy after %d breaching (AWS 5), threshold %s (AWS 30s); load %g events/s; replication lag %s; failure: %s\n\n",
		r.Period, r.Periods, r.Threshold, r.Rate, r.Lag, r.Mode)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "timeline\t")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "  %7.2fs\t%s\n", p.At.Seconds(), p.Phase)
	}
	fmt.Fprintln(tw, "\t")
	if r.Scenario == RegionLoss {
		fmt.Fprintf(tw, "RTO: cut → routing switched\t%s\n", r.FailureToRouted)
		fmt.Fprintf(tw, "RTO: cut → first event applied through the secondary\t%s\n", r.FailureToFirstApplied)
		fmt.Fprintf(tw, "heal → routing failed back\t%s\n", r.HealToFailback)
	}
	fmt.Fprintf(tw, "events published / accepted / never accepted\t%d / %d / %d\n", r.Published, r.Accepted, r.Unaccepted)
	fmt.Fprintf(tw, "entries refused by the endpoint (producer retried)\t%d\n", r.EntriesRefused)
	fmt.Fprintf(tw, "accepted during the outage\t%d\n", r.AcceptedDuringOutage)
	fmt.Fprintf(tw, "waited for healing (at risk: only in the primary)\t%d (%d)\n", r.WaitedForHealing, r.AtRisk)
	if r.Scenario == ProcessorFailure {
		fmt.Fprintf(tw, "dead letters redriven\t%d\n", r.Redriven)
	}
	fmt.Fprintf(tw, "events lost\t%d\n", r.Lost)
	fmt.Fprintf(tw, "events both regions applied themselves\t%d\n", r.BothApplied)
	fmt.Fprintf(tw, "event replication p50 / p99\t%s / %s\n", r.EventReplicationP50.Round(time.Millisecond), r.EventReplicationP99.Round(time.Millisecond))
	fmt.Fprintf(tw, "table replication lag p50 / p99\t%s / %s (%d applied, %d superseded by LWW)\n",
		r.TableLagP50.Round(time.Millisecond), r.TableLagP99.Round(time.Millisecond), r.TableReplicated, r.TableSuperseded)
	fmt.Fprintf(tw, "I3 replicas after quiesce\t%s\n", r.Replicas)
	fmt.Fprintf(tw, "elapsed\t%s\n", r.Elapsed.Round(100*time.Millisecond))
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "region\taccepted\tinvocations\toutcomes\tDynamoDB ops per invocation\tDLQ")
	for _, rr := range r.Regions {
		var outs, ops []string
		for _, k := range slices.Sorted(maps.Keys(rr.Outcomes)) {
			outs = append(outs, fmt.Sprintf("%s %d", k, rr.Outcomes[k]))
		}
		for _, k := range []string{OpWrite, OpCondFailed, OpQuery, OpRead, OpError} {
			ops = append(ops, fmt.Sprintf("%s %.2f (%d)", k, rr.OpsPerEvent[k], rr.DynamoDBOps[k]))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%d\n", rr.Region, rr.Accepted, rr.Invocations, strings.Join(outs, ", "), strings.Join(ops, ", "), rr.DeadLetters)
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
	if r.OK() {
		fmt.Fprintln(w, "\nDRILL PASSED")
	} else {
		fmt.Fprintln(w, "\nDRILL FAILED")
	}
}
