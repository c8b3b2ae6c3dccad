package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/schema"
)

// The I3 simulation: two tables stand for the two regions' replicas of a
// global table. Every write a region's Store makes is given a timestamp from
// one logical clock and queued for replication to the other region, where it
// replaces the item only if it is newer than the version there — DynamoDB
// global tables' last-writer-wins, per item. Replication is FIFO per
// direction and is delivered at random moments, also between the two writes
// of one Apply. The simulation is single-threaded, so a seed fixes the
// interleaving.
type sim struct {
	t       *testing.T
	rng     *rand.Rand
	clock   int64
	regions [2]*replica
	// pReplicate is the chance, before each DynamoDB call, that pending
	// replication records are delivered.
	pReplicate float64
	delivered  int // replication records applied
	discarded  int // replication records older than the target's version
}

type replica struct {
	name   string
	table  string
	direct *dynamodb.Client // moto, for replication and checks
	store  *Store           // applies events; its writes are replicated
	ts     map[string]int64 // item key → timestamp of the version held
	inbox  []record         // replication records on their way here
}

type record struct {
	key  string
	item map[string]types.AttributeValue
	ts   int64
}

func newSim(t *testing.T, seed uint64, pReplicate float64, skipRepair bool) *sim {
	t.Helper()
	s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, 0x13)), pReplicate: pReplicate}
	for i, name := range [2]string{"us-east-1", "us-west-2"} {
		table, client := newTable(t)
		r := &replica{name: name, table: table, direct: client, ts: map[string]int64{}}
		r.store = New(&replicatingClient{sim: s, from: i, Client: client}, table, name, nil)
		r.store.skipRepair = skipRepair
		s.regions[i] = r
	}
	return s
}

// replicatingClient is a region's view of its replica: before each call it
// may let replication in, and after each successful write it queues the
// written item for the other region.
type replicatingClient struct {
	Client
	sim  *sim
	from int
}

func (c *replicatingClient) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.sim.maybeReplicate()
	out, err := c.Client.PutItem(ctx, in, opts...)
	if err == nil {
		c.sim.written(c.from, in.Item)
	}
	return out, err
}

func (c *replicatingClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.sim.maybeReplicate()
	out, err := c.Client.UpdateItem(ctx, in, opts...)
	if err == nil {
		c.sim.written(c.from, in.Key)
	}
	return out, err
}

func (c *replicatingClient) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.sim.maybeReplicate()
	return c.Client.GetItem(ctx, in, opts...)
}

func (c *replicatingClient) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.sim.maybeReplicate()
	return c.Client.Query(ctx, in, opts...)
}

func itemKey(item map[string]types.AttributeValue) string {
	return item[schema.AttrPK].(*types.AttributeValueMemberS).Value + "|" + item[schema.AttrSK].(*types.AttributeValueMemberS).Value
}

// written timestamps a local write in region from (of the item whose key is
// in key) and queues the item, as it now is, for the other region.
func (s *sim) written(from int, key map[string]types.AttributeValue) {
	s.t.Helper()
	r := s.regions[from]
	key = map[string]types.AttributeValue{schema.AttrPK: key[schema.AttrPK], schema.AttrSK: key[schema.AttrSK]}
	out, err := r.direct.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &r.table, Key: key, ConsistentRead: boolPtr(true)})
	if err != nil {
		s.t.Fatal(err)
	}
	s.clock++
	k := itemKey(out.Item)
	r.ts[k] = s.clock
	other := s.regions[1-from]
	other.inbox = append(other.inbox, record{key: k, item: out.Item, ts: s.clock})
}

// maybeReplicate delivers a few pending records, at random.
func (s *sim) maybeReplicate() {
	for s.rng.Float64() < s.pReplicate {
		to := s.rng.IntN(2)
		if len(s.regions[to].inbox) == 0 {
			to = 1 - to
		}
		if len(s.regions[to].inbox) == 0 {
			return
		}
		s.deliver(to)
	}
}

// deliver applies the oldest record on its way to region to, if it is newer
// than the version there.
func (s *sim) deliver(to int) {
	s.t.Helper()
	r := s.regions[to]
	rec := r.inbox[0]
	r.inbox = r.inbox[1:]
	if rec.ts <= r.ts[rec.key] {
		s.discarded++
		return
	}
	if _, err := r.direct.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &r.table, Item: rec.item}); err != nil {
		s.t.Fatal(err)
	}
	r.ts[rec.key] = rec.ts
	s.delivered++
}

// drain delivers all pending replication.
func (s *sim) drain() {
	for to := range s.regions {
		for len(s.regions[to].inbox) > 0 {
			s.deliver(to)
		}
	}
}

func (s *sim) apply(region int, r event.ExecutionReport) Result {
	s.t.Helper()
	res, err := s.regions[region].store.Apply(context.Background(), &r)
	if err != nil {
		s.t.Fatalf("%s: Apply(%s seq %d): %v", s.regions[region].name, r.OrderID, r.Seq, err)
	}
	return res
}

// state returns the business state of an order in both regions.
func (s *sim) state(orderID string) [2]OrderState {
	s.t.Helper()
	var out [2]OrderState
	for i, r := range s.regions {
		o, err := New(r.direct, r.table, r.name, nil).GetOrder(context.Background(), orderID)
		if err != nil {
			s.t.Fatalf("%s: %v", r.name, err)
		}
		out[i] = o.Business()
	}
	return out
}

// TestI3ReplicasConvergeToTheHighestSeq runs both regions over the same
// lifecycles, each with its own duplicates and shuffling, interleaved at
// random with replication, for several seeds; after replication settles both
// replicas hold every execution and, for every order, the highest seq's state.
func TestI3ReplicasConvergeToTheHighestSeq(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			s := newSim(t, seed, 0.3, false)
			ls := gen.Lifecycles(100+seed, orders(10), gen.Options{MaxFills: 6})
			var streams [2][]gen.Delivery
			for i := range streams {
				streams[i] = gen.Stream(ls, gen.StreamOptions{Seed: seed*10 + uint64(i), Duplicates: 0.1, Reorder: true})
			}
			var next [2]int
			counts := map[Outcome]int{}
			repairs := 0
			for next[0] < len(streams[0]) || next[1] < len(streams[1]) {
				region := s.rng.IntN(2)
				if next[region] == len(streams[region]) {
					region = 1 - region
				}
				res := s.apply(region, streams[region][next[region]].Report)
				next[region]++
				counts[res.Outcome]++
				if res.RepairedSeq != 0 {
					repairs++
				}
			}
			s.drain()

			for _, l := range ls {
				got := s.state(l.OrderID)
				want := wantState(l.Last())
				for i, r := range s.regions {
					if !reflect.DeepEqual(got[i], want) {
						t.Errorf("%s: order %s state seq %d (%s), want seq %d (%s)",
							r.name, l.OrderID, got[i].LastSeq, got[i].LastEventID, want.LastSeq, want.LastEventID)
					}
				}
				for _, r := range s.regions {
					checkOrder(t, New(r.direct, r.table, r.name, nil), l.Events)
				}
			}
			if counts[Conflict] != 0 {
				t.Errorf("%d conflicts in streams of the same events", counts[Conflict])
			}
			t.Logf("outcomes %v, %d repairs, replication: %d applied, %d discarded as older",
				counts, repairs, s.delivered, s.discarded)
		})
	}
}

// TestI3RollbackByReplicationIsRepaired replays, step by step, the
// interleaving in which last-writer-wins replication rolls a region's state
// back below a seq it had applied, and shows the replicas end at a lower seq
// than the highest without the repair of Store.Apply, and at the highest with
// it.
func TestI3RollbackByReplicationIsRepaired(t *testing.T) {
	l := longLifecycle(t, 41, 5)
	e := l.Events
	for _, tc := range []struct {
		repair  bool
		wantSeq int64
	}{{true, 5}, {false, 4}} {
		t.Run(fmt.Sprintf("repair=%v", tc.repair), func(t *testing.T) {
			const east, west = 0, 1
			s := newSim(t, 1, 0, !tc.repair)
			s.apply(east, e[0])
			s.apply(east, e[1])
			s.drain()
			s.apply(west, e[0])
			s.apply(west, e[1])
			s.drain()

			s.apply(east, e[4]) // east: state 5
			s.apply(west, e[2]) // west has not seen 5: state 3, written later
			for len(s.regions[east].inbox) > 0 {
				s.deliver(east) // 3 is newer: it replaces east's 5
			}
			if got := s.state(l.OrderID)[east].LastSeq; got != 3 {
				t.Fatalf("east state after west's replication = seq %d, want the rolled-back 3", got)
			}
			s.apply(west, e[4])        // west: 3 → 5
			res := s.apply(east, e[3]) // east: 3 → 4, over west's item
			if tc.repair && res != (Result{Outcome: Stale, StateApplied: true, RepairedSeq: 5}) {
				t.Errorf("east Apply(seq 4) = %+v, want stale with state repaired to seq 5", res)
			}
			s.drain()
			s.apply(west, e[3])
			s.apply(east, e[2])
			s.drain()

			got := s.state(l.OrderID)
			if got[east] != got[west] {
				t.Errorf("replicas differ: east seq %d, west seq %d", got[east].LastSeq, got[west].LastSeq)
			}
			if got[east].LastSeq != tc.wantSeq {
				t.Errorf("replicas converged on seq %d, want %d", got[east].LastSeq, tc.wantSeq)
			}
		})
	}
}
