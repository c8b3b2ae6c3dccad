package replication

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// direction replicates the records of one replica's stream into the other.
// Items are independent, as in DynamoDB global tables: each item has its
// own queue, applied in order, and a small pool of workers applies the
// queues' heads as they fall due, so an item whose write fails or waits does
// not hold up the others.
type direction struct {
	from, to string
	target   *reader // the target replica's reader: its view, its catch-up
	cfg      *Config
	// fail, if set (tests), makes a write into the target fail before it is
	// sent.
	fail func(record) error

	mu      sync.Mutex
	changed chan struct{}         // closed and replaced when work may be ready
	items   map[string]*itemQueue // items with records not yet settled
	ready   itemHeap              // items with records and no worker, by when due
	jitter  *rand.Rand
	// gate: no attempt before then, as the target did not answer the last
	// one (a cut region is probed, not hammered item by item).
	gate        time.Time
	gateBackoff time.Duration

	read     int64 // local records read from the source's stream
	applied  int64
	super    int64 // superseded: lost last-writer-wins in the target
	echoes   int64 // this direction's writes seen in the target's stream
	failures int64 // failed attempts, retried
	races    int64 // conditional writes that found the target changed
	lags     []time.Duration
	// applies are the applied records' times, for Stranded.
	applies []applyTimes
}

// workers is how many items a direction applies at once.
const workers = 4

// itemQueue is one item's records in a direction, in stream order.
type itemQueue struct {
	key     string
	recs    []record
	busy    bool      // a worker is applying recs[0]
	retryAt time.Time // after a failed attempt: not before then
	backoff time.Duration
}

// readyAt is when the item's next record may be attempted.
func (q *itemQueue) readyAt() time.Time {
	if q.retryAt.After(q.recs[0].due) {
		return q.retryAt
	}
	return q.recs[0].due
}

// itemHeap orders items by readyAt (container/heap).
type itemHeap []*itemQueue

func (h itemHeap) Len() int           { return len(h) }
func (h itemHeap) Less(i, j int) bool { return h[i].readyAt().Before(h[j].readyAt()) }
func (h itemHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *itemHeap) Push(x any)        { *h = append(*h, x.(*itemQueue)) }
func (h *itemHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return q
}

func newDirection(from, to string, cfg *Config, stream uint64) *direction {
	return &direction{
		from: from, to: to, cfg: cfg,
		changed: make(chan struct{}), items: map[string]*itemQueue{},
		jitter: rand.New(rand.NewPCG(cfg.Seed, stream)),
	}
}

// notify wakes the workers waiting for work. Called with mu held.
func (d *direction) notify() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// push queues a local record of the source, due after Config.Lag and its
// jitter from when its region accepted it (real time, whatever the skew).
func (d *direction) push(r record) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r.due = r.accepted.Add(d.cfg.Lag)
	if d.cfg.LagJitter > 0 {
		r.due = r.due.Add(time.Duration(d.jitter.Int64N(int64(d.cfg.LagJitter))))
	}
	q := d.items[r.key]
	if q == nil {
		q = &itemQueue{key: r.key}
		d.items[r.key] = q
	}
	q.recs = append(q.recs, r)
	d.read++
	if len(q.recs) == 1 && !q.busy {
		heap.Push(&d.ready, q)
		d.notify()
	}
}

func (d *direction) echo() {
	d.mu.Lock()
	d.echoes++
	d.mu.Unlock()
}

func (d *direction) readCount() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.read
}

// settled is how many records were applied or superseded.
func (d *direction) settled() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.applied + d.super
}

// take waits for the item whose next record falls due first, and hands it
// to the calling worker.
func (d *direction) take(ctx context.Context) (*itemQueue, record, bool) {
	for {
		d.mu.Lock()
		wait := time.Duration(-1) // until something changes
		if len(d.ready) > 0 {
			at := d.ready[0].readyAt()
			if d.gate.After(at) {
				at = d.gate
			}
			wait = at.Sub(d.cfg.Now())
			if wait <= 0 {
				q := heap.Pop(&d.ready).(*itemQueue)
				q.busy = true
				r := q.recs[0]
				d.mu.Unlock()
				return q, r, true
			}
		}
		changed := d.changed
		d.mu.Unlock()
		var timer *time.Timer
		var expired <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			expired = timer.C
		}
		select {
		case <-ctx.Done():
			return nil, record{}, false
		case <-changed:
		case <-expired:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// outcome is what applying one record did.
type outcome int

const (
	applied outcome = iota
	superseded
)

// finish ends a worker's attempt at q's next record r: on success it is
// removed and counted; on failure the item is retried after its backoff.
func (d *direction) finish(q *itemQueue, r record, o outcome, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.cfg.Now()
	q.busy = false
	switch {
	case err != nil:
		d.failures++
		q.backoff = min(max(2*q.backoff, d.cfg.Poll), maxBackoff)
		q.retryAt = now.Add(q.backoff)
		if unanswered(err) {
			d.gateBackoff = min(max(2*d.gateBackoff, d.cfg.Poll), maxBackoff)
			d.gate = now.Add(d.gateBackoff)
		} else {
			d.gateBackoff = 0
		}
	default:
		q.recs = q.recs[1:]
		q.backoff, q.retryAt, d.gateBackoff = 0, time.Time{}, 0
		switch o {
		case applied:
			d.applied++
			d.lags = append(d.lags, now.Sub(r.accepted))
			d.applies = append(d.applies, applyTimes{accepted: r.accepted, applied: now})
		case superseded:
			d.super++
		}
	}
	if len(q.recs) == 0 {
		delete(d.items, q.key)
	} else {
		heap.Push(&d.ready, q)
	}
	d.notify()
}

// unanswered reports whether err is not the target's answer (a refused or
// timed-out call), so the target is likely unreachable as a whole.
func unanswered(err error) bool {
	var api smithy.APIError
	return !errors.As(err, &api) && !errors.Is(err, errRecordPending)
}

// run applies the records with a pool of workers until ctx ends. A record
// that cannot be applied now is retried, deciding again each time, and
// holds back only the records of its own item.
func (d *direction) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				q, r, ok := d.take(ctx)
				if !ok {
					return
				}
				o, err := d.apply(ctx, r)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					d.cfg.OnError(fmt.Errorf("replication %s→%s: %w (retrying)", d.from, d.to, err))
				}
				d.finish(q, r, o, err)
			}
		})
	}
	wg.Wait()
}

// maxBackoff caps the wait between attempts on a failing replica, so a
// healed region is caught up promptly.
const maxBackoff = time.Second

// errRecordPending: the target item changed but the stream record saying
// how is not readable yet.
var errRecordPending = errors.New("stream record not there yet")

// apply decides last-writer-wins for r against the target's item as last
// observed in its stream and, if r wins, writes it conditionally on the item
// still being as observed. When the condition fails (a local write got in, or
// the view was behind), it reads the target's stream to its end and decides
// again.
func (d *direction) apply(ctx context.Context, r record) (outcome, error) {
	for {
		cur, known := d.target.lookup(r.key)
		if known && cur.v.equal(r.v) {
			// Already there: an earlier attempt landed and its answer was lost.
			return applied, nil
		}
		if known && cur.v.newerThan(r.v) {
			return superseded, nil
		}
		var observed map[string]ddbtypes.AttributeValue
		if known {
			observed = cur.image
		}
		written, err := d.write(ctx, r, observed)
		if err == nil {
			d.target.wrote(r.key, cur, known, itemView{v: r.v, image: written})
			return applied, nil
		}
		var ccf *ddbtypes.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return 0, err
		}
		d.mu.Lock()
		d.races++
		d.mu.Unlock()
		before := cur
		if err := d.target.catchUp(ctx, d.cfg.CallTimeout); err != nil {
			return 0, err
		}
		if after, _ := d.target.lookup(r.key); sameView(before, after) {
			// The item changed but its record is not readable yet (the
			// write is still in flight on the server): try again shortly.
			return 0, fmt.Errorf("item %s changed in %s but its %w", printableKey(r.key), d.to, errRecordPending)
		}
	}
}

// write puts r's image (or deletes the item) in the target, on condition
// that the item is exactly observed (absent if observed is nil), having told
// the target's reader to expect it (see reader.expect). It writes nothing
// but the image: no attribute of the replicator's own. It returns the item
// written (nil for a deletion).
func (d *direction) write(ctx context.Context, r record, observed map[string]ddbtypes.AttributeValue) (map[string]ddbtypes.AttributeValue, error) {
	if d.fail != nil {
		if err := d.fail(r); err != nil {
			return nil, err
		}
	}
	cond, names, values := conditionFor(observed, r.keys)
	c, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	db := d.target.rep.DynamoDB
	if r.image == nil {
		// Deleting an absent item changes nothing and emits no record.
		if observed != nil {
			d.target.expect(r.key, itemView{v: r.v})
		}
		_, err := db.DeleteItem(c, &dynamodb.DeleteItemInput{
			TableName: &d.cfg.Table, Key: r.keys,
			ConditionExpression: &cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		})
		return nil, err
	}
	d.target.expect(r.key, itemView{v: r.v, image: r.image})
	_, err := db.PutItem(c, &dynamodb.PutItemInput{
		TableName: &d.cfg.Table, Item: r.image,
		ConditionExpression: &cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
	return r.image, err
}

// conditionFor builds a condition that holds only if the item is exactly
// observed: every attribute equal, or no item when observed is nil.
func conditionFor(observed, keys map[string]ddbtypes.AttributeValue) (string, map[string]string, map[string]ddbtypes.AttributeValue) {
	names := map[string]string{}
	if observed == nil {
		var k string
		for n := range keys {
			if k == "" || n < k {
				k = n
			}
		}
		names["#k"] = k
		return "attribute_not_exists(#k)", names, nil
	}
	attrs := make([]string, 0, len(observed))
	for n := range observed {
		attrs = append(attrs, n)
	}
	sort.Strings(attrs)
	values := make(map[string]ddbtypes.AttributeValue, len(attrs))
	terms := make([]string, len(attrs))
	for i, n := range attrs {
		id := strconv.Itoa(i)
		names["#a"+id] = n
		values[":v"+id] = observed[n]
		terms[i] = "#a" + id + " = :v" + id
	}
	return strings.Join(terms, " AND "), names, values
}

// sameView reports whether two views of an item are the same record's.
func sameView(a, b itemView) bool {
	return a.v.equal(b.v) && (a.image == nil) == (b.image == nil)
}

// printableKey turns an itemKey into something fit for a message.
func printableKey(k string) string {
	return strings.TrimSuffix(strings.ReplaceAll(k, "\x00", " "), " ")
}

// sleep waits for d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
