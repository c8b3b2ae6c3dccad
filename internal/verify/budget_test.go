package verify

import (
	"context"
	"testing"
	"time"
)

// TestBudgetWaitsOutItsDebt: the bucket starts full (one second of budget),
// a charge may overdraw it, and the next wait lasts until the debt is paid
// at the budget's rate — in virtual time.
func TestBudgetWaitsOutItsDebt(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	start := clock.Now()
	b := newBudget(10, clock) // 10 RCU/s, 10 RCU of burst

	if err := b.wait(ctx); err != nil || clock.Now() != start {
		t.Fatalf("a full budget waited (%v, %s)", err, clock.Now().Sub(start))
	}
	b.charge(25) // 15 RCU of debt: 1.5 s
	if err := b.wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := clock.Now().Sub(start); got != 1500*time.Millisecond {
		t.Errorf("waited %s after 25 RCU on a 10 RCU/s budget with 10 of burst, want 1.5s", got)
	}
	// Half units count: 0.5 RCU charged, 0.05 s to pay.
	b.charge(0.5)
	if err := b.wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := clock.Now().Sub(start); got != 1550*time.Millisecond {
		t.Errorf("at %s after a further 0.5 RCU, want 1.55s", got)
	}
	if b.waitedFor() != 1550*time.Millisecond {
		t.Errorf("waitedFor = %s, want 1.55s", b.waitedFor())
	}
}

// A budget below one RCU per second still works: its bucket holds one
// half unit.
func TestBudgetBelowOneRCU(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	b := newBudget(0.25, clock) // half a half unit per second
	b.charge(1)                 // 2 half units, 1 in the bucket: 1 of debt
	if err := b.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := clock.Now().Sub(start); got != 2*time.Second {
		t.Errorf("waited %s, want 2s", got)
	}
}
