package producer

import (
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// Service limits of one PutEvents call.
const (
	// MaxBatchEntries is the most entries one PutEvents call takes: the
	// request's Entries array has 1 to 10 members
	// (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html).
	MaxBatchEntries = 10
	// MaxBatchBytes bounds the summed entry size of a call. "The total entry
	// size must be less than 256KB"
	// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html);
	// EventBridge has since allowed 1 MB per call in some regions, but 256 KiB
	// is safe in every region and in emulators.
	MaxBatchBytes = 256 << 10
)

// EntrySize is the size EventBridge counts for an entry against the call's
// limit, as the user guide computes it
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html):
// 14 bytes for a Time, plus the UTF-8 bytes of Source, DetailType, Detail
// and every Resources entry. Go strings are UTF-8 already, so their length
// is the byte count.
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

func sortByIndex(rs []EntryResult) {
	slices.SortFunc(rs, func(a, b EntryResult) int { return a.Index - b.Index })
}
