package cli

import (
	"context"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/gen"
)

// seedOrders applies n generated lifecycles to the env's table and returns them.
func seedOrders(t *testing.T, f *fixture, n int) []gen.Lifecycle {
	t.Helper()
	st := f.table(primary)
	ls := gen.Lifecycles(7, n, gen.Options{Accounts: 2})
	for _, l := range ls {
		for i := range l.Events {
			if _, err := st.Apply(context.Background(), &l.Events[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ls
}

func TestOrderGet(t *testing.T) {
	f := newFixture(t)
	ls := seedOrders(t, f, 3)
	l := ls[0]
	last := l.Last()

	text := f.run("", "order", "get", l.OrderID).want(t, ExitOK)
	if !contains(text.stdout, l.OrderID, string(last.ExecType.Status()), last.EventID, last.CumQty.String()) {
		t.Errorf("order get text lacks the order's state:\n%s", text.stdout)
	}

	var v orderView
	f.run("", "order", "get", l.OrderID, "--executions", "--output", "json").want(t, ExitOK).decode(t, &v)
	if v.LastSeq != last.Seq || v.LastEventID != last.EventID || v.CumQty != last.CumQty.String() || v.AvgPx != last.AvgPx.String() {
		t.Errorf("order get json = seq %d event %s cum %s avg %s, want %d %s %s %s",
			v.LastSeq, v.LastEventID, v.CumQty, v.AvgPx, last.Seq, last.EventID, last.CumQty, last.AvgPx)
	}
	if len(v.Executions) != len(l.Events) {
		t.Fatalf("executions = %d, want %d", len(v.Executions), len(l.Events))
	}
	for i, e := range v.Executions {
		if e.Seq != int64(i+1) || e.EventID != l.Events[i].EventID {
			t.Errorf("execution %d = seq %d event %s, want seq %d event %s", i, e.Seq, e.EventID, i+1, l.Events[i].EventID)
		}
	}
}

func TestOrderGetNotFound(t *testing.T) {
	f := newFixture(t)
	f.table(primary)
	r := f.run("", "order", "get", "no-such-order").want(t, ExitFailure)
	if !contains(r.stderr, "no-such-order", "not found", f.names.Table()) {
		t.Errorf("stderr = %q, want it to name the order and the table", r.stderr)
	}
}

func TestOrderGetMissingTableSaysWhatToDo(t *testing.T) {
	f := newFixture(t)
	r := f.run("", "order", "get", "x").want(t, ExitFailure)
	if !contains(r.stderr, "ResourceNotFoundException", "what to do", "--env") {
		t.Errorf("stderr = %q, want the error and a hint to check --env/--region", r.stderr)
	}
}

func TestAccountOrders(t *testing.T) {
	f := newFixture(t)
	ls := seedOrders(t, f, 8)
	account := ls[0].AccountID
	var want []gen.Lifecycle
	for _, l := range ls {
		if l.AccountID == account {
			want = append(want, l)
		}
	}
	if len(want) < 3 {
		t.Fatalf("account %s has %d orders, want at least 3", account, len(want))
	}

	var got []accountOrderView
	f.run("", "account", "orders", account, "-o", "json").want(t, ExitOK).decode(t, &got)
	if len(got) != len(want) {
		t.Fatalf("account orders = %d, want %d", len(got), len(want))
	}
	for i, v := range got {
		if v.OrderID != want[i].OrderID || !v.OpenedAt.Equal(want[i].Events[0].TransactTime) || v.LastSeq != want[i].Last().Seq {
			t.Errorf("order %d = %s opened %v seq %d, want %s opened %v seq %d (opening order, current state)",
				i, v.OrderID, v.OpenedAt, v.LastSeq, want[i].OrderID, want[i].Events[0].TransactTime, want[i].Last().Seq)
		}
	}

	// --since keeps the orders opened at or after it.
	since := want[1].Events[0].TransactTime.Format(time.RFC3339Nano)
	f.run("", "account", "orders", account, "--since", since, "-o", "json").want(t, ExitOK).decode(t, &got)
	if len(got) != len(want)-1 || got[0].OrderID != want[1].OrderID {
		t.Errorf("orders since %s = %d from %v, want %d from %s", since, len(got), got, len(want)-1, want[1].OrderID)
	}

	// --limit lists the oldest and says on stderr how to see the rest.
	r := f.run("", "account", "orders", account, "--limit", "2", "-o", "json").want(t, ExitOK)
	r.decode(t, &got)
	if len(got) != 2 || got[1].OrderID != want[1].OrderID {
		t.Errorf("--limit 2 listed %d orders, want the 2 oldest", len(got))
	}
	if !contains(r.stderr, "more orders than the 2 listed", "--since "+want[1].Events[0].TransactTime.Format(time.RFC3339Nano), "--limit") {
		t.Errorf("stderr = %q, want it to say more orders exist and how to list them", r.stderr)
	}

	text := f.run("", "account", "orders", account).want(t, ExitOK)
	if !contains(text.stdout, "OPENED", "LAST TRANSACT TIME", want[0].OrderID) {
		t.Errorf("text output lacks the table:\n%s", text.stdout)
	}
	if text.stderr != "" {
		t.Errorf("stderr = %q, want nothing when every order is listed", text.stderr)
	}
	none := f.run("", "account", "orders", "acct-none").want(t, ExitOK)
	if !contains(none.stdout, "no orders of account acct-none") {
		t.Errorf("an account with no orders printed %q", none.stdout)
	}
}

func TestAccountOrdersRefusesBadFlags(t *testing.T) {
	f := newFixture(t)
	f.table(primary)
	future := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	r := f.run("", "account", "orders", "acct-000", "--since", future).want(t, ExitUsage)
	if !contains(r.stderr, "--since", "in the future") {
		t.Errorf("stderr = %q, want --since refused as in the future", r.stderr)
	}
	r = f.run("", "account", "orders", "acct-000", "--limit", "-3").want(t, ExitUsage)
	if !contains(r.stderr, "--limit -3") {
		t.Errorf("stderr = %q, want --limit refused", r.stderr)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"", time.Time{}, false},
		{"24h", now.Add(-24 * time.Hour), false},
		{"2026-01-05T14:30:00Z", time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC), false},
		{"yesterday", time.Time{}, true},
		{"-5m", time.Time{}, true},
	} {
		got, err := parseSince(tc.in, now)
		if (err != nil) != tc.err || !got.Equal(tc.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !isUsage(err) {
			t.Errorf("parseSince(%q) error %v is not a usage error", tc.in, err)
		}
	}
}
