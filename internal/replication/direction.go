package replication

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// direction replicates the records of one replica's stream into the other,
// in order: a FIFO queue filled by the source's reader and drained by one
// applier.
type direction struct {
	from, to string
	target   *reader // the target replica's reader: its view, its catch-up
	cfg      *Config

	mu       sync.Mutex
	wake     chan struct{} // signalled on push
	queue    []record
	read     int64 // local records read from the source's stream
	applied  int64
	super    int64 // superseded: lost last-writer-wins in the target
	echoes   int64 // this direction's writes seen in the target's stream
	failures int64 // failed attempts, retried
	races    int64 // conditional writes that found the target changed
	lags     []time.Duration
}

func newDirection(from, to string, cfg *Config) *direction {
	return &direction{from: from, to: to, cfg: cfg, wake: make(chan struct{}, 1)}
}

func (d *direction) push(r record) {
	d.mu.Lock()
	d.queue = append(d.queue, r)
	d.read++
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
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

// next waits for the oldest queued record, without removing it.
func (d *direction) next(ctx context.Context) (record, bool) {
	for {
		d.mu.Lock()
		if len(d.queue) > 0 {
			r := d.queue[0]
			d.mu.Unlock()
			return r, true
		}
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			return record{}, false
		case <-d.wake:
		}
	}
}

// outcome is what applying one record did.
type outcome int

const (
	applied outcome = iota
	superseded
)

// done removes the oldest record, counting what became of it.
func (d *direction) done(r record, o outcome) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queue = d.queue[1:]
	switch o {
	case applied:
		d.applied++
		d.lags = append(d.lags, d.cfg.Now().Sub(r.v.at))
	case superseded:
		d.super++
	}
}

// run applies the queue in order until ctx ends. A record that cannot be
// applied now is retried, deciding again each time, and holds back the
// records behind it.
func (d *direction) run(ctx context.Context) {
	for {
		r, ok := d.next(ctx)
		if !ok {
			return
		}
		if wait := r.v.at.Add(d.cfg.Lag).Sub(d.cfg.Now()); wait > 0 {
			if !sleep(ctx, wait) {
				return
			}
		}
		backoff := d.cfg.Poll
		for {
			o, err := d.apply(ctx, r)
			if err == nil {
				d.done(r, o)
				break
			}
			if ctx.Err() != nil {
				return
			}
			d.mu.Lock()
			d.failures++
			d.mu.Unlock()
			d.cfg.OnError(fmt.Errorf("replication %s→%s: %w (retrying)", d.from, d.to, err))
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
		}
	}
}

// maxBackoff caps the wait between attempts on a failing replica, so a
// healed region is caught up promptly.
const maxBackoff = time.Second

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
			return 0, fmt.Errorf("item %s changed in %s but its stream record is not there yet", printableKey(r.key), d.to)
		}
	}
}

// write puts r's image (or deletes the item) in the target, on condition
// that the item is exactly observed (absent if observed is nil).
// It returns the item written (nil for a deletion).
func (d *direction) write(ctx context.Context, r record, observed map[string]ddbtypes.AttributeValue) (map[string]ddbtypes.AttributeValue, error) {
	cond, names, values := conditionFor(observed, r.keys)
	c, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	db := d.target.rep.DynamoDB
	if r.image == nil {
		// Deleting an absent item changes nothing and emits no record; only
		// a real deletion's REMOVE is to be taken for our echo.
		if observed != nil {
			d.target.mu.Lock()
			d.target.deleting[r.key] = r.v
			d.target.mu.Unlock()
		}
		_, err := db.DeleteItem(c, &dynamodb.DeleteItemInput{
			TableName: &d.cfg.Table, Key: r.keys,
			ConditionExpression: &cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		})
		var ccf *ddbtypes.ConditionalCheckFailedException
		if observed != nil && errors.As(err, &ccf) {
			// Nothing was deleted, so no REMOVE record of ours will come.
			d.target.mu.Lock()
			delete(d.target.deleting, r.key)
			d.target.mu.Unlock()
		}
		return nil, err
	}
	item := make(map[string]ddbtypes.AttributeValue, len(r.image))
	for k, v := range r.image {
		item[k] = v
	}
	item[MetaAttr] = &ddbtypes.AttributeValueMemberS{Value: r.v.marker()}
	_, err := db.PutItem(c, &dynamodb.PutItemInput{
		TableName: &d.cfg.Table, Item: item,
		ConditionExpression: &cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
	return item, err
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
