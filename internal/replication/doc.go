// Package replication replicates one DynamoDB table between two regions of
// the local AWS (moto) the way DynamoDB global tables (version 2019.11.21,
// multi-region eventual consistency, MREC) do: asynchronously, item by
// item, last writer wins. It reads each replica's DynamoDB Stream and writes
// every record's new image (or its removal) into the other replica as a
// whole-item write.
//
// What AWS documents of MREC:
//
//   - "How DynamoDB global tables work", DynamoDB Developer Guide,
//     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html:
//     changes to an item are replicated to the other replicas
//     asynchronously, typically within a second; a replica that was
//     isolated or impaired is sent what it missed once it is healthy; when
//     the same item is modified in several regions at about the same time,
//     the last writer wins.
//   - "Using Amazon DynamoDB global tables", AWS Prescriptive Guidance,
//     overview, "Key facts about MREC",
//     https://docs.aws.amazon.com/prescriptive-guidance/latest/dynamodb-global-tables/overview.html:
//     items are replicated individually (items updated in one transaction
//     may not be replicated together); each table partition replicates its
//     writes in parallel with the others, so the order of writes in a remote
//     region may not match the order in the source region; there is no SLA
//     on the replication latency; each item keeps its last-write timestamp
//     as a private system attribute, and last writer wins is a conditional
//     write that requires the incoming item's timestamp to be greater.
//   - The legacy version (2017.11.29) made that attribute visible
//     (aws:rep:updatetime and others, "Global tables: How it works",
//     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/globaltables_HowItWorks.html);
//     the current version does not, and neither does this package.
//
// Not found in AWS's documentation, and assumed here: that two writes to one
// item are applied in the remote region in their order; which clock stamps
// a write's timestamp (here: its own region's, as skewed by Config.Skew);
// how ties are broken; that a write which overwrote an item in its region
// wins over the write it overwrote whatever the two regions' clocks say (the
// documentation says the replicas converge); and how the lag is distributed
// (here: Config.Lag plus a uniform jitter).
//
// # Use
//
//	// Both replicas: the same table, created by store.CreateTable.
//	replication.EnableStreams(ctx, a.DynamoDB, table) // and b's
//	r, err := replication.New(replication.Config{Table: table, A: a, B: b, Lag: lag, LagJitter: jitter})
//	go r.Run(ctx)
//	...
//	err = r.CaughtUp(ctx) // quiesce: everything written so far is replicated
//	diff, err := replication.Compare(ctx, a.DynamoDB, b.DynamoDB, table)
//
// # Semantics
//
//   - Versions. Every write has a version: the time its own region stamped
//     on it (the stream record's ApproximateCreationDateTime, milliseconds
//     on moto, plus that region's Config.Skew), then the region name (ties
//     between regions: the greater name wins, so the outcome is
//     deterministic), then the record's sequence number (orders two writes
//     of one region in the same millisecond). A local write that overwrote,
//     in its replica, an item whose version its stamp does not beat (a
//     skewed clock, or the same millisecond) gets that version's time plus
//     1 ms: it replaced that item, so it wins everywhere. A replicated write
//     keeps its source's version, as in DynamoDB.
//   - Last writer wins, per item. A record is applied to the other replica
//     only if its version is newer than the version of the item there;
//     otherwise it is superseded and dropped. An item's version in a replica
//     is learnt from that replica's own stream: a local write's record gives
//     it as above; a replicated write's record is recognised as the
//     replicator's own (below) and given the version it replicated. Versions
//     live in the replicator's memory only: nothing is added to the items.
//   - No echo. Before each write into a replica the replicator notes, for
//     that item, the exact image it writes (or that it deletes the item) and
//     the version it replicates. The next record of the item in that
//     replica's stream whose new image equals a noted image (attribute by
//     attribute, numbers by value; a removal for a deletion) is that write's
//     echo: it is not sent back, and it ends the notes before it. Any other
//     record of the item is a local write and ends all its notes: a write of
//     the replicator still pending was conditional on the item as it was
//     before that record, so it can no longer land. This is exact because
//     moto serializes DynamoDB requests (internal/motoserver), the records
//     of one item are read in order, and a failed conditional write emits no
//     record (in DynamoDB and in moto); a retried write shares its note, so
//     an attempt whose answer was lost is still recognised when its record
//     shows.
//   - Atomic check-and-write. The write into the target is conditional on
//     the target item being exactly as last observed in the target's stream
//     (every attribute equal, or absent), so a local write racing with the
//     replicator makes the condition fail instead of being overwritten; the
//     replicator then reads the target's stream to its end and decides again.
//     moto's conditional writes are atomic as it serializes requests.
//   - Items are independent. Each direction keeps one queue per item and
//     applies the queues with a pool of workers: the records of one item are
//     applied in their order, one at a time; records of different items in
//     no particular order. Each record is due Config.Lag plus its own jitter
//     (a random delay in [0, Config.LagJitter), from a generator seeded with
//     Config.Seed) after its region accepted it, by the real clock (skew
//     plays no part in it), and not before the item's previous record is
//     settled: an order's state can land before its execution.
//   - Durability. A failed write (region cut, throttled, timed out) is
//     retried, deciding again each time, until it lands or is superseded,
//     and holds back only its own item's later records; each item backs off
//     on its own, and when the target did not answer at all (refused, timed
//     out) the whole direction waits the same backoff before its next
//     attempt, so a cut region is probed rather than called once per item.
//     Reading resumes after the last processed sequence number of each
//     shard; child shards are read after their parents end.
//
// # Faithfulness limits
//
//   - Echoes are recognised by image. A local write in the target that
//     makes exactly the image the replicator is writing to that item, before
//     the replicator's write shows in the stream, is taken for its echo (and
//     the echo then for a local write, sent back with the same content). The
//     race check likewise compares the attributes the item had when last
//     observed: a local write that rewrites an item with identical content
//     is not seen as a race. TAP's writes always change updatedAt (state),
//     sentAt (heartbeat) or create the item (execution), and carry
//     processedRegion, so no write of one region equals another's.
//   - The replicator keeps each replica's item versions, and its own
//     pending writes, in memory (built from both streams from their start),
//     so it replicates only what was written after the streams were enabled.
//     A new replicator over the same tables rereads both streams from their
//     trim horizon and takes the writes of the one before it for local
//     writes of their target region: the content converges, with later
//     versions than DynamoDB would give.
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
//   - Real DynamoDB replicates typically within a second with no
//     user-visible retry and orders items by partition; here lag is
//     Config.Lag plus the jitter plus the poll interval, items are
//     independent (not grouped by partition), and a cut region's backlog is
//     applied after it heals, as DynamoDB does after an outage. Skew is a
//     fixed offset per region, not a drifting clock.
package replication
