package strongtable

import (
	"sync"
	"time"
)

// Stats are the group's totals so far, by region, for the drill's report.
type Stats struct {
	// Regions holds each region's figures: requests are counted in the
	// region that received them, relays and backlog in the region they are
	// for.
	Regions map[string]RegionStats
}

// RegionStats are one region's figures.
type RegionStats struct {
	// AckedBoth counts writes acknowledged once in both replicas.
	AckedBoth int64
	// AckedViaWitness counts writes acknowledged with the witness as the
	// second member of the quorum: the other replica was unreachable and
	// gets them from the witness log later.
	AckedViaWitness int64
	// Conflicts counts writes refused with ReplicatedWriteConflictException.
	Conflicts int64
	// WriteRefusals and ReadRefusals count writes and strongly consistent
	// reads refused because the region could not reach a quorum (or could
	// not catch up); nothing of a refused write is applied.
	WriteRefusals, ReadRefusals int64
	// Unsupported counts calls on the table the group does not replicate
	// (BatchWriteItem, transactions, PartiQL), refused.
	Unsupported int64
	// Relayed counts changes from the witness log applied to this region's
	// replica.
	Relayed int64
	// Backlog is the number of items whose latest acknowledged write is in
	// the witness log but not yet in this region's replica.
	Backlog int
	// WriteLatencyAdded is the total time the quorum step added to this
	// region's acknowledged writes (CrossRegionDelay included);
	// MaxWriteLatencyAdded the longest for one write.
	WriteLatencyAdded, MaxWriteLatencyAdded time.Duration
}

// Acked counts the writes acknowledged either way.
func (r RegionStats) Acked() int64 { return r.AckedBoth + r.AckedViaWitness }

// MeanWriteLatencyAdded is the quorum step's mean added latency per
// acknowledged write (0 before any).
func (r RegionStats) MeanWriteLatencyAdded() time.Duration {
	if n := r.Acked(); n > 0 {
		return r.WriteLatencyAdded / time.Duration(n)
	}
	return 0
}

// Total sums the regions' figures (MaxWriteLatencyAdded: the larger).
func (s Stats) Total() RegionStats {
	var t RegionStats
	for _, r := range s.Regions {
		t.AckedBoth += r.AckedBoth
		t.AckedViaWitness += r.AckedViaWitness
		t.Conflicts += r.Conflicts
		t.WriteRefusals += r.WriteRefusals
		t.ReadRefusals += r.ReadRefusals
		t.Unsupported += r.Unsupported
		t.Relayed += r.Relayed
		t.Backlog += r.Backlog
		t.WriteLatencyAdded += r.WriteLatencyAdded
		t.MaxWriteLatencyAdded = max(t.MaxWriteLatencyAdded, r.MaxWriteLatencyAdded)
	}
	return t
}

// regionCounts are the counters behind RegionStats (Backlog is read from
// the witness log).
type regionCounts = RegionStats

type stats struct {
	mu      sync.Mutex
	regions map[string]*regionCounts
}

// add applies f to region's counters.
func (s *stats) add(region string, f func(*regionCounts)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.regions[region])
}

// Stats returns the figures so far.
func (g *Group) Stats() Stats {
	backlog := g.witness.backlog()
	g.stats.mu.Lock()
	defer g.stats.mu.Unlock()
	out := Stats{Regions: map[string]RegionStats{}}
	for name, c := range g.stats.regions {
		r := *c
		r.Backlog = backlog[name]
		out.Regions[name] = r
	}
	return out
}

// Backlog is the witness log's backlog by region (Stats has it too).
func (g *Group) Backlog() map[string]int { return g.witness.backlog() }
