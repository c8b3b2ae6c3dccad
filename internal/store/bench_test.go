package store

import (
	"context"
	"testing"

	"github.com/tap-trading/tap/internal/gen"
)

// BenchmarkPlan measures write planning of one event: the execution put and
// the state update, as Apply builds them.
func BenchmarkPlan(b *testing.B) {
	events := gen.Events(gen.Lifecycles(1, 256, gen.Options{}))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := &events[i%len(events)]
		_ = PlanExecution(r, testRegion, clock)
		_ = PlanState(r, testRegion, clock)
		i++
	}
}

// BenchmarkApplyMoto measures one first delivery through Apply against moto:
// the execution put and the state update over HTTP, through the real SDK.
func BenchmarkApplyMoto(b *testing.B) {
	table, client := newTable(b)
	st := New(client, table, testRegion, nil)
	ctx := context.Background()
	events := gen.Events(gen.Lifecycles(2, max(1, b.N/3+10), gen.Options{}))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := st.Apply(ctx, &events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
	}
}
