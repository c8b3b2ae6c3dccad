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
// a region pair not listed takes DefaultRoundTrip.
var roundTrips = map[[2]string]time.Duration{
	{"us-east-1", "us-east-2"}: 12 * time.Millisecond,
	{"us-east-1", "us-west-2"}: 62 * time.Millisecond,
	{"us-east-2", "us-west-2"}: 50 * time.Millisecond,
}

// DefaultRoundTrip is the assumed round trip between two regions not in
// roundTrips.
const DefaultRoundTrip = 60 * time.Millisecond

// RoundTrip is the assumed round trip between regions a and b (AWS time).
func RoundTrip(a, b string) time.Duration {
	if d, ok := roundTrips[[2]string{a, b}]; ok {
		return d
	}
	if d, ok := roundTrips[[2]string{b, a}]; ok {
		return d
	}
	return DefaultRoundTrip
}

// QuorumRoundTrip is the round trip a strongly consistent write in region
// waits for (AWS time): to the nearest other member of the table's set,
// the other replica or the third region.
func QuorumRoundTrip(spec deployspec.Spec, region string) time.Duration {
	d := RoundTrip(region, spec.Peer(region))
	if t := spec.Table.ThirdRegion; t != "" {
		d = min(d, RoundTrip(region, t))
	}
	return d
}

// startStrongTable starts the proxies that make the two replicas one
// strongly consistent (MRSC) table. The third member of the quorum (the
// witness, or a third replica the twin does not run) is reachable from a
// region unless the region is cut whole, its local AWS crashed, or
// CutQuorum cut it off. The write's quorum step waits the larger of the
// two regions' QuorumRoundTrip, scaled; when the third region is nearer to
// both than they are to each other (us-east-2 for us-east-1 and us-west-2),
// it completes the quorum, and the other replica takes the write from the
// witness's log without holding the write up (strongtable.ThirdIsNearest).
func startStrongTable(spec deployspec.Spec, e *Env, cfg Config, onErr func(error)) (*strongtable.Group, error) {
	reach := func(name string) bool {
		r, err := e.region("reach the third region from", name)
		return err == nil && (r.front == nil || !r.front.IsCut()) && !r.crashed.Load() && !r.quorumCut.Load()
	}
	rtt := max(QuorumRoundTrip(spec, spec.Primary), QuorumRoundTrip(spec, spec.Secondary))
	between := RoundTrip(spec.Primary, spec.Secondary)
	third := spec.Table.ThirdRegion
	nearest := third != "" && RoundTrip(spec.Primary, third) < between && RoundTrip(spec.Secondary, third) < between
	return strongtable.Start(strongtable.Config{
		Table:            spec.Table.Name,
		A:                strongtable.Region{Name: e.primary.name, Local: e.primary.moto.Endpoint, Link: e.primary.link.URL},
		B:                strongtable.Region{Name: e.second.name, Local: e.second.moto.Endpoint, Link: e.second.link.URL},
		ThirdReachable:   reach,
		ThirdIsNearest:   nearest,
		CrossRegionDelay: e.scale.Local(rtt),
		LinkTimeout:      crossRegionCallTimeout,
		RelayEvery:       250 * time.Millisecond,
		OnError:          onErr,
	})
}
