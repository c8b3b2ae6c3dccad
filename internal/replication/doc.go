// Package replication replicates one DynamoDB table between two regions of
// the local AWS (moto) the way DynamoDB global tables (version 2019.11.21,
// multi-region eventual consistency) do: asynchronously, item by item,
// last writer wins. It reads each replica's DynamoDB Stream and writes every
// record's new image (or its removal) into the other replica as a whole-item
// write.
//
// # Use
//
//	// Both replicas: the same table, created by store.CreateTable.
//	replication.EnableStreams(ctx, a.DynamoDB, table) // and b's
//	r, err := replication.New(replication.Config{Table: table, A: a, B: b, Lag: lag})
//	go r.Run(ctx)
//	...
//	err = r.CaughtUp(ctx) // quiesce: everything written so far is replicated
//	diff, err := replication.Compare(ctx, a.DynamoDB, b.DynamoDB, table)
//
// # Semantics
//
//   - Versions. Every write has a version: the time its own region accepted
//     it (the stream record's ApproximateCreationDateTime, milliseconds on
//     moto), then the region name (ties between regions: the greater name
//     wins, so the outcome is deterministic), then the record's sequence
//     number (orders two writes of one region in the same millisecond). A
//     replicated write keeps its source's version, as in DynamoDB.
//   - Last writer wins, per item. A record is applied to the other replica
//     only if its version is newer than the version of the item there;
//     otherwise it is superseded and dropped. An item's version in a replica
//     is learnt from that replica's own stream: a local write's record gives
//     (its time, this region); a replicated write carries its version in a
//     hidden attribute (MetaAttr).
//   - No echo. A record in a replica's stream whose MetaAttr changed (set by
//     the replicator's whole-item put; a local UpdateItem keeps it, a local
//     PutItem drops it) is the replicator's own write and is not sent back.
//     A removal is an echo when the replicator has just deleted that item.
//   - Atomic check-and-write. The write into the target is conditional on
//     the target item being exactly as last observed in the target's stream
//     (every attribute equal, or absent), so a local write racing with the
//     replicator makes the condition fail instead of being overwritten; the
//     replicator then reads the target's stream to its end and decides again.
//     moto serializes DynamoDB requests (internal/motoserver), so its
//     conditional writes are atomic. A failed conditional write emits no
//     stream record, in DynamoDB and in moto.
//   - Order and durability. Records of a shard are applied in order, one
//     direction at a time; a failed write (region cut, throttled, timed out)
//     is retried, re-deciding each time, until it lands or is superseded, and
//     nothing behind it overtakes it. Reading resumes after the last
//     processed sequence number of each shard; child shards are read after
//     their parents end. Lag (Config.Lag) delays each record past the time
//     its region accepted it.
//
// # Faithfulness limits
//
//   - DynamoDB keeps an item's replication version out of sight; here it is
//     visible as MetaAttr on items the replicator wrote, and stays on an item
//     after later local UpdateItems (its value is then stale, and ignored:
//     versions come from the stream). Compare ignores it.
//   - The race check compares the attributes the target item had when last
//     observed: a local write that only adds attributes, or rewrites an item
//     with identical content, is not seen as a race. TAP's writes always
//     change updatedAt (state), sentAt (heartbeat) or create the item
//     (execution), so this never applies to them.
//   - A removal is recognised as the replicator's own by the item it was
//     deleting: a local delete of the same item racing with a replicated
//     one may be taken for the echo. TAP never deletes items.
//   - The replicator keeps each replica's item versions in memory (built
//     from both streams from their start), so it replicates only what was
//     written after the streams were enabled, and a restarted replicator
//     rereads both streams from their trim horizon.
//   - moto's stream records say awsRegion us-east-1 whatever the region; the
//     replicator knows each replica's region from its Config instead. A
//     local UpdateItem that creates an item emits two records on moto: an
//     INSERT of the keys alone, then, once the update is evaluated (up to
//     hundreds of milliseconds later under load), an INSERT of the item.
//     The replicator takes them for the one write they are, as DynamoDB
//     makes one record of it: it drops the first when the second follows,
//     and when a read ends on a keys-only INSERT it makes a DynamoDB call to
//     that replica first (motoserver runs it after the write in progress)
//     and reads on. Taken alone, the keys record gave the item a version
//     older than the write and an image the race check could not tell from
//     the whole item, so a write accepted in the other region between the
//     two records won in one replica and lost in the other.
//   - Real DynamoDB replicates with sub-second lag and no user-visible retry;
//     here lag is Config.Lag plus the poll interval, and a cut region's
//     backlog is applied after it heals, as DynamoDB does after an outage.
package replication
