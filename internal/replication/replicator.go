package replication

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
)

// Replica is one region's copy of the table, as the replicator reaches it.
type Replica struct {
	Region   string
	DynamoDB *dynamodb.Client
	Streams  *dynamodbstreams.Client
}

// Config configures a Replicator.
type Config struct {
	// Table is the table's name, the same in both regions.
	Table string
	// A and B are the two replicas; their regions must differ.
	A, B Replica
	// Lag is an extra delay before a record is applied in the other replica,
	// counted from when its region accepted the write (by the real clock,
	// whatever Skew says). Default: 0.
	Lag time.Duration
	// LagJitter adds to Lag, for each record, a random delay in
	// [0, LagJitter), so that the items a region wrote one after the other
	// (an execution, then its order's state) can reach the other replica in
	// either order, as items of a global table do. Writes to one item are
	// still applied in their order. Default: 0, no jitter.
	LagJitter time.Duration
	// Seed seeds the generator of LagJitter's delays (one per direction):
	// the same seed gives the same delays to the same sequence of records,
	// so a run can be repeated. Default: 0.
	Seed uint64
	// Skew is the error of each region's clock: region name → offset added
	// to the time that region stamps on its writes for last-writer-wins
	// (their versions). It changes which write wins, never when a record is
	// applied: Lag is waited and measured in real time. Regions not named
	// have no skew. Default: none.
	Skew map[string]time.Duration
	// MaxSkew, if set, bounds Skew: every region's skew must be smaller
	// than MaxSkew in magnitude (the twin sets it to one health period).
	// Default: 0, no bound.
	MaxSkew time.Duration
	// Poll is the stream poll interval, and the first wait before retrying
	// a failed write. Default: 100 ms.
	Poll time.Duration
	// CallTimeout bounds each AWS call, so a region that hangs connections
	// is retried rather than waited on forever. Default: 5 s.
	CallTimeout time.Duration
	// OnError is told of each error the replicator survives (a region cut,
	// throttling, a timeout); it keeps retrying. Default: ignore.
	OnError func(error)
	// Now is the clock lag is measured and waited with. It must be the wall
	// clock the servers stamp stream records with (moto: the host's), not a
	// scaled or skewed one. Default: time.Now.
	Now func() time.Time
}

// Replicator replicates Config.Table between replicas A and B (see the
// package doc).
type Replicator struct {
	cfg     Config
	readers [2]*reader    // A, B
	dirs    [2]*direction // A→B, B→A

	mu      sync.Mutex
	running bool
}

// New validates cfg, fills its defaults and returns a Replicator; Run starts
// it.
func New(cfg Config) (*Replicator, error) {
	if cfg.Table == "" {
		return nil, errors.New("replication: Config.Table is empty")
	}
	for _, r := range []Replica{cfg.A, cfg.B} {
		if r.Region == "" || r.DynamoDB == nil || r.Streams == nil {
			return nil, fmt.Errorf("replication: replica %q needs a region, a DynamoDB client and a Streams client", r.Region)
		}
	}
	if cfg.A.Region == cfg.B.Region {
		return nil, fmt.Errorf("replication: both replicas are in %s; want two regions", cfg.A.Region)
	}
	if cfg.Lag < 0 {
		return nil, fmt.Errorf("replication: Config.Lag is %s; want 0 or more", cfg.Lag)
	}
	if cfg.LagJitter < 0 {
		return nil, fmt.Errorf("replication: Config.LagJitter is %s; want 0 or more", cfg.LagJitter)
	}
	if cfg.MaxSkew < 0 {
		return nil, fmt.Errorf("replication: Config.MaxSkew is %s; want 0 (no bound) or more", cfg.MaxSkew)
	}
	regions := slices.Sorted(maps.Keys(cfg.Skew))
	for _, region := range regions {
		skew := cfg.Skew[region]
		if region != cfg.A.Region && region != cfg.B.Region {
			return nil, fmt.Errorf("replication: Config.Skew names %q, which is neither replica's region (%s, %s)", region, cfg.A.Region, cfg.B.Region)
		}
		if cfg.MaxSkew > 0 && (skew >= cfg.MaxSkew || -skew >= cfg.MaxSkew) {
			return nil, fmt.Errorf("replication: Config.Skew of %s is %s; it must be smaller than Config.MaxSkew (%s) in magnitude", region, skew, cfg.MaxSkew)
		}
	}
	cfg.Skew = maps.Clone(cfg.Skew)
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 5 * time.Second
	}
	if cfg.OnError == nil {
		cfg.OnError = func(error) {}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Replicator{cfg: cfg}
	r.readers[0] = newReader(cfg.A, cfg.Table, cfg.Now)
	r.readers[1] = newReader(cfg.B, cfg.Table, cfg.Now)
	r.dirs[0] = newDirection(cfg.A.Region, cfg.B.Region, &r.cfg, 0)
	r.dirs[1] = newDirection(cfg.B.Region, cfg.A.Region, &r.cfg, 1)
	for i := range 2 {
		r.readers[i].out, r.readers[i].in = r.dirs[i], r.dirs[1-i]
		r.readers[i].skew = cfg.Skew[r.readers[i].rep.Region]
		r.dirs[i].target = r.readers[1-i]
	}
	return r, nil
}

// Run replicates until ctx ends, then returns nil. It returns an error only
// for what retrying cannot fix: a table without a stream, or a second Run.
func (r *Replicator) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return errors.New("replication: Run called twice")
	}
	r.running = true
	r.mu.Unlock()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { r.dirs[i].run(ctx) })
		wg.Go(func() {
			if err := r.readLoop(ctx, r.readers[i]); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// fullRead is the records a GetRecords returns at most (its Limit's upper
// bound and default,
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetRecords.html):
// a read that returned that many has more waiting.
const fullRead = 1000

// readLoop polls one replica's stream until ctx ends; it returns only a
// permanent error.
func (r *Replicator) readLoop(ctx context.Context, rd *reader) error {
	backoff := r.cfg.Poll
	for ctx.Err() == nil {
		_, atEnd, err := rd.pollOnce(ctx, r.cfg.CallTimeout)
		switch {
		case errors.Is(err, errNoStream):
			return err
		case err != nil && ctx.Err() == nil:
			r.cfg.OnError(fmt.Errorf("replication: reading %s's stream: %w (retrying)", rd.rep.Region, err))
			sleep(ctx, backoff)
			backoff = min(2*backoff, maxBackoff)
		case !atEnd:
			backoff = r.cfg.Poll // more is waiting: read on at once
		default:
			// Caught up: wait a poll interval, as AWS's own stream consumers
			// do (Lambda reads each shard four times a second,
			// https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html),
			// so records batch up. Reading on at once after every non-empty
			// read cost about two GetRecords per record under steady load.
			backoff = r.cfg.Poll
			sleep(ctx, r.cfg.Poll)
		}
	}
	return nil
}

// CaughtUp blocks until every record written to either replica's stream
// before the call is applied or superseded in the other replica, or until
// ctx ends (then it says what is still pending). Writes made after the call
// do not hold it up.
func (r *Replicator) CaughtUp(ctx context.Context) error {
	since := r.cfg.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var target [2]int64
	var reached [2]bool
	for {
		all := true
		for i, rd := range r.readers {
			if !reached[i] {
				if at, n := rd.tip(); !at.Before(since) {
					reached[i], target[i] = true, n
				}
			}
			if !reached[i] || r.dirs[i].settled() < target[i] {
				all = false
			}
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			s := r.Stats()
			return fmt.Errorf("replication: not caught up (%s→%s backlog %d, %s→%s backlog %d, streams read to the end since the call: %v): %w",
				s.AToB.From, s.AToB.To, s.AToB.Backlog, s.BToA.From, s.BToA.To, s.BToA.Backlog, reached, ctx.Err())
		case <-tick.C:
		}
	}
}

// Stats is a snapshot of both directions.
type Stats struct {
	AToB, BToA DirectionStats
}

// DirectionStats counts one direction's work.
type DirectionStats struct {
	From, To string
	// Read is the number of local writes read from From's stream (echoes
	// excluded).
	Read int64
	// Applied were written in To; Superseded lost last-writer-wins there
	// (To held a newer version) and were dropped.
	Applied, Superseded int64
	// EchoesSkipped is the number of this direction's writes that came back
	// in To's stream and were not replicated back.
	EchoesSkipped int64
	// Backlog is read but not yet applied or superseded.
	Backlog int64
	// Failures is the number of failed attempts (retried).
	Failures int64
	// ConditionFailed is the number of conditional writes into To that
	// failed because the item was not as last observed (a local write got
	// in, or the view was behind); each was decided again.
	ConditionFailed int64
	// Lag is from the write accepted in From (real time, no skew) to
	// applied in To, over the applied records.
	LagP50, LagP99, LagMax time.Duration
}

// Stats returns the replicator's counters so far.
func (r *Replicator) Stats() Stats {
	return Stats{AToB: r.dirs[0].stats(), BToA: r.dirs[1].stats()}
}

func (d *direction) stats() DirectionStats {
	d.mu.Lock()
	s := DirectionStats{
		From: d.from, To: d.to, Read: d.read, Applied: d.applied, Superseded: d.super,
		EchoesSkipped: d.echoes, Backlog: d.read - d.applied - d.super, Failures: d.failures, ConditionFailed: d.races,
	}
	lags := slices.Clone(d.lags)
	d.mu.Unlock()
	if len(lags) > 0 {
		slices.Sort(lags)
		s.LagP50, s.LagP99, s.LagMax = percentile(lags, 50), percentile(lags, 99), lags[len(lags)-1]
	}
	return s
}

// applyTimes is when a replicated write was accepted in its region and
// applied in the other.
type applyTimes struct{ accepted, applied time.Time }

// Stranded counts the writes accepted in region from at or before at that
// the other replica received only after at: what the other region would
// not have had, had from been lost for good at that instant — the table's
// recovery point (RPO) in writes. Call it once replication has caught up
// (CaughtUp); writes still in flight are not counted.
func (r *Replicator) Stranded(from string, at time.Time) int {
	n := 0
	for _, d := range r.dirs {
		if d.from != from {
			continue
		}
		d.mu.Lock()
		for _, a := range d.applies {
			if !a.accepted.After(at) && a.applied.After(at) {
				n++
			}
		}
		d.mu.Unlock()
	}
	return n
}

// percentile is the nearest-rank percentile p of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i, 1)-1]
}
