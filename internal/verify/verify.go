package verify

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// API is the part of a DynamoDB client verify uses; *dynamodb.Client is one.
type API interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Actions are the IAM actions verify calls on the table in each region.
var Actions = []string{"dynamodb:Scan", "dynamodb:BatchGetItem"}

// Defaults of tapctl verify.
const (
	DefaultRCU      = 100
	DefaultSegments = 4
	DefaultPause    = 5 * time.Second
	DefaultRechecks = 3
	// MaxSegments is DynamoDB's bound on TotalSegments (API_Scan.html).
	MaxSegments = 1_000_000
	// batchKeys is BatchGetItem's bound on keys a request.
	batchKeys = 100
	// batchAttempts bounds the requests for one batch of keys whose keys
	// come back unprocessed.
	batchAttempts = 10
)

// Replica is one replica of the table.
type Replica struct {
	// Region names the replica in progress, reports and errors.
	Region string
	// Table is the table's name there (a global table's is the same in
	// every region).
	Table  string
	Client API
}

// Config says what to compare and how.
type Config struct {
	// A and B are the two replicas (for tapctl: the primary, then the
	// secondary).
	A, B Replica
	// Keys are the table's key attributes: the partition key, then the
	// sort key if there is one.
	Keys []string
	// RCU is each region's budget, in read capacity units per second.
	// Required, above 0.
	RCU float64
	// Segments is how many segments each replica is scanned in, each by
	// its own worker. Default DefaultSegments.
	Segments int
	// Consistent makes the scans strongly consistent, at twice the cost.
	// Default eventually consistent: the re-check is strongly consistent
	// either way (doc).
	Consistent bool
	// Pause is the wait before each re-check of the keys that differ, for
	// replication in flight to land. 0 re-checks at once.
	Pause time.Duration
	// Rechecks bounds the re-checks of a key whose content keeps changing
	// between reads. Default DefaultRechecks.
	Rechecks int
	// PageItems fixes every Scan page's Limit. Default: sized to the budget
	// (doc, "The budget").
	PageItems int32
	// Progress, if set, is called every ProgressEvery (default 2 s) while
	// the run lasts, and as each phase ends; never concurrently, never
	// after Run returns.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Clock runs the budget's waits and the pause. Default the wall clock.
	Clock Clock
}

func (c Config) withDefaults() (Config, error) {
	if c.Segments == 0 {
		c.Segments = DefaultSegments
	}
	if c.Rechecks == 0 {
		c.Rechecks = DefaultRechecks
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 2 * time.Second
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	switch {
	case c.A.Client == nil || c.B.Client == nil:
		return c, errors.New("verify: both replicas need a client")
	case c.A.Region == "" || c.B.Region == "" || c.A.Table == "" || c.B.Table == "":
		return c, errors.New("verify: both replicas need a region and a table")
	case len(c.Keys) == 0 || len(c.Keys) > 2:
		return c, fmt.Errorf("verify: Keys %v: want the partition key, then the sort key if any", c.Keys)
	case !(c.RCU > 0) || math.IsInf(c.RCU, 0):
		return c, fmt.Errorf("verify: the read capacity budget must be above 0 RCU per second, not %v", c.RCU)
	case c.Segments < 1 || c.Segments > MaxSegments:
		return c, fmt.Errorf("verify: %d segments: want 1 to %d", c.Segments, MaxSegments)
	case c.Rechecks < 1:
		return c, fmt.Errorf("verify: %d re-checks: want at least 1", c.Rechecks)
	case c.Pause < 0:
		return c, fmt.Errorf("verify: pause %s: want 0 or more", c.Pause)
	case c.PageItems < 0:
		return c, fmt.Errorf("verify: %d items a page: want 1 or more (0: sized to the budget)", c.PageItems)
	}
	return c, nil
}

// Phase is what a run is doing.
type Phase string

// The phases, in order.
const (
	PhaseScan    Phase = "scan"
	PhaseScanned Phase = "scanned"
	PhaseRecheck Phase = "recheck"
	PhaseDone    Phase = "done"
)

// RegionStats is what a run did in one region.
type RegionStats struct {
	Region string `json:"region"`
	// Items is the items scanned.
	Items int64 `json:"items"`
	// Requests counts Scan and BatchGetItem requests.
	Requests int64 `json:"requests"`
	// RCU is the read capacity consumed, as DynamoDB reported it.
	RCU float64 `json:"rcu"`
	// Waited is the time the region's requests waited on its budget,
	// summed over its workers.
	Waited time.Duration `json:"waitedNs"`
}

// Progress is a run so far.
type Progress struct {
	Phase   Phase
	Elapsed time.Duration
	Regions [2]RegionStats
	// Candidates counts the keys found differing by the scans; in
	// PhaseRecheck, Round is the re-check under way and Rechecking the
	// keys it reads.
	Candidates, Round, Rechecking int
}

// Result is how the two replicas compare.
type Result struct {
	// Regions are A's and B's statistics.
	Regions [2]RegionStats
	// Items counts the distinct keys the scans found in either replica.
	Items int
	// Candidates counts the keys the scans found differing; Settled those
	// of them equal on a re-check (replication in flight).
	Candidates, Settled int
	// Differences are the keys still differing after the re-checks,
	// sorted by key.
	Differences []Difference
	Elapsed     time.Duration
}

// Identical reports whether the replicas hold the same items.
func (r Result) Identical() bool { return len(r.Differences) == 0 }

// KeyAttribute is one key attribute of an item; binary values in base64.
type KeyAttribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Key is an item's key, its attributes in the table's order.
type Key []KeyAttribute

// String prints the key as NAME=VALUE pairs.
func (k Key) String() string {
	parts := make([]string, len(k))
	for i, a := range k {
		parts[i] = a.Name + "=" + a.Value
	}
	return strings.Join(parts, " ")
}

// Difference is one key the replicas disagree on.
type Difference struct {
	Key Key
	// OnlyIn is the region of the one replica that holds the item; empty
	// when both do, and Attributes then says how they differ.
	OnlyIn     string
	Attributes []AttributeDiff
	// Changing says the item changed between every two reads: it may be
	// a write in flight that never held still long enough to compare.
	Changing bool
}

// AttributeDiff is one attribute two items differ in, its value in A and
// in B printed as JSON; nil where the item lacks it.
type AttributeDiff struct {
	Name string
	A, B *string
}

// Error is a failed request to one replica.
type Error struct {
	Region, Table string
	// Op is the DynamoDB operation: Scan or BatchGetItem.
	Op  string
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("verify: %s of table %s in %s: %v", e.Op, e.Table, e.Region, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// sides is a key in both replicas: present or not, and its content's hash.
type sides struct {
	in   [2]bool
	hash [2]uint64
}

func (s sides) same() bool {
	return s.in == [2]bool{} || s.in == [2]bool{true, true} && s.hash[0] == s.hash[1]
}

// run is one comparison.
type run struct {
	cfg     Config
	reps    [2]Replica
	budgets [2]*budget
	codec   keyCodec
	seed    maphash.Seed
	start   time.Time

	mu    sync.Mutex
	stats [2]RegionStats
	phase Phase
	// pending are keys one scan has passed and the other not yet;
	// candidates keys seen differing (doc, "Memory").
	pending, candidates map[string]sides
	items               int
	round, rechecking   int

	progressMu sync.Mutex
}

// Run compares the replicas (see the package doc).
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, err
	}
	r := &run{
		cfg: cfg, reps: [2]Replica{cfg.A, cfg.B}, codec: keyCodec{names: cfg.Keys}, seed: maphash.MakeSeed(),
		start: cfg.Clock.Now(), phase: PhaseScan, pending: map[string]sides{}, candidates: map[string]sides{},
	}
	for i, rep := range r.reps {
		r.budgets[i] = newBudget(cfg.RCU, cfg.Clock)
		r.stats[i].Region = rep.Region
	}
	if cfg.Progress != nil {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			t := time.NewTicker(cfg.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					r.report()
				case <-stop:
					return
				}
			}
		})
		defer wg.Wait()
		defer close(stop)
	}

	if err := r.scan(ctx); err != nil {
		return Result{}, err
	}
	r.setPhase(PhaseScanned)
	diffs, settled, err := r.recheck(ctx)
	if err != nil {
		return Result{}, err
	}
	r.setPhase(PhaseDone)
	p := r.snapshot()
	return Result{
		Regions: p.Regions, Items: r.items, Candidates: p.Candidates, Settled: settled,
		Differences: diffs, Elapsed: p.Elapsed,
	}, nil
}

func (r *run) setPhase(p Phase) {
	r.mu.Lock()
	r.phase = p
	r.mu.Unlock()
	r.report()
}

// report calls Progress with the run so far.
func (r *run) report() {
	if r.cfg.Progress == nil {
		return
	}
	p := r.snapshot()
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	r.cfg.Progress(p)
}

func (r *run) snapshot() Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := Progress{
		Phase: r.phase, Elapsed: r.cfg.Clock.Now().Sub(r.start), Regions: r.stats,
		Candidates: len(r.candidates), Round: r.round, Rechecking: r.rechecking,
	}
	for i, b := range r.budgets {
		p.Regions[i].Waited = b.waitedFor()
	}
	return p
}

// scan scans both replicas, every segment at once, and leaves the keys
// that differ in r.candidates.
func (r *run) scan(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for side := range r.reps {
		for seg := range r.cfg.Segments {
			wg.Go(func() {
				if err := r.scanSegment(ctx, side, seg); err != nil {
					cancel(err)
				}
			})
		}
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Keys one replica lacks.
	for k, s := range r.pending {
		r.candidates[k] = s
	}
	r.pending = nil
	return nil
}

// scanSegment scans one segment of one replica to its end.
func (r *run) scanSegment(ctx context.Context, side, seg int) error {
	rep, b := r.reps[side], r.budgets[side]
	h := &hasher{seed: r.seed}
	in := &dynamodb.ScanInput{
		TableName: aws.String(rep.Table), ConsistentRead: aws.Bool(r.cfg.Consistent),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
		Segment:                aws.Int32(int32(seg)), TotalSegments: aws.Int32(int32(r.cfg.Segments)),
	}
	limit := r.firstLimit()
	for {
		if err := b.wait(ctx); err != nil {
			return err
		}
		in.Limit = aws.Int32(limit)
		out, err := rep.Client.Scan(ctx, in)
		if err != nil {
			return &Error{Region: rep.Region, Table: rep.Table, Op: "Scan", Err: err}
		}
		rcu := scanRCU(out, r.cfg.Consistent)
		b.charge(rcu)
		keys := make([]string, len(out.Items))
		hashes := make([]uint64, len(out.Items))
		for i, it := range out.Items {
			if keys[i], err = r.codec.encode(it); err != nil {
				return &Error{Region: rep.Region, Table: rep.Table, Op: "Scan", Err: err}
			}
			hashes[i] = h.hash(it)
		}
		r.merge(side, keys, hashes, rcu)
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
		limit = r.nextLimit(len(out.Items), rcu, limit)
	}
}

// pageRCU is what a page should cost: a region's workers together spend
// about one second of budget a round of requests.
func (r *run) pageRCU() float64 { return max(0.5, r.cfg.RCU/float64(r.cfg.Segments)) }

// firstLimit sizes the first page: 8 items per RCU, as 1 KB items read
// eventually consistent give (4 strongly consistent).
func (r *run) firstLimit() int32 {
	if r.cfg.PageItems > 0 {
		return r.cfg.PageItems
	}
	perRCU := 8.0
	if r.cfg.Consistent {
		perRCU = 4
	}
	return clampLimit(r.pageRCU() * perRCU)
}

// nextLimit sizes the next page from the items per RCU of the last, at
// most four times the last page's limit.
func (r *run) nextLimit(items int, rcu float64, last int32) int32 {
	if r.cfg.PageItems > 0 {
		return r.cfg.PageItems
	}
	if items == 0 || rcu <= 0 {
		return last
	}
	return min(clampLimit(r.pageRCU()*float64(items)/rcu), 4*last)
}

func clampLimit(f float64) int32 { return int32(min(max(f, 1), 100_000)) }

// merge records a page of one replica: a key both scans have passed is
// dropped when its hashes agree and kept as a candidate when they do not.
func (r *run) merge(side int, keys []string, hashes []uint64, rcu float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &r.stats[side]
	st.Items += int64(len(keys))
	st.Requests++
	st.RCU += rcu
	for i, k := range keys {
		s, ok := r.pending[k]
		if !ok {
			r.items++
		}
		s.in[side], s.hash[side] = true, hashes[i]
		if !s.in[1-side] {
			r.pending[k] = s
			continue
		}
		delete(r.pending, k)
		if !s.same() {
			r.candidates[k] = s
		}
	}
}

// recheck re-reads the candidates after each pause, strongly consistent in
// both regions, until they are equal, or stable and different, or out of
// re-checks.
func (r *run) recheck(ctx context.Context) (diffs []Difference, settled int, err error) {
	r.mu.Lock()
	todo := r.candidates
	r.mu.Unlock()
	h := &hasher{seed: r.seed}
	for round := 1; len(todo) > 0; round++ {
		r.mu.Lock()
		r.phase, r.round, r.rechecking = PhaseRecheck, round, len(todo)
		r.mu.Unlock()
		r.report()
		if err := r.cfg.Clock.SleepUntil(ctx, r.cfg.Clock.Now().Add(r.cfg.Pause)); err != nil {
			return nil, 0, err
		}
		keys := slices.Sorted(maps.Keys(todo))
		// Both regions at once, so that the two reads of a key are close
		// in time.
		var got [2]map[string]item
		var errs [2]error
		var wg sync.WaitGroup
		for side := range r.reps {
			wg.Go(func() { got[side], errs[side] = r.getAll(ctx, side, keys) })
		}
		wg.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			return nil, 0, err
		}
		next := map[string]sides{}
		for _, k := range keys {
			a, b := got[0][k], got[1][k]
			var now sides
			if a != nil {
				now.in[0], now.hash[0] = true, h.hash(a)
			}
			if b != nil {
				now.in[1], now.hash[1] = true, h.hash(b)
			}
			if now.same() {
				settled++
				continue
			}
			changing := now != todo[k]
			if changing && round < r.cfg.Rechecks {
				next[k] = now
				continue
			}
			diffs = append(diffs, r.difference(k, a, b, changing))
		}
		todo = next
	}
	slices.SortFunc(diffs, func(x, y Difference) int { return strings.Compare(x.Key.String(), y.Key.String()) })
	return diffs, settled, nil
}

// difference describes how the replicas hold key k: a and b are its items
// in A and B, nil where absent.
func (r *run) difference(k string, a, b item, changing bool) Difference {
	d := Difference{Key: r.codec.attrs(k), Changing: changing}
	switch {
	case b == nil:
		d.OnlyIn = r.reps[0].Region
	case a == nil:
		d.OnlyIn = r.reps[1].Region
	default:
		d.Attributes = attributeDiffs(a, b)
	}
	return d
}

// getAll reads keys in one replica, strongly consistent, batchKeys a
// request; keys left unprocessed are asked again with backoff.
func (r *run) getAll(ctx context.Context, side int, keys []string) (map[string]item, error) {
	rep, b := r.reps[side], r.budgets[side]
	found := map[string]item{}
	for chunk := range slices.Chunk(keys, batchKeys) {
		ka := types.KeysAndAttributes{ConsistentRead: aws.Bool(true)}
		for _, k := range chunk {
			ka.Keys = append(ka.Keys, r.codec.decode(k))
		}
		req := map[string]types.KeysAndAttributes{rep.Table: ka}
		for attempt := 0; len(req[rep.Table].Keys) > 0; attempt++ {
			if attempt == batchAttempts {
				return nil, &Error{Region: rep.Region, Table: rep.Table, Op: "BatchGetItem",
					Err: fmt.Errorf("%d keys still unprocessed after %d requests: the table is throttling reads; retry with a lower budget", len(req[rep.Table].Keys), batchAttempts)}
			}
			if attempt > 0 {
				backoff := min(50*time.Millisecond<<attempt, 5*time.Second)
				if err := r.cfg.Clock.SleepUntil(ctx, r.cfg.Clock.Now().Add(backoff)); err != nil {
					return nil, err
				}
			}
			if err := b.wait(ctx); err != nil {
				return nil, err
			}
			out, err := rep.Client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: req, ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
			})
			if err != nil {
				return nil, &Error{Region: rep.Region, Table: rep.Table, Op: "BatchGetItem", Err: err}
			}
			items := out.Responses[rep.Table]
			rcu := batchRCU(out, len(req[rep.Table].Keys))
			b.charge(rcu)
			r.mu.Lock()
			r.stats[side].Requests++
			r.stats[side].RCU += rcu
			r.mu.Unlock()
			for _, it := range items {
				k, err := r.codec.encode(it)
				if err != nil {
					return nil, &Error{Region: rep.Region, Table: rep.Table, Op: "BatchGetItem", Err: err}
				}
				found[k] = it
			}
			req = out.UnprocessedKeys
		}
	}
	return found, nil
}

// scanRCU is what a Scan page consumed: as DynamoDB reports it, else
// estimated from the items' total size (4 KB a unit, half eventually
// consistent, half a unit at least).
func scanRCU(out *dynamodb.ScanOutput, consistent bool) float64 {
	if c := out.ConsumedCapacity; c != nil && c.CapacityUnits != nil {
		return *c.CapacityUnits
	}
	size := 0
	for _, it := range out.Items {
		size += itemSize(it)
	}
	units := max(1, math.Ceil(float64(size)/4096))
	if !consistent {
		units /= 2
	}
	return units
}

// batchRCU is what a strongly consistent BatchGetItem consumed: as
// DynamoDB reports it, else estimated (each item's size rounded up to 4 KB;
// a unit for each key not found).
func batchRCU(out *dynamodb.BatchGetItemOutput, asked int) float64 {
	if len(out.ConsumedCapacity) > 0 {
		total := 0.0
		for _, c := range out.ConsumedCapacity {
			total += aws.ToFloat64(c.CapacityUnits)
		}
		return total
	}
	units, found := 0.0, 0
	for _, items := range out.Responses {
		for _, it := range items {
			units += max(1, math.Ceil(float64(itemSize(it))/4096))
			found++
		}
	}
	return units + float64(max(0, asked-found))
}
