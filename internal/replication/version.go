package replication

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MetaAttr is the hidden attribute in which the replicator records, on every
// item it writes, the version of the write it replicated (see the package
// doc). Compare ignores it.
const MetaAttr = "tap:rep"

// version orders writes to one item for last-writer-wins.
type version struct {
	// at is when the write's own region accepted it, in milliseconds.
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

// marker is v as stored in MetaAttr.
func (v version) marker() string {
	return fmt.Sprintf("%d|%s|%s", v.at.UnixMilli(), v.region, v.seq)
}

// parseMarker reads a MetaAttr value written by marker.
func parseMarker(s string) (version, error) {
	parts := strings.Split(s, "|")
	if len(parts) != 3 || parts[1] == "" {
		return version{}, fmt.Errorf("replication: malformed %s %q", MetaAttr, s)
	}
	ms, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return version{}, fmt.Errorf("replication: malformed %s %q: %w", MetaAttr, s, err)
	}
	return version{at: time.UnixMilli(ms).UTC(), region: parts[1], seq: parts[2]}, nil
}

func (v version) String() string {
	return fmt.Sprintf("%s@%s#%s", v.region, v.at.Format("15:04:05.000"), v.seq)
}
