package replication

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	sttypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// errNoStream is returned when a replica's table has no stream: permanent,
// so Run stops instead of retrying.
var errNoStream = errors.New("replication: table has no stream (call EnableStreams first)")

// EnableStreams turns on a NEW_AND_OLD_IMAGES stream on table (UpdateTable)
// and waits until the table is active with a stream, so a table made by
// store.CreateTable can be replicated. A table whose stream already has that
// view type is left as it is.
func EnableStreams(ctx context.Context, db *dynamodb.Client, table string) error {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		return fmt.Errorf("replication: describe table %s: %w", table, err)
	}
	if spec := out.Table.StreamSpecification; spec != nil && spec.StreamEnabled != nil && *spec.StreamEnabled {
		if spec.StreamViewType != ddbtypes.StreamViewTypeNewAndOldImages {
			return fmt.Errorf("replication: table %s has a %s stream, want %s", table, spec.StreamViewType, ddbtypes.StreamViewTypeNewAndOldImages)
		}
		return nil
	}
	_, err = db.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName: &table,
		StreamSpecification: &ddbtypes.StreamSpecification{
			StreamEnabled:  boolPtr(true),
			StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages,
		},
	})
	if err != nil {
		return fmt.Errorf("replication: enable stream on %s: %w", table, err)
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second
	})
	desc, err := w.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: &table}, 2*time.Minute)
	if err != nil {
		return fmt.Errorf("replication: wait for table %s: %w", table, err)
	}
	if desc.Table.LatestStreamArn == nil {
		return fmt.Errorf("replication: table %s is active but reports no stream", table)
	}
	return nil
}

// record is one stream record, decoded: what a replica's reader keeps and
// what the other direction applies.
type record struct {
	key   string                             // canonical item key (itemKey)
	keys  map[string]ddbtypes.AttributeValue // the key attributes
	image map[string]ddbtypes.AttributeValue // new image; nil for a removal
	v     version
	// accepted is when the write's region accepted it by the servers' real
	// clock (the record's creation time, no skew): lag is counted from it.
	accepted time.Time
	// due is when it may be applied in the other replica: accepted, plus
	// Config.Lag, plus its jitter (set by direction.push).
	due time.Time
}

// itemView is what a replica holds for one item, as last read from its
// stream.
type itemView struct {
	v     version
	image map[string]ddbtypes.AttributeValue // nil: absent (removed)
}

// shard is the read position in one stream shard.
type shard struct {
	id, parent string
	iterator   string // "" until obtained, and after an error
	lastSeq    string // last processed sequence number
	ended      bool   // read to its end: closed, no iterator left
}

// reader reads one replica's stream in order, keeps the replica's item
// versions (view) and hands its local writes to the other direction.
// readMu serializes reading, so the background poll and a catch-up from an
// applier into this replica never interleave; mu guards what appliers look
// up while a read is under way.
type reader struct {
	rep   Replica
	table string
	out   *direction    // the direction whose source is this replica
	in    *direction    // the direction writing into this replica (echoes)
	skew  time.Duration // Config.Skew of this replica's region
	now   func() time.Time

	readMu    sync.Mutex
	streamArn string
	shards    map[string]*shard
	describe  bool // shards may have changed: describe the stream again

	mu   sync.Mutex
	view map[string]itemView
	// pending holds, per item, the replicator's writes into this replica
	// whose records have not been read yet, oldest first, each with the
	// version it replicates and the exact image it writes (nil: a deletion):
	// the record that shows one of these images is that write's echo.
	pending map[string][]itemView
	// tipAt is when the last poll that found every shard read to its end
	// started; tipRead is out.read at that point (see CaughtUp).
	tipAt   time.Time
	tipRead int64
}

func newReader(rep Replica, table string, now func() time.Time) *reader {
	return &reader{
		rep: rep, table: table, now: now,
		shards: map[string]*shard{}, describe: true,
		view: map[string]itemView{}, pending: map[string][]itemView{},
	}
}

// lookup returns the view of key in this replica.
func (r *reader) lookup(key string) (itemView, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.view[key]
	return v, ok
}

// expect notes that the replicator is about to write w (w.image nil: delete)
// into item key of this replica, replicating version w.v, so that the
// record the write makes is taken for its echo. It must be called before
// the write is sent. Attempts of the same replicated write share one entry.
func (r *reader) expect(key string, w itemView) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.pending[key] {
		if p.v.equal(w.v) {
			return
		}
	}
	r.pending[key] = append(r.pending[key], w)
}

// takeEcho reports whether a record of key with new image image (nil: a
// removal) is one of the replicator's own writes, and if so returns the
// version it replicated. The matched write and any pending before it are
// done with: the item's records are read in order, so an earlier one either
// showed before it or never landed. Called with mu held.
func (r *reader) takeEcho(key string, image map[string]ddbtypes.AttributeValue) (version, bool) {
	ps := r.pending[key]
	for i, p := range ps {
		if (p.image == nil) != (image == nil) || (image != nil && !equalItems(p.image, image)) {
			continue
		}
		if rest := ps[i+1:]; len(rest) > 0 {
			r.pending[key] = rest
		} else {
			delete(r.pending, key)
		}
		return p.v, true
	}
	return version{}, false
}

// wrote records in the view the replicator's own successful write of key,
// made on condition that the item was as observed (known: observed came from
// the view), so the next record for the item is decided without first
// reading the echo back. It does so only while the view still shows
// observed: if the reader has already processed the echo, or a local write
// after it, the view is as new or newer and is left alone.
func (r *reader) wrote(key string, observed itemView, known bool, now itemView) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur, ok := r.view[key]
	if ok != known || (ok && !sameView(cur, observed)) {
		return
	}
	r.view[key] = now
}

// tip returns when the last poll that reached the end of the stream started,
// and how many local records had been read by then.
func (r *reader) tip() (time.Time, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tipAt, r.tipRead
}

// catchUp reads the stream to its end.
func (r *reader) catchUp(ctx context.Context, callTimeout time.Duration) error {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	for {
		n, _, err := r.poll(ctx, callTimeout)
		if err != nil || n == 0 {
			return err
		}
	}
}

// pollOnce is one background read round; it reports how many records it
// read, and whether it read every shard to its end.
func (r *reader) pollOnce(ctx context.Context, callTimeout time.Duration) (int, bool, error) {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	return r.poll(ctx, callTimeout)
}

// poll reads one batch from every readable shard, processes the records in
// order, and returns how many it read and whether it reached the end of
// every shard: each read returned fewer records than a GetRecords can
// (fullRead; moto returns all it has up to that), none held a record back,
// and no shard ended (its children are read next). Called with readMu held.
func (r *reader) poll(ctx context.Context, callTimeout time.Duration) (n int, atEnd bool, err error) {
	started := r.now()
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, callTimeout) }
	if r.streamArn == "" {
		c, cancel := call()
		out, err := r.rep.DynamoDB.DescribeTable(c, &dynamodb.DescribeTableInput{TableName: &r.table})
		cancel()
		if err != nil {
			return 0, false, fmt.Errorf("replication: %s: describe table %s: %w", r.rep.Region, r.table, err)
		}
		if out.Table.LatestStreamArn == nil {
			return 0, false, fmt.Errorf("%w: %s in %s", errNoStream, r.table, r.rep.Region)
		}
		r.streamArn = *out.Table.LatestStreamArn
	}
	if r.describe {
		if err := r.describeShards(ctx, callTimeout); err != nil {
			return 0, false, err
		}
		r.describe = false
	}
	atEnd = true
	for _, id := range r.readable() {
		s := r.shards[id]
		if s.iterator == "" {
			in := &dynamodbstreams.GetShardIteratorInput{StreamArn: &r.streamArn, ShardId: &s.id, ShardIteratorType: sttypes.ShardIteratorTypeTrimHorizon}
			if s.lastSeq != "" {
				in.ShardIteratorType, in.SequenceNumber = sttypes.ShardIteratorTypeAfterSequenceNumber, strPtr(s.lastSeq)
			}
			c, cancel := call()
			out, err := r.rep.Streams.GetShardIterator(c, in)
			cancel()
			if err != nil {
				return n, false, fmt.Errorf("replication: %s: shard iterator for %s after %q: %w", r.rep.Region, s.id, s.lastSeq, err)
			}
			s.iterator = deref(out.ShardIterator)
		}
		c, cancel := call()
		out, err := r.rep.Streams.GetRecords(c, &dynamodbstreams.GetRecordsInput{ShardIterator: &s.iterator})
		cancel()
		if err != nil {
			// The iterator may have expired or the response been lost: start
			// again after the last record processed, never skipping one.
			s.iterator = ""
			return n, false, fmt.Errorf("replication: %s: get records of %s: %w", r.rep.Region, s.id, err)
		}
		recs, next := out.Records, out.NextShardIterator
		lastRead := len(out.Records)
		holdBack := false
		if len(recs) > 0 && creationHalf(recs[len(recs)-1]) && next != nil {
			// The batch may end between the two records of a creating
			// UpdateItem (see creationHalf): wait for the write to finish,
			// then read what came after.
			more, err := r.afterBarrier(ctx, callTimeout, next)
			if err != nil {
				s.iterator = ""
				return n, false, fmt.Errorf("replication: %s: read on after %s's first record of a creation: %w", r.rep.Region, s.id, err)
			}
			recs, next = append(slices.Clip(recs), more.Records...), more.NextShardIterator
			lastRead = len(more.Records)
			// A new creation's first record ending this read is left for
			// the next poll, which reads its second.
			holdBack = len(more.Records) > 0 && creationHalf(more.Records[len(more.Records)-1])
			if holdBack {
				recs = recs[:len(recs)-1]
			}
		}
		for i, rec := range recs {
			if i+1 < len(recs) && creationHalf(rec) && completes(recs[i+1], rec) {
				// The next record is the same write, whole: apply only that,
				// as DynamoDB, which makes one record of it, would.
				s.lastSeq = deref(rec.Dynamodb.SequenceNumber)
				n++
				continue
			}
			if err := r.process(rec); err != nil {
				// A record that cannot be decoded cannot be replicated: say
				// so and stop this shard here rather than skip it.
				s.iterator = ""
				return n, false, err
			}
			s.lastSeq = deref(rec.Dynamodb.SequenceNumber)
			n++
		}
		if lastRead >= fullRead || holdBack || next == nil {
			atEnd = false
		}
		switch {
		case holdBack:
			s.iterator = "" // read again after lastSeq: the held-back record
		case next == nil:
			s.ended, s.iterator, r.describe = true, "", true
		default:
			s.iterator = *next
		}
	}
	if n == 0 || atEnd {
		// Everything written before started has been read (and handed on
		// in order): CaughtUp waits from here for what was read.
		r.mu.Lock()
		r.tipAt, r.tipRead = started, r.out.readCount()
		r.mu.Unlock()
	}
	return n, atEnd, nil
}

// creationHalf reports whether rec may be the first of the two records moto
// makes of an UpdateItem that creates an item: it inserts the keys alone,
// then evaluates the update (which takes milliseconds, up to hundreds under
// load) and records the whole item as a second INSERT. DynamoDB Streams
// requests are not serialized with writes (internal/motoserver), so a read
// can end between the two; taken alone, the first record would give the
// item an image of its keys and a version older than the write's, and the
// check-and-write into this replica would then pass over the whole item.
// A keys-only item written by PutItem looks the same, and has no second
// record.
func creationHalf(rec sttypes.Record) bool {
	d := rec.Dynamodb
	if rec.EventName != sttypes.OperationTypeInsert || d == nil || d.OldImage != nil || len(d.NewImage) != len(d.Keys) {
		return false
	}
	for k := range d.Keys {
		if _, ok := d.NewImage[k]; !ok {
			return false
		}
	}
	return true
}

// completes reports whether rec is the second record of the creation whose
// first record is half: an INSERT of the same item, with no old image (any
// other write after the keys-only insert would be a MODIFY).
func completes(rec, half sttypes.Record) bool {
	d, h := rec.Dynamodb, half.Dynamodb
	if rec.EventName != sttypes.OperationTypeInsert || d == nil || d.OldImage != nil || len(d.Keys) != len(h.Keys) {
		return false
	}
	for k, v := range h.Keys {
		if !reflect.DeepEqual(d.Keys[k], v) {
			return false
		}
	}
	return true
}

// afterBarrier makes a DynamoDB call to the replica, which motoserver runs
// only after any write in progress has finished (with all its stream
// records), then reads the shard on from next.
func (r *reader) afterBarrier(ctx context.Context, callTimeout time.Duration, next *string) (*dynamodbstreams.GetRecordsOutput, error) {
	c, cancel := context.WithTimeout(ctx, callTimeout)
	_, err := r.rep.DynamoDB.DescribeTable(c, &dynamodb.DescribeTableInput{TableName: &r.table})
	cancel()
	if err != nil {
		return nil, err
	}
	c, cancel = context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return r.rep.Streams.GetRecords(c, &dynamodbstreams.GetRecordsInput{ShardIterator: next})
}

// describeShards adds the stream's shards not yet known.
func (r *reader) describeShards(ctx context.Context, callTimeout time.Duration) error {
	var start *string
	for {
		c, cancel := context.WithTimeout(ctx, callTimeout)
		out, err := r.rep.Streams.DescribeStream(c, &dynamodbstreams.DescribeStreamInput{StreamArn: &r.streamArn, ExclusiveStartShardId: start})
		cancel()
		if err != nil {
			return fmt.Errorf("replication: %s: describe stream: %w", r.rep.Region, err)
		}
		for _, sh := range out.StreamDescription.Shards {
			id := deref(sh.ShardId)
			if _, ok := r.shards[id]; !ok {
				r.shards[id] = &shard{id: id, parent: deref(sh.ParentShardId)}
			}
		}
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			return nil
		}
	}
}

// readable lists, in a stable order, the shards to read now: not ended, and
// whose parent is ended or unknown (trimmed away), so a child is read only
// after its parent's records.
func (r *reader) readable() []string {
	var ids []string
	for id, s := range r.shards {
		if s.ended {
			continue
		}
		if p, ok := r.shards[s.parent]; ok && !p.ended {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// process decodes one record, updates the view and, unless it is an echo of
// the replicator's own write, queues it for the other replica. Called with
// readMu held.
func (r *reader) process(raw sttypes.Record) error {
	d := raw.Dynamodb
	if d == nil || d.SequenceNumber == nil || d.ApproximateCreationDateTime == nil {
		return fmt.Errorf("replication: %s: stream record %s lacks sequence number or creation time", r.rep.Region, deref(raw.EventID))
	}
	keys, err := attributevalue.FromDynamoDBStreamsMap(d.Keys)
	if err != nil {
		return fmt.Errorf("replication: %s: record %s keys: %w", r.rep.Region, *d.SequenceNumber, err)
	}
	rec := record{key: itemKey(keys), keys: keys, accepted: d.ApproximateCreationDateTime.UTC()}
	if raw.EventName != sttypes.OperationTypeRemove {
		if d.NewImage == nil {
			return fmt.Errorf("replication: %s: record %s has no new image: the stream must be NEW_AND_OLD_IMAGES", r.rep.Region, *d.SequenceNumber)
		}
		if rec.image, err = attributevalue.FromDynamoDBStreamsMap(d.NewImage); err != nil {
			return fmt.Errorf("replication: %s: record %s new image: %w", r.rep.Region, *d.SequenceNumber, err)
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.takeEcho(rec.key, rec.image); ok {
		r.view[rec.key] = itemView{v: v, image: rec.image}
		r.in.echo()
		return nil
	}
	// A local write. Any write of the replicator still pending on this item
	// was conditional on the item before this record, so it cannot land.
	delete(r.pending, rec.key)
	rec.v = version{at: rec.accepted.Add(r.skew).Truncate(time.Millisecond), region: r.rep.Region, seq: *d.SequenceNumber}
	if prev, ok := r.view[rec.key]; ok && !rec.v.newerThan(prev.v) {
		// It overwrote, in this replica, a version its region's clock
		// stamps as later (a skewed clock, or the same millisecond): it is
		// the later write all the same, and must win everywhere, or the
		// replicas would keep different items.
		rec.v.at = prev.v.at.Add(time.Millisecond)
	}
	r.view[rec.key] = itemView{v: rec.v, image: rec.image}
	r.out.push(rec)
	return nil
}

// itemKey is a canonical string for an item's key attributes.
func itemKey(keys map[string]ddbtypes.AttributeValue) string {
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('=')
		switch v := keys[n].(type) {
		case *ddbtypes.AttributeValueMemberS:
			b.WriteString("S:" + v.Value)
		case *ddbtypes.AttributeValueMemberN:
			b.WriteString("N:" + v.Value)
		case *ddbtypes.AttributeValueMemberB:
			fmt.Fprintf(&b, "B:%x", v.Value)
		default:
			fmt.Fprintf(&b, "%T", v)
		}
		b.WriteByte('\x00')
	}
	return b.String()
}

func boolPtr(b bool) *bool    { return &b }
func strPtr(s string) *string { return &s }
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
