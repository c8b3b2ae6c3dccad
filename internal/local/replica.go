package local

import (
	"context"
	"fmt"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/store"
)

// VerifyReplica checks invariants I1 and I2 on one table replica (through
// st) for the deliveries of stream whose accepted[i] is true, the way the
// demo checks its table, without the demo's outcome counts: when events
// reach several regions and producers retry, one event may be processed any
// number of times. dead are the dead-letter records that count as accounted
// for (every region's processing DLQ). It also returns the deliveries that
// are neither recorded nor dead-lettered: the events lost.
func VerifyReplica(ctx context.Context, st *store.Store, ls []gen.Lifecycle, stream []gen.Delivery, accepted []bool, dead []dlq.Record) ([]Check, int, error) {
	sent := newSentView(stream, accepted)
	execs, state, winner, err := checkI1(ctx, st, ls, sent)
	if err != nil {
		return nil, 0, err
	}
	acct, reasons := accountFor(sent, winner, dead)
	acct.OK = acct.Violations == 0
	acct.Detail = fmt.Sprintf("%d accepted events: applied, duplicate, stale, or dead-lettered with a reason (%d records)", len(sent.accepted), len(dead))
	reasons.OK = reasons.Violations == 0
	reasons.Detail = fmt.Sprintf("%d invalid events", sent.kinds[gen.Invalid])
	return []Check{execs, state, acct, reasons}, acct.Violations, nil
}
