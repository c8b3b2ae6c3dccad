package local

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/store"
)

// TestSerializedDynamoDBKeepsStateAtHighestSeq applies every event of each
// order concurrently through the serialized client the local processor uses:
// every order must end at its highest seq, as with DynamoDB. Without the
// serialization moto lets about one order in four end lower (see
// serialHTTPClient).
func TestSerializedDynamoDBKeepsStateAtHighestSeq(t *testing.T) {
	c := dynamodb.NewFromConfig(testConfig(t), func(o *dynamodb.Options) { o.HTTPClient = serialize(o.HTTPClient) })
	table := "atomic-" + testNames(t).Env
	if err := store.CreateTable(context.Background(), c, table); err != nil {
		t.Fatal(err)
	}
	st := store.New(c, table, testRegion, nil)
	orders := 0
	for _, l := range gen.Lifecycles(99, 60, gen.Options{}) {
		if len(l.Events) < 3 {
			continue
		}
		orders++
		var wg sync.WaitGroup
		for i := range l.Events {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := st.Apply(context.Background(), &l.Events[i]); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		o, err := st.GetOrder(context.Background(), l.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		if o.LastSeq != l.Last().Seq {
			t.Errorf("%s: state at seq %d after concurrent apply, want %d", l.OrderID, o.LastSeq, l.Last().Seq)
		}
	}
	if orders < 20 {
		t.Fatalf("only %d orders with 3+ events; the test needs more", orders)
	}
}
