package publish

import (
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// EntrySize is the size EventBridge counts for an entry against the call's
// limit: 14 bytes for a time, plus the UTF-8 bytes of source, detail-type,
// detail and every resource.
func EntrySize(e types.PutEventsRequestEntry) int {
	n := len(aws.ToString(e.Source)) + len(aws.ToString(e.DetailType)) + len(aws.ToString(e.Detail))
	if e.Time != nil {
		n += 14
	}
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

// Batches splits entries, in order, into calls of at most MaxBatchEntries
// entries and MaxBatchBytes bytes, as index lists. An entry over the byte
// limit on its own gets a call of its own, for EventBridge to reject with
// its own message.
func Batches(entries []types.PutEventsRequestEntry) [][]int {
	var (
		out   [][]int
		cur   []int
		bytes int
	)
	for i, e := range entries {
		size := EntrySize(e)
		if len(cur) == MaxBatchEntries || (len(cur) > 0 && bytes+size > MaxBatchBytes) {
			out = append(out, cur)
			cur, bytes = nil, 0
		}
		cur = append(cur, i)
		bytes += size
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func slicesSortByIndex(rs []EntryResult) {
	slices.SortFunc(rs, func(a, b EntryResult) int { return a.Index - b.Index })
}
