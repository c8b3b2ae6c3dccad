package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/schema"
)

// MaxBatchGetKeys is the most keys one BatchGetItem request may ask for
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html).
const MaxBatchGetKeys = 100

// batchGetAttempts bounds the rounds of re-asking for unprocessed keys; the
// wait between rounds doubles from batchGetBackoff.
const (
	batchGetAttempts = 8
	batchGetBackoff  = 50 * time.Millisecond
)

// AccountQuery selects an account's orders from the byAccount index.
type AccountQuery struct {
	AccountID string
	// OpenedSince keeps the orders opened at or after it; zero keeps all.
	OpenedSince time.Time
	// Limit is the most orders returned, oldest first; 0 returns all.
	Limit int
}

// AccountOrder is one order of an account: when it opened (the index's sort
// key) and its current state.
type AccountOrder struct {
	OpenedAt time.Time
	OrderState
}

// AccountOrders is the answer to an AccountQuery.
type AccountOrders struct {
	Orders []AccountOrder
	// More reports that the index holds more orders than Limit after the
	// last one returned.
	More bool
}

// AccountOrders lists an account's orders by the time they opened, oldest
// first, with their current state. The byAccount index holds keys only
// (DESIGN §3, the account index): the query pages through it — every 1 MB
// page, never only the first — and the states are read back with
// BatchGetItem, 100 keys a request, re-asking for unprocessed keys with
// backoff. Both reads are eventually consistent, as an index read must be:
// an order opened or updated in the last second may be missing or show its
// previous state. It fails rather than return a partial list.
func (s *Store) AccountOrders(ctx context.Context, q AccountQuery) (AccountOrders, error) {
	if q.AccountID == "" {
		return AccountOrders{}, fmt.Errorf("store: orders of an account: no account ID")
	}
	if q.Limit < 0 {
		return AccountOrders{}, fmt.Errorf("store: orders of account %s: limit %d is negative", q.AccountID, q.Limit)
	}
	var entries []indexed
	var res AccountOrders
	in := &dynamodb.QueryInput{
		TableName:              &s.table,
		IndexName:              strPtr(schema.IndexByAccount),
		KeyConditionExpression: strPtr("#pk = :pk AND #sk >= :since"),
		ExpressionAttributeNames: map[string]string{
			"#pk": schema.AttrGSI1PK, "#sk": schema.AttrGSI1SK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(AccountGSI1PK(q.AccountID)), ":since": str(FormatTime(q.OpenedSince)),
		},
	}
	errEnough := errors.New("limit reached")
	err := s.query(ctx, in, func(item map[string]types.AttributeValue) error {
		if q.Limit > 0 && len(entries) == q.Limit {
			res.More = true
			return errEnough
		}
		e, err := indexEntry(item)
		if err != nil {
			return err
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return AccountOrders{}, fmt.Errorf("store: orders of account %s: %w", q.AccountID, err)
	}

	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.orderID
	}
	states, err := s.states(ctx, ids)
	if err != nil {
		return AccountOrders{}, fmt.Errorf("store: orders of account %s: %w", q.AccountID, err)
	}
	res.Orders = make([]AccountOrder, 0, len(entries))
	for _, e := range entries {
		st, ok := states[e.orderID]
		if !ok {
			// States are never deleted and the index lags the table, so a key
			// the index lists has its item: a missing one is a fault.
			return AccountOrders{}, fmt.Errorf("store: orders of account %s: the index lists order %s but its state item is missing", q.AccountID, e.orderID)
		}
		res.Orders = append(res.Orders, AccountOrder{OpenedAt: e.opened, OrderState: st})
	}
	return res, nil
}

type indexed struct {
	orderID string
	opened  time.Time
}

// indexEntry reads an order's key and opening time from a byAccount index
// item (keys only).
func indexEntry(item map[string]types.AttributeValue) (indexed, error) {
	d := decoder{item: item}
	pk, sk := d.str(schema.AttrPK), d.str(schema.AttrGSI1SK)
	if d.err != nil {
		return indexed{}, d.err
	}
	orderID, ok := strings.CutPrefix(pk, orderPrefix)
	opened, _, hasSep := strings.Cut(sk, "#")
	t, err := time.Parse(time.RFC3339Nano, opened)
	if !ok || !hasSep || err != nil {
		return indexed{}, fmt.Errorf("index item %s/%s: want PK %s<orderId> and GSI1SK <RFC 3339 time>#<orderId>", pk, sk, orderPrefix)
	}
	return indexed{orderID: orderID, opened: t}, nil
}

// states reads the state items of orderIDs with BatchGetItem (eventually
// consistent), keyed by orderId.
func (s *Store) states(ctx context.Context, orderIDs []string) (map[string]OrderState, error) {
	out := make(map[string]OrderState, len(orderIDs))
	for start := 0; start < len(orderIDs); start += MaxBatchGetKeys {
		chunk := orderIDs[start:min(start+MaxBatchGetKeys, len(orderIDs))]
		keys := make([]map[string]types.AttributeValue, len(chunk))
		for i, id := range chunk {
			keys[i] = stateKey(id)
		}
		pending := map[string]types.KeysAndAttributes{s.table: {Keys: keys}}
		wait := batchGetBackoff
		for attempt := 1; len(pending) > 0; attempt++ {
			if attempt > batchGetAttempts {
				return nil, fmt.Errorf("%d order states still unprocessed after %d BatchGetItem requests (throttled: try again later)",
					len(pending[s.table].Keys), batchGetAttempts)
			}
			if attempt > 1 {
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(wait):
				}
				wait *= 2
			}
			resp, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, fmt.Errorf("read order states: %w", err)
			}
			for _, item := range resp.Responses[s.table] {
				st, err := stateFromItem(item)
				if err != nil {
					return nil, err
				}
				out[st.OrderID] = st
			}
			pending = resp.UnprocessedKeys
		}
	}
	return out, nil
}
