package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/schema"
)

// indexKeys reads the byAccount key attributes of an order's state item.
func indexKeys(t *testing.T, client *dynamodb.Client, table, orderID string) (pk, sk string) {
	t.Helper()
	out, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, Key: stateKey(orderID), ConsistentRead: boolPtr(true)})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := out.Item[schema.AttrGSI1PK].(*types.AttributeValueMemberS)
	s, _ := out.Item[schema.AttrGSI1SK].(*types.AttributeValueMemberS)
	if p == nil || s == nil {
		t.Fatalf("state of %s has no byAccount keys: %v", orderID, out.Item)
	}
	return p.Value, s.Value
}

// TestIndexKeysAreSetOnce: the state's byAccount keys are the account and the
// first applied event's transactTime, and no later update changes them — the
// condition under which DynamoDB writes nothing to a KEYS_ONLY index (GSI.html,
// "Write capacity units consumption"). An order whose later event arrives
// first opens at that event's time, and an earlier one arriving after does not
// move it.
func TestIndexKeysAreSetOnce(t *testing.T) {
	table, client := newTable(t)
	st := New(client, table, testRegion, fixedClock(clock))
	ctx := context.Background()
	ls := gen.Lifecycles(21, 2, gen.Options{MaxFills: 4})
	inOrder, late := ls[0], ls[1]
	if len(late.Events) < 3 {
		t.Fatalf("lifecycle %s has %d events, want at least 3", late.OrderID, len(late.Events))
	}

	first := inOrder.Events[0]
	wantSK := openedGSI1SK(FormatTime(first.TransactTime), first.OrderID)
	for i, r := range inOrder.Events {
		if _, err := st.Apply(ctx, &r); err != nil {
			t.Fatal(err)
		}
		pk, sk := indexKeys(t, client, table, r.OrderID)
		if pk != AccountGSI1PK(r.AccountID) || sk != wantSK {
			t.Fatalf("after seq %d the index keys are %s / %s, want %s / %s (set once, at the first event)", i+1, pk, sk, AccountGSI1PK(r.AccountID), wantSK)
		}
	}

	// seq 2 first, then 1, then the rest.
	order := append([]event.ExecutionReport{late.Events[1], late.Events[0]}, late.Events[2:]...)
	wantSK = openedGSI1SK(FormatTime(late.Events[1].TransactTime), late.OrderID)
	for _, r := range order {
		if _, err := st.Apply(ctx, &r); err != nil {
			t.Fatal(err)
		}
		if _, sk := indexKeys(t, client, table, r.OrderID); sk != wantSK {
			t.Fatalf("after seq %d the index sort key is %s, want %s (the first event applied opens the order)", r.Seq, sk, wantSK)
		}
	}
	checkOrder(t, st, late.Events)
}

// TestAccountOrders lists through the keys-only index and the batched state
// reads: every order of the account, in opening order, with its current
// state; --since by opening time; all pages, and more than one BatchGetItem.
func TestAccountOrders(t *testing.T) {
	table, client := newTable(t)
	counting := &batchCounter{Client: client}
	st := New(counting, table, testRegion, fixedClock(clock))
	st.pageSize = 7 // many Query pages
	ctx := context.Background()
	// 2 accounts, 230 orders: one account's 115 need two BatchGetItem requests.
	ls := gen.Lifecycles(31, 230, gen.Options{Accounts: 2, MaxFills: 1})
	if err := applyAll(ctx, st, gen.Events(ls)); err != nil {
		t.Fatal(err)
	}
	acct := ls[0].AccountID
	var mine []gen.Lifecycle
	for _, l := range ls {
		if l.AccountID == acct {
			mine = append(mine, l)
		}
	}
	if len(mine) <= MaxBatchGetKeys {
		t.Fatalf("account %s has %d orders, want more than %d for this test", acct, len(mine), MaxBatchGetKeys)
	}

	check := func(q AccountQuery, want []gen.Lifecycle, more bool) {
		t.Helper()
		got, err := st.AccountOrders(ctx, q)
		if err != nil {
			t.Fatalf("AccountOrders(%+v): %v", q, err)
		}
		if got.More != more {
			t.Errorf("AccountOrders(%+v).More = %v, want %v", q, got.More, more)
		}
		var gotIDs, wantIDs []string
		for _, o := range got.Orders {
			gotIDs = append(gotIDs, o.OrderID)
		}
		for _, l := range want {
			wantIDs = append(wantIDs, l.OrderID)
		}
		if !slices.Equal(gotIDs, wantIDs) {
			t.Fatalf("AccountOrders(%+v) = %d orders %v…, want %d %v… in opening order", q, len(gotIDs), head(gotIDs), len(wantIDs), head(wantIDs))
		}
		for i, o := range got.Orders {
			l := want[i]
			if !o.OpenedAt.Equal(l.Events[0].TransactTime) {
				t.Errorf("order %s opened at %v, want %v", o.OrderID, o.OpenedAt, l.Events[0].TransactTime)
			}
			if w := wantState(l.Last()); !reflect.DeepEqual(o.Business(), w) {
				t.Errorf("order %s state =\n%+v\nwant\n%+v", o.OrderID, o.Business(), w)
			}
		}
	}

	counting.reset()
	check(AccountQuery{AccountID: acct}, mine, false)
	if n := counting.get(); n < 2 {
		t.Errorf("%d BatchGetItem requests for %d orders, want at least 2 (100 keys a request)", n, len(mine))
	}
	since := mine[40].Events[0].TransactTime
	check(AccountQuery{AccountID: acct, OpenedSince: since}, mine[40:], false)
	check(AccountQuery{AccountID: acct, Limit: 10}, mine[:10], true)
	check(AccountQuery{AccountID: acct, Limit: len(mine)}, mine, false)
	check(AccountQuery{AccountID: "acct-none"}, nil, false)
	check(AccountQuery{AccountID: acct, OpenedSince: clock.Add(time.Hour)}, nil, false)

	if _, err := st.AccountOrders(ctx, AccountQuery{AccountID: acct, Limit: -1}); err == nil {
		t.Error("a negative limit was accepted")
	}
}

// TestAccountOrdersRereadsUnprocessedKeys: keys BatchGetItem leaves
// unprocessed (throttling) are asked for again; when they stay unprocessed the
// read fails with the count instead of returning a partial list.
func TestAccountOrdersRereadsUnprocessedKeys(t *testing.T) {
	table, client := newTable(t)
	ctx := context.Background()
	ls := gen.Lifecycles(41, 6, gen.Options{Accounts: 1, MaxFills: 1})
	if err := applyAll(ctx, New(client, table, testRegion, fixedClock(clock)), gen.Events(ls)); err != nil {
		t.Fatal(err)
	}
	acct := ls[0].AccountID

	for _, tc := range []struct {
		name      string
		throttled int // requests that leave half their keys unprocessed
		wantErr   bool
	}{{"throttled twice", 2, false}, {"throttled for ever", 1000, true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := &batchCounter{Client: client, throttle: tc.throttled}
			got, err := New(c, table, testRegion, nil).AccountOrders(ctx, AccountQuery{AccountID: acct})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %d orders, want an error naming the unprocessed states", len(got.Orders))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Orders) != len(ls) {
				t.Errorf("got %d orders, want %d", len(got.Orders), len(ls))
			}
			if n := c.get(); n != tc.throttled+1 {
				t.Errorf("%d BatchGetItem requests, want %d", n, tc.throttled+1)
			}
		})
	}
}

func applyAll(ctx context.Context, st *Store, events []event.ExecutionReport) error {
	for _, r := range events {
		if _, err := st.Apply(ctx, &r); err != nil {
			return fmt.Errorf("apply %s: %w", r.EventID, err)
		}
	}
	return nil
}

func head(ids []string) []string { return ids[:min(len(ids), 5)] }

// batchCounter counts BatchGetItem requests and, for the first throttle of
// them, answers for half the keys and returns the rest as unprocessed, as
// DynamoDB does under throttling.
type batchCounter struct {
	*dynamodb.Client
	throttle int
	mu       sync.Mutex
	n        int
}

func (c *batchCounter) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.mu.Lock()
	c.n++
	throttled := c.n <= c.throttle
	c.mu.Unlock()
	if !throttled {
		return c.Client.BatchGetItem(ctx, in, opts...)
	}
	half := map[string]types.KeysAndAttributes{}
	rest := map[string]types.KeysAndAttributes{}
	for table, ka := range in.RequestItems {
		n := (len(ka.Keys) + 1) / 2
		half[table] = types.KeysAndAttributes{Keys: ka.Keys[:n]}
		if n < len(ka.Keys) {
			rest[table] = types.KeysAndAttributes{Keys: ka.Keys[n:]}
		}
	}
	out, err := c.Client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: half}, opts...)
	if err != nil {
		return nil, err
	}
	if len(rest) == 0 {
		// One key left: answer nothing and leave it unprocessed.
		return &dynamodb.BatchGetItemOutput{UnprocessedKeys: in.RequestItems}, nil
	}
	out.UnprocessedKeys = rest
	return out, nil
}

func (c *batchCounter) reset() { c.mu.Lock(); c.n = 0; c.mu.Unlock() }
func (c *batchCounter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
