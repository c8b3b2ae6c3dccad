package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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
//
// Each replica also has a follower: a second table that receives every write
// of the replica late (at random moments, in order per item, in any order
// across items) and serves the replica's eventually consistent reads, so
// ApplyReplicated's read can be stale — also across items, as DynamoDB's can.
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
	// pFollow is the chance, before each DynamoDB call, that pending
	// follower records are delivered (0: followers are never behind).
	pFollow float64
	// eventualReads counts eventually consistent reads, laggingReads those
	// made while the region's follower was behind.
	eventualReads, laggingReads int
	// shuffle delivers pending replication records in random order (across
	// items and within one; last writer wins discards the older) instead of
	// FIFO per direction.
	shuffle bool
	// deadLettered counts, per region, the dead letters the processor would
	// have sent, by eventId: events that lost their seq (Conflict) and
	// outranked executions (OnOutranked).
	deadLettered [2]map[string]int
}

type replica struct {
	name   string
	table  string
	direct *dynamodb.Client // moto, for replication and checks
	store  *Store           // applies events; its writes are replicated
	ts     map[string]int64 // item key → timestamp of the version held
	inbox  []record         // replication records on their way here
	// follower serves eventually consistent reads; lag holds the writes
	// it has not seen yet.
	follower string
	lag      []record
}

type record struct {
	key  string
	item map[string]types.AttributeValue
	ts   int64
}

func newSim(t *testing.T, seed uint64, pReplicate float64, skipRepair bool) *sim {
	t.Helper()
	s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, 0x13)), pReplicate: pReplicate}
	s.deadLettered = [2]map[string]int{{}, {}}
	for i, name := range [2]string{"us-east-1", "us-west-2"} {
		table, client := newTable(t)
		follower, _ := newTable(t)
		r := &replica{name: name, table: table, direct: client, ts: map[string]int64{}, follower: follower}
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
	if !aws.ToBool(in.ConsistentRead) {
		cp := *in
		cp.TableName = &c.sim.regions[c.from].follower
		in = &cp
	}
	return c.Client.GetItem(ctx, in, opts...)
}

func (c *replicatingClient) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.sim.maybeReplicate()
	if !aws.ToBool(in.ConsistentRead) {
		cp := *in
		cp.TableName = &c.sim.regions[c.from].follower
		in = &cp
		c.sim.eventualReads++
		if len(c.sim.regions[c.from].lag) > 0 {
			c.sim.laggingReads++
		}
	}
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
	r.lag = append(r.lag, record{key: k, item: out.Item})
}

// maybeReplicate delivers a few pending records, at random, to the replicas
// and to their followers.
func (s *sim) maybeReplicate() {
	for s.pFollow > 0 && s.rng.Float64() < s.pFollow {
		r := s.regions[s.rng.IntN(2)]
		if len(r.lag) > 0 {
			s.follow(r, s.rng.IntN(len(r.lag)))
		}
	}
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

// deliver applies the oldest record on its way to region to (a random one
// with shuffle), if it is newer than the version there.
func (s *sim) deliver(to int) {
	s.t.Helper()
	i := 0
	if s.shuffle {
		i = s.rng.IntN(len(s.regions[to].inbox))
	}
	s.deliverAt(to, i)
}

// deliverAt applies record i of those on their way to region to, if it is
// newer than the version there.
func (s *sim) deliverAt(to, i int) {
	s.t.Helper()
	r := s.regions[to]
	rec := r.inbox[i]
	r.inbox = append(r.inbox[:i:i], r.inbox[i+1:]...)
	if rec.ts <= r.ts[rec.key] {
		s.discarded++
		return
	}
	if _, err := r.direct.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &r.table, Item: rec.item}); err != nil {
		s.t.Fatal(err)
	}
	r.ts[rec.key] = rec.ts
	r.lag = append(r.lag, rec)
	s.delivered++
}

// follow delivers to r's follower the oldest pending write of the item of
// r.lag[i]: in order per item, in any order across items.
func (s *sim) follow(r *replica, i int) {
	s.t.Helper()
	key := r.lag[i].key
	for j, rec := range r.lag {
		if rec.key != key {
			continue
		}
		if _, err := r.direct.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &r.follower, Item: rec.item}); err != nil {
			s.t.Fatal(err)
		}
		r.lag = append(r.lag[:j:j], r.lag[j+1:]...)
		return
	}
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
	return s.applyFrom(region, region, r)
}

// applyFrom applies r in region as the processor does when the event was
// published in region origin: directly there, through ApplyReplicated
// elsewhere.
func (s *sim) applyFrom(region, origin int, r event.ExecutionReport) Result {
	s.t.Helper()
	apply := s.regions[region].store.Apply
	if region != origin {
		apply = s.regions[region].store.ApplyReplicated
	}
	res, err := apply(context.Background(), &r, s.outranked(region))
	if err != nil {
		s.t.Fatalf("%s: Apply(%s seq %d): %v", s.regions[region].name, r.OrderID, r.Seq, err)
	}
	if res.Outcome == Conflict {
		s.deadLettered[region][r.EventID]++
	}
	return res
}

// outranked records, as region's processor would dead-letter it, every
// execution an Apply in region outranks.
func (s *sim) outranked(region int) Option {
	return OnOutranked(func(_ context.Context, loser *Execution) error {
		s.deadLettered[region][loser.EventID]++
		return nil
	})
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

			s.checkConverged(t, ls, counts)
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

// TestI3StaleReadFirst is the I3 simulation as deployed: every event is
// published in one region (mostly the primary; the secondary for some, as
// during a failover) and reaches the other by replication, where
// ApplyReplicated reads first — from a follower that lags the replica, so the
// read is often stale — and skips the writes when the read shows the event
// applied. The replicas still converge on the highest seq and every execution
// is recorded once in each. How many skips were decided on a stale read (one
// a consistent read would not have made) is logged; the interleaving that
// makes one is replayed step by step in TestI3StaleSkipIsRepairedElsewhere.
func TestI3StaleReadFirst(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			s := newSim(t, seed, 0.3, false)
			s.pFollow = 0.6
			ls := gen.Lifecycles(200+seed, orders(10), gen.Options{MaxFills: 6})
			origin := map[string]int{}
			for _, l := range ls {
				for _, e := range l.Events {
					if s.rng.Float64() < 0.2 {
						origin[e.EventID] = 1
					}
				}
			}
			var streams [2][]gen.Delivery
			for i := range streams {
				streams[i] = gen.Stream(ls, gen.StreamOptions{Seed: seed*10 + uint64(i), Duplicates: 0.1, Reorder: true})
			}
			var next [2]int
			counts := map[Outcome]int{}
			readOnly, stale := 0, 0
			for next[0] < len(streams[0]) || next[1] < len(streams[1]) {
				region := s.rng.IntN(2)
				if next[region] == len(streams[region]) {
					region = 1 - region
				}
				e := streams[region][next[region]].Report
				next[region]++
				res := s.applyFrom(region, origin[e.EventID], e)
				counts[res.Outcome]++
				if !res.ReadOnly {
					continue
				}
				readOnly++
				r := s.regions[region]
				truth, err := New(r.direct, r.table, r.name, nil).shownApplied(context.Background(), &e)
				if err != nil {
					t.Fatal(err)
				}
				if !truth {
					stale++
				}
			}
			s.drain()

			s.checkConverged(t, ls, counts)
			if readOnly == 0 {
				t.Errorf("no delivery was decided by the read: the read-first path was not exercised")
			}
			t.Logf("outcomes %v; %d decided by the read, %d of them on a stale read; %d of %d eventually consistent reads while the follower lagged",
				counts, readOnly, stale, s.laggingReads, s.eventualReads)
		})
	}
}

// TestI3StaleSkipIsRepairedElsewhere replays the stale case: replication has
// rolled east's state back below seq 5, east's eventually consistent read
// still shows seq 5 applied, so east skips the replicated copy of event 5;
// the replicas converge on seq 5 all the same, because the region whose later
// write rolled east back applies event 5 after it (its own copy of the event),
// and that write, later still, replicates to east.
func TestI3StaleSkipIsRepairedElsewhere(t *testing.T) {
	l := longLifecycle(t, 41, 5)
	e := l.Events
	const east, west = 0, 1
	s := newSim(t, 1, 0, false)
	s.apply(east, e[0])
	s.apply(east, e[1])
	s.drain()
	s.apply(west, e[0])
	s.apply(west, e[1])
	s.drain()

	s.apply(east, e[4]) // east: state 5, published in east
	s.catchUp(east)     // east's follower shows it
	s.apply(west, e[2]) // west has not seen 5: state 3, written later
	for len(s.regions[east].inbox) > 0 {
		s.deliver(east) // 3 is newer: it replaces east's 5; the follower still shows 5
	}
	res := s.applyFrom(east, west, e[4]) // a copy of 5 reaches east again, as published in west
	if !res.ReadOnly {
		t.Fatalf("east ApplyReplicated(seq 5) = %+v, want a skip decided by the stale read", res)
	}
	if got := s.state(l.OrderID)[east].LastSeq; got != 3 {
		t.Fatalf("east state after the skip = seq %d, want the rolled-back 3 (else the read was not stale)", got)
	}
	s.drain()
	s.applyFrom(west, east, e[4]) // event 5 reaches west: 3 → 5, later than anything else
	s.drain()
	s.apply(west, e[3])
	s.applyFrom(east, west, e[3])
	s.drain()

	got := s.state(l.OrderID)
	if got[east] != got[west] || got[east].LastSeq != 5 {
		t.Errorf("replicas: east seq %d, west seq %d; want both 5", got[east].LastSeq, got[west].LastSeq)
	}
	for _, r := range s.regions {
		checkOrder(t, New(r.direct, r.table, r.name, nil), e[:5])
	}
}

// catchUp brings region's follower up to date.
func (s *sim) catchUp(region int) {
	r := s.regions[region]
	for len(r.lag) > 0 {
		s.follow(r, 0)
	}
}

// checkConverged checks I1 and I3 after drain: in both replicas every order's
// state is its highest seq's and its executions are all there, and streams of
// the same events produced no conflict.
func (s *sim) checkConverged(t *testing.T, ls []gen.Lifecycle, counts map[Outcome]int) {
	t.Helper()
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
}

// TestI3ConflictsSettleByTheLowestEventID is the I3 simulation with
// conflicts: orders whose seqs carry two or three events with different
// eventIds (about a quarter of them), each event published in one region and
// delivered to both (ApplyReplicated in the other, reading from a lagging
// follower), duplicated and shuffled independently per region, with
// replication delivered at random moments and in random order. After it
// settles: the replicas are identical item for item; every (orderId, seq)
// holds the execution of its lowest eventId; every order's state is the
// winning execution of its highest seq; every loser was dead-lettered in the
// region whose write of the winner both replicas keep (the execution's
// processedRegion: the rule of DESIGN §3, conflicts — it may also be
// dead-lettered in the other), and no winner anywhere.
//
// The state's part is not guaranteed for every interleaving (see
// TestI3ConflictStateCanTrailTheWinner): it takes a rollback of a region's
// state and execution together by the other region's writes, and then a
// re-assert of the loser later in time than the winner's state was written.
// In about a thousand simulated orders (55 seeds, up to -scale=3) it did not
// occur; a run that meets it fails naming that test.
func TestI3ConflictsSettleByTheLowestEventID(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			s := newSim(t, seed, 0.3, false)
			s.shuffle = true
			s.pFollow = 0.5
			rng := rand.New(rand.NewPCG(seed, 0xc0ff))
			ls := gen.Lifecycles(400+seed, orders(12), gen.Options{MaxFills: 4})
			ref := newReferee() // for its candidates and events only
			var events []event.ExecutionReport
			origin := map[string]int{}
			for _, e := range gen.Events(ls) {
				group := []event.ExecutionReport{e}
				if rng.Float64() < 0.25 {
					for range 1 + rng.IntN(2) {
						group = append(group, gen.Conflict(e, rng.Uint64()))
					}
				}
				for _, c := range group {
					ref.next(c)
					events = append(events, c)
					if rng.Float64() < 0.2 {
						origin[c.EventID] = 1
					}
				}
			}
			var streams [2][]event.ExecutionReport
			for i := range streams {
				for _, e := range events {
					streams[i] = append(streams[i], e)
					for rng.Float64() < 0.15 {
						streams[i] = append(streams[i], e)
					}
				}
				rng.Shuffle(len(streams[i]), func(a, b int) { streams[i][a], streams[i][b] = streams[i][b], streams[i][a] })
			}
			var next [2]int
			counts := map[Outcome]int{}
			deferred, displaced := 0, 0
			for next[0] < len(streams[0]) || next[1] < len(streams[1]) {
				region := s.rng.IntN(2)
				if next[region] == len(streams[region]) {
					region = 1 - region
				}
				e := streams[region][next[region]]
				next[region]++
				res := s.applyFrom(region, origin[e.EventID], e)
				counts[res.Outcome]++
				switch {
				case res.Deferred:
					deferred++
				case res.Outranked != nil:
					displaced++
				}
			}
			s.drain()

			conflicted := 0
			for k, ids := range ref.candidates {
				if len(ids) > 1 {
					conflicted++
				}
				win := ""
				for id := range ids {
					if win == "" || id < win {
						win = id
					}
				}
				ref.exec[k] = win
			}
			s.checkConflictsSettled(t, ls, ref)
			if conflicted == 0 || counts[Conflict] == 0 || displaced == 0 || deferred == 0 {
				t.Errorf("%d seqs with conflicts, %d conflicts, %d displacements, %d deferrals: the run does not exercise them all",
					conflicted, counts[Conflict], displaced, deferred)
			}
			t.Logf("%d events (%d seqs in conflict), outcomes %v, %d displacing, %d deferred; replication: %d applied, %d discarded as older",
				len(events), conflicted, counts, displaced, deferred, s.delivered, s.discarded)
		})
	}
}

// checkConflictsSettled checks, after drain, the end of a run with conflicts
// (see TestI3ConflictsSettleByTheLowestEventID); ref.exec holds each
// (orderId, seq)'s winner.
func (s *sim) checkConflictsSettled(t *testing.T, ls []gen.Lifecycle, ref *referee) {
	t.Helper()
	ctx := context.Background()
	for _, l := range ls {
		winners := ref.winners(l)
		var execs [2][]Execution
		var states [2]*OrderState
		for i, r := range s.regions {
			st := New(r.direct, r.table, r.name, nil)
			var err error
			if execs[i], err = st.Executions(ctx, l.OrderID); err != nil {
				t.Fatal(err)
			}
			if states[i], err = st.GetOrder(ctx, l.OrderID); err != nil {
				t.Fatal(err)
			}
		}
		if !reflect.DeepEqual(execs[0], execs[1]) || !reflect.DeepEqual(states[0], states[1]) {
			t.Errorf("order %s: the replicas differ:\n%+v %+v\n%+v %+v", l.OrderID, execs[0], *states[0], execs[1], *states[1])
		}
		if len(execs[0]) != len(winners) {
			t.Errorf("order %s has %d executions, want %d", l.OrderID, len(execs[0]), len(winners))
			continue
		}
		for i, x := range execs[0] {
			want := winners[i]
			want.TransactTime = want.TransactTime.UTC().Round(0)
			if x.ExecutionReport != want {
				t.Errorf("order %s seq %d: execution %s, want the lowest eventId %s", l.OrderID, x.Seq, x.EventID, want.EventID)
			}
			// The loser rule: dead-lettered where the winner's write that
			// both replicas keep was made.
			where := 0
			if x.ProcessedRegion == s.regions[1].name {
				where = 1
			}
			for id := range ref.candidates[execKey{l.OrderID, x.Seq}] {
				switch {
				case id == want.EventID:
					if n := s.deadLettered[0][id] + s.deadLettered[1][id]; n > 0 {
						t.Errorf("order %s seq %d: the winner %s was dead-lettered %d times", l.OrderID, x.Seq, id, n)
					}
				case s.deadLettered[where][id] == 0:
					t.Errorf("order %s seq %d: loser %s not dead-lettered in %s, whose write of the winner %s both replicas keep (%d dead letters in the other)",
						l.OrderID, x.Seq, id, x.ProcessedRegion, want.EventID, s.deadLettered[1-where][id])
				}
			}
		}
		if top := winners[len(winners)-1]; states[0].Business() != wantState(top) {
			t.Errorf("order %s: state is eventId %s seq %d, want the winner of seq %d, %s (see TestI3ConflictStateCanTrailTheWinner)",
				l.OrderID, states[0].LastEventID, states[0].LastSeq, top.Seq, top.EventID)
		}
	}
}

// TestI3ConflictStateCanTrailTheWinner replays, step by step, the
// interleaving in which the state of a conflicting seq does not settle on
// the winner although its execution does — what this data model cannot rule
// out (DESIGN §3, conflicts) — and shows a later delivery of the loser (a
// redrive of its dead letter) settling it.
//
// East records the winner b of seq 2; west, not having seen it, records seq
// 1 and the loser l of seq 2 later in time, which replication brings to
// east over both east's state and its execution of b: east no longer holds
// anything of b. West then displaces l with b and writes b's state; before
// that reaches east, east re-asserts its highest execution (still l) as its
// state, later in time than west's: both replicas keep b's execution and
// l's state.
func TestI3ConflictStateCanTrailTheWinner(t *testing.T) {
	l := longLifecycle(t, 41, 2)
	e1 := l.Events[0]
	b, lost := withEventID(l.Events[1], lowestID), l.Events[1]
	const east, west = 0, 1
	s := newSim(t, 1, 0, false)
	s.apply(east, b)    // east: execution and state b
	s.apply(west, e1)   // west: seq 1
	s.apply(west, lost) // west: execution and state l, later than east's b
	s.apply(east, lost) // east: l loses to b (dead-lettered here)
	for range 3 {       // east gets west's seq 1, its state at seq 1 and
		s.deliverAt(east, 0) // its execution l; not yet its state l
	}
	if got := s.state(l.OrderID)[east]; got.LastSeq != 1 {
		t.Fatalf("east state = seq %d, want west's seq 1 (rolled back)", got.LastSeq)
	}
	s.apply(west, b)         // west: displaces l (dead-lettered), state b
	res := s.apply(east, e1) // east: a duplicate; its repair re-asserts l
	if res.RepairedSeq != 2 {
		t.Fatalf("east Apply(seq 1) = %+v, want the state re-asserted at seq 2", res)
	}
	s.apply(west, lost) // west: l loses to b
	s.drain()

	got := s.state(l.OrderID)
	if got[east] != got[west] || got[east].LastEventID != lost.EventID {
		t.Fatalf("states: east %s, west %s; want both the loser's %s (the case this test shows)", got[east].LastEventID, got[west].LastEventID, lost.EventID)
	}
	for _, r := range s.regions {
		execs, err := New(r.direct, r.table, r.name, nil).Executions(context.Background(), l.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		if len(execs) != 2 || execs[1].EventID != b.EventID {
			t.Errorf("%s: executions %+v, want seq 2 settled on the winner %s", r.name, execs, b.EventID)
		}
	}
	if s.deadLettered[west][lost.EventID] == 0 || s.deadLettered[east][b.EventID]+s.deadLettered[west][b.EventID] != 0 {
		t.Errorf("dead letters %v, want the loser in west and never the winner", s.deadLettered)
	}

	// A redrive of the loser's dead letter, in either region: it loses
	// again, and the conflict's repair re-asserts the winner's state.
	if res := s.apply(east, lost); res.Outcome != Conflict || res.RepairedSeq != 2 {
		t.Errorf("east Apply(loser again) = %+v, want a conflict that re-asserts seq 2", res)
	}
	s.drain()
	for _, r := range s.regions {
		checkOrder(t, New(r.direct, r.table, r.name, nil), []event.ExecutionReport{e1, b})
	}
}
