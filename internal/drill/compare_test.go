package drill

import (
	"strings"
	"testing"

	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/twin"
)

// TestWriteComparison: one line per report, each naming its mode and
// verdict, with both regions' operations summed per accepted event and the
// quorum's figures only for MRSC.
func TestWriteComparison(t *testing.T) {
	regions := func(a, b map[string]int) []RegionReport {
		return []RegionReport{{DynamoDBOps: a}, {DynamoDBOps: b}}
	}
	mrec := &Report{Scenario: RegionLoss, Consistency: schema.Eventual, Accepted: 10,
		Checks:  []local.Check{{Name: "ok", OK: true}},
		Regions: regions(map[string]int{twin.OpWrite: 20, twin.OpQuery: 5}, map[string]int{twin.OpWrite: 10, twin.OpCondFailed: 5})}
	mrsc := &Report{Scenario: RegionLoss, Consistency: schema.Strong, Accepted: 10,
		Checks:  []local.Check{{Name: "lost", OK: false}},
		Regions: regions(map[string]int{twin.OpRead: 10}, nil),
		Strong:  &StrongTableReport{Conflicts: 3, WriteRefusals: 1, ReadRefusals: 2}}
	if got := mrec.DynamoDBOps(); got[twin.OpWrite] != 30 || got[twin.OpCondFailed] != 5 || got[twin.OpQuery] != 5 {
		t.Errorf("DynamoDBOps = %v, want both regions summed", got)
	}
	var b strings.Builder
	WriteComparison(&b, []*Report{mrec, mrsc})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want a header and one per report:\n%s", len(lines), b.String())
	}
	for i, want := range [][]string{
		{"MREC", "PASSED", "4.00 (3.00, 0.50, 0.50, 0.00)", "—"},
		{"MRSC", "FAILED", "1.00 (0.00, 0.00, 0.00, 1.00)", "3 / 3"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("line %d %q lacks %q", i+1, lines[i+1], w)
			}
		}
	}
}
