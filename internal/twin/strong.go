package twin

import (
	"time"

	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/twin/strongtable"
)

// Round trips between the regions of the US MRSC Region set, as assumed:
// no AWS page gives them (the DynamoDB guide points to a latency tester),
// these are public measurements of the order of magnitude. A strongly
// consistent write waits for the nearest other member of its set ("Key
// facts about MRSC",
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-global-table-design.html);
// a region pair not listed takes defaultRoundTrip.
var roundTrips = map[[2]string]time.Duration{
	{"us-east-1", "us-east-2"}: 12 * time.Millisecond,
	{"us-east-1", "us-west-2"}: 62 * time.Millisecond,
	{"us-east-2", "us-west-2"}: 50 * time.Millisecond,
}

// defaultRoundTrip is the assumed round trip between two regions not in
// roundTrips.
const defaultRoundTrip = 60 * time.Millisecond

// roundTrip is the assumed round trip between regions a and b (AWS time).
func roundTrip(a, b string) time.Duration {
	if d, ok := roundTrips[[2]string{a, b}]; ok {
		return d
	}
	if d, ok := roundTrips[[2]string{b, a}]; ok {
		return d
	}
	return defaultRoundTrip
}

// QuorumRoundTrip is the round trip a strongly consistent write in region
// waits for (AWS time): to the nearest other member of the table's set,
// the other replica or the third region.
func QuorumRoundTrip(spec deployspec.Spec, region string) time.Duration {
	d := roundTrip(region, spec.Peer(region))
	if t := spec.Table.ThirdRegion; t != "" {
		d = min(d, roundTrip(region, t))
	}
	return d
}

// QuorumDelay is the round trip the twin's quorum step waits for a write in
// either region (AWS time): the larger of the two regions'
// QuorumRoundTrip, one figure for the table (strongtable applies one
// CrossRegionDelay), so a write in the region nearer its quorum waits as
// long as one in the other.
func QuorumDelay(spec deployspec.Spec) time.Duration {
	return max(QuorumRoundTrip(spec, spec.Primary), QuorumRoundTrip(spec, spec.Secondary))
}

// startStrongTable starts the proxies that make the two replicas one
// strongly consistent (MRSC) table. The third member of the quorum (the
// witness, or a third replica the twin does not run) is reachable from a
// region unless the region is cut whole, its local AWS crashed, or
// CutQuorum cut it off. The write's quorum step waits QuorumDelay, scaled;
// when the third region is nearer to
// both than they are to each other (us-east-2 for us-east-1 and us-west-2),
// it completes the quorum, and the other replica takes the write from the
// witness's log without holding the write up (strongtable.ThirdIsNearest).
func startStrongTable(e *Env, onErr func(error)) (*strongtable.Group, error) {
	spec := e.spec
	reach := func(name string) bool {
		r, err := e.region("reach the third region from", name)
		return err == nil && r.reachable() && !r.crashed.Load() && !r.quorumCut.Load()
	}
	between := roundTrip(spec.Primary, spec.Secondary)
	third := spec.Table.ThirdRegion
	nearest := third != "" && roundTrip(spec.Primary, third) < between && roundTrip(spec.Secondary, third) < between
	return strongtable.Start(strongtable.Config{
		Table:            spec.Table.Name,
		A:                strongtable.Region{Name: e.primary.name, Local: e.primary.moto.Endpoint, Link: e.primary.link.URL},
		B:                strongtable.Region{Name: e.second.name, Local: e.second.moto.Endpoint, Link: e.second.link.URL},
		ThirdReachable:   reach,
		ThirdIsNearest:   nearest,
		CrossRegionDelay: e.scale.Local(QuorumDelay(spec)),
		LinkTimeout:      crossRegionCallTimeout,
		RelayEvery:       250 * time.Millisecond,
		OnError:          onErr,
	})
}
