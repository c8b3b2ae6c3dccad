package drill

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tap-trading/tap/internal/twin"
)

// WriteComparison writes the drills of both table modes side by side, one
// line per scenario and mode: the verdict, events lost, the table's RPO had
// the failed region been lost at the failure, the RTO, the table's work
// per event (DynamoDB operations of the processors, and what the MRSC
// quorum added to each write) — the trade DESIGN §3 describes.
func WriteComparison(w io.Writer, reports []*Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\ttable\tresult\tevents lost\ttable RPO (writes)\tRTO: failure → routed (AWS)\tDynamoDB ops per event (writes, failed conditions, queries, reads)\twrite: quorum step mean (AWS round trip assumed)\tconflicts retried / no-quorum refusals")
	for _, r := range reports {
		rto := "—"
		if r.FailureToRouted.Measured {
			rto = r.FailureToRouted.AWS.String()
		}
		quorum, contention := "—", "—"
		if st := r.Strong; st != nil {
			quorum = fmt.Sprintf("%s (%s)", st.WriteLatencyMean.Round(100*time.Microsecond), st.RoundTrip)
			contention = fmt.Sprintf("%d / %d", st.Conflicts, st.WriteRefusals+st.ReadRefusals)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d (%s)\t%s\t%s\t%s\t%s\n", r.Scenario, consistencyAbbrev(r.Consistency), r.verdict(), r.Lost, r.RPOWrites, r.RPORegion, rto,
			opsPerEvent(r), quorum, contention)
	}
	tw.Flush()
}

// opsPerEvent sums both regions' processor DynamoDB operations by kind,
// per accepted event.
func opsPerEvent(r *Report) string {
	if r.Accepted == 0 {
		return "—"
	}
	ops := r.DynamoDBOps()
	var parts []string
	var total float64
	for _, k := range []string{twin.OpWrite, twin.OpCondFailed, twin.OpQuery, twin.OpRead} {
		v := float64(ops[k]) / float64(r.Accepted)
		total += v
		parts = append(parts, fmt.Sprintf("%.2f", v))
	}
	return fmt.Sprintf("%.2f (%s)", total, strings.Join(parts, ", "))
}
