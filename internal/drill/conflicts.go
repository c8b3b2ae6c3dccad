package drill

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
)

// checkConflicts checks that every (orderId, seq) claimed by several
// accepted events was settled by the rule (DESIGN §3, Conflicts), not by
// arrival: the lowest eventId's execution is recorded, the winner is
// dead-lettered nowhere, and every other one is in the processing DLQ with
// reason SEQ_CONFLICT — under MREC, of the region that recorded the winner
// (its processedRegion; often the other's too); under MRSC, of at least one
// region (any region displaces a recorded loser there, so the one that
// dead-lettered it need not be the one that recorded the winner).
func checkConflicts(ctx context.Context, ddb *dynamodb.Client, table string, spec deployspec.Spec, stream []gen.Delivery, accepted []bool, dead map[string][]dlq.Record) (local.Check, error) {
	strong := spec.Table.Consistency == schema.Strong
	c := local.Check{Name: "conflicts settled by the rule: the lowest eventId wins, every loser dead-lettered where the winner was recorded"}
	if strong {
		c.Name = "conflicts settled by the rule: the lowest eventId wins, every loser dead-lettered (MRSC: in either region)"
	}
	type key struct {
		order string
		seq   int64
	}
	claims := map[key][]string{}
	for i, d := range stream {
		if !accepted[i] || d.Kind == gen.Invalid {
			continue
		}
		k := key{d.Report.OrderID, d.Report.Seq}
		if !slices.Contains(claims[k], d.Report.EventID) {
			claims[k] = append(claims[k], d.Report.EventID)
		}
	}
	conflicted := map[string]map[string]bool{} // region → eventIds dead-lettered as SEQ_CONFLICT
	for region, recs := range dead {
		conflicted[region] = map[string]bool{}
		for _, r := range recs {
			if r.Reason == processor.ReasonConflict {
				conflicted[region][r.EventID] = true
			}
		}
	}
	st := store.New(ddb, table, spec.Primary, nil)
	n := 0
	for k, ids := range claims {
		if len(ids) < 2 {
			continue
		}
		n++
		winner := slices.Min(ids)
		execs, err := st.Executions(ctx, k.order)
		if err != nil {
			return c, err
		}
		got, recordedIn := "", ""
		for _, x := range execs {
			if x.Seq == k.seq {
				got, recordedIn = x.EventID, x.ProcessedRegion
			}
		}
		if got != winner {
			c.Failures = append(c.Failures, fmt.Sprintf("%s seq %d: execution of %s, want the lowest eventId %s of %v", k.order, k.seq, got, winner, ids))
		}
		for _, id := range ids {
			anywhere := false
			for _, region := range []string{spec.Primary, spec.Secondary} {
				in := conflicted[region][id]
				anywhere = anywhere || in
				switch {
				case id == winner && in:
					c.Failures = append(c.Failures, fmt.Sprintf("%s seq %d: the winner %s is dead-lettered in %s", k.order, k.seq, id, region))
				case id != winner && !in && region == recordedIn && !strong:
					c.Failures = append(c.Failures, fmt.Sprintf("%s seq %d: the loser %s is not dead-lettered as SEQ_CONFLICT in %s", k.order, k.seq, id, region))
				}
			}
			if id != winner && !anywhere && strong {
				c.Failures = append(c.Failures, fmt.Sprintf("%s seq %d: the loser %s is dead-lettered as SEQ_CONFLICT in neither region", k.order, k.seq, id))
			}
		}
	}
	c.Violations = len(c.Failures)
	c.OK = c.Violations == 0
	c.Detail = fmt.Sprintf("%d contested (order, seq), %d violations", n, c.Violations)
	return c, nil
}
