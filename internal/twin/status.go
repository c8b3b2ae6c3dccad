package twin

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tap-trading/tap/internal/replication"
	"github.com/tap-trading/tap/internal/twin/cloudwatch"
)

// RegionInfo describes one running region for its users.
type RegionInfo struct {
	Name string `json:"name"`
	// Endpoint is the region's local AWS, behind its front door.
	Endpoint         string `json:"endpoint"`
	Bus              string `json:"bus"`
	Table            string `json:"table"`
	ProcessingDLQURL string `json:"processingDlqUrl"`
	DeliveryDLQURL   string `json:"deliveryDlqUrl"`
}

// Regions describes the primary and the secondary.
func (e *Env) Regions() []RegionInfo {
	var out []RegionInfo
	for _, r := range e.regions() {
		res := r.pipe.Resources
		out = append(out, RegionInfo{
			Name: r.name, Endpoint: r.front.URL, Bus: res.Bus, Table: res.Table,
			ProcessingDLQURL: res.ProcessingDLQURL, DeliveryDLQURL: res.DeliveryDLQURL,
		})
	}
	return out
}

// RegionStatus is one region now.
type RegionStatus struct {
	// Alarm is the region's health alarm state (the secondary's is not
	// deployed; see AlarmChange).
	Alarm cloudwatch.State `json:"alarm"`
	// Failures lists what is injected: cut (refuse|hang), link cut, slow,
	// monitoring lost, refusing invocations, processor failing.
	Failures []string `json:"failures,omitempty"`
	// Applied counts the events the region's processor applied.
	Applied int `json:"applied"`
	// PendingReplication counts accepted events not yet delivered to the
	// other region; TableBacklog table writes not yet replicated.
	PendingReplication int           `json:"pendingReplication"`
	TableBacklog       int64         `json:"tableBacklog"`
	TableLagP99        time.Duration `json:"tableLagP99Ns"`
}

// Status is a snapshot of routing, health, replication and processing.
type Status struct {
	// Route is the region the endpoint sends events to.
	Route string `json:"route"`
	// Healthy is the Route 53 health check on the primary's alarm.
	Healthy bool                    `json:"healthy"`
	Regions map[string]RegionStatus `json:"regions"`
}

// Status returns the twin's state now.
func (e *Env) Status() Status {
	s := Status{Route: e.endpoint.Route(), Healthy: e.monitor.primaryHealthy(), Regions: map[string]RegionStatus{}}
	pending := e.endpoint.Pending()
	var dirs []replication.DirectionStats
	var strong map[string]int
	if e.repl != nil {
		rs := e.repl.Stats()
		dirs = []replication.DirectionStats{rs.AToB, rs.BToA}
	} else {
		strong = e.strong.Backlog()
	}
	for _, r := range e.regions() {
		st := RegionStatus{
			Alarm: e.monitor.alarmState(r.name), Failures: r.failures(),
			Applied: r.pipe.Invoker.Stats().Outcomes["applied"], PendingReplication: pending[r.name],
		}
		for _, d := range dirs {
			if d.From == r.name {
				st.TableBacklog, st.TableLagP99 = d.Backlog, d.LagP99
			}
		}
		if strong != nil {
			// The region's writes the other replica has yet to take from
			// the witness: none is at risk, the witness holds them.
			st.TableBacklog = int64(strong[e.spec.Peer(r.name)])
		}
		s.Regions[r.name] = st
	}
	return s
}

// Line renders s on one line.
func (s Status) Line() string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(s.Regions)) {
		r := s.Regions[name]
		f := ""
		if len(r.Failures) > 0 {
			f = " [" + strings.Join(r.Failures, ",") + "]"
		}
		parts = append(parts, fmt.Sprintf("%s alarm %s%s applied %d repl-pending %d table-backlog %d lag-p99 %s",
			name, r.Alarm, f, r.Applied, r.PendingReplication, r.TableBacklog, r.TableLagP99.Round(time.Millisecond)))
	}
	hc := "healthy"
	if !s.Healthy {
		hc = "UNHEALTHY"
	}
	return fmt.Sprintf("route→%s (health check %s) | %s", s.Route, hc, strings.Join(parts, " | "))
}

// failures lists the region's injected failures.
func (r *region) failures() []string {
	var out []string
	if r.crashed.Load() {
		out = append(out, "local AWS crashed")
	}
	if m := r.front.Mode(); m != 0 {
		out = append(out, "cut "+m.String())
	} else if m := r.link.Mode(); m != 0 {
		out = append(out, "link cut "+m.String())
	}
	if d := r.front.Delay(); d > 0 {
		out = append(out, "slow +"+d.String())
	}
	if r.monitoringLost.Load() {
		out = append(out, "monitoring lost")
	}
	if r.refusing.Load() {
		out = append(out, "refusing invocations")
	}
	if r.faulty.Load() {
		out = append(out, "processor failing")
	}
	if r.quorumCut.Load() {
		out = append(out, "third region unreachable")
	}
	return out
}

// Datapoints returns region's IngestionToInvocationStartLatency periods as
// its CloudWatch recorded them, oldest first.
func (e *Env) Datapoints(region string) []Datapoint { return e.monitor.datapoints(region) }

func sortDatapoints(ds []Datapoint) {
	sort.Slice(ds, func(i, j int) bool { return ds[i].Start.Before(ds[j].Start) })
}

// SurvivedCounts counts survived errors by source (see Observer.Survived).
type SurvivedCounts map[string]int

// String lists the counts by source, sorted: "replication 3, us-east-1 12";
// "none" when empty.
func (c SurvivedCounts) String() string {
	if len(c) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(c))
	for _, src := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s %d", src, c[src]))
	}
	return strings.Join(parts, ", ")
}

// Total is the sum over every source.
func (c SurvivedCounts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}
