package replication

import (
	"fmt"
	"time"
)

// version orders writes to one item for last-writer-wins.
type version struct {
	// at is the time its own region stamped on the write, in milliseconds:
	// the stream record's creation time plus that region's Config.Skew, or
	// later (see reader.process).
	at time.Time
	// region is the region that accepted it: the tie-break between regions.
	region string
	// seq is the write's stream sequence number in its region: it orders two
	// writes of one region in the same millisecond.
	seq string
}

// equal reports whether v and o are the same write's version.
func (v version) equal(o version) bool {
	return v.at.Equal(o.at) && v.region == o.region && v.seq == o.seq
}

// newerThan reports whether v wins last-writer-wins over o.
func (v version) newerThan(o version) bool {
	if !v.at.Equal(o.at) {
		return v.at.After(o.at)
	}
	if v.region != o.region {
		return v.region > o.region
	}
	return seqLess(o.seq, v.seq)
}

// seqLess compares two stream sequence numbers: decimal strings of up to
// 40 digits, so by length, then lexically.
func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func (v version) String() string {
	return fmt.Sprintf("%s@%s#%s", v.region, v.at.Format("15:04:05.000"), v.seq)
}
