// Package strongtable gives one table of the twin's two regions the
// semantics of a DynamoDB global table in multi-Region strong consistency
// (MRSC): each region's clients reach DynamoDB through the region's proxy,
// which applies a write to its own replica and, before answering, to the
// other replica — or, when the other region cannot be reached, to the
// witness's log, which the other replica takes before it serves the table
// again. It replaces, for that table, the asynchronous replication of
// internal/replication (MREC).
//
// What AWS documents of MRSC:
//
//   - "How DynamoDB global tables work", DynamoDB Developer Guide,
//     section "Multi-Region strong consistency (MRSC)",
//     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html:
//     item changes in an MRSC replica are synchronously replicated to at
//     least one other Region before the write returns a successful
//     response; strongly consistent reads on any replica return the latest
//     version of an item; conditional writes evaluate the condition against
//     the latest version. An MRSC table is deployed in exactly three
//     Regions: three replicas, or two replicas and a witness, which holds
//     data written to the replicas and serves no reads or writes. "A write
//     operation fails with a ReplicatedWriteConflictException when it
//     attempts to modify an item that is already being modified in another
//     Region"; such writes can be retried and succeed once the item is no
//     longer being modified in another Region. MRSC tables support no
//     transaction operations ("will return an error"), no TTL and no LSIs,
//     and do not replicate through Streams. During an AWS FIS isolation of
//     an MRSC replica, eventually consistent reads are permitted.
//   - "Using DynamoDB global tables", section "Key facts about MRSC",
//     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-global-table-design.html:
//     "The local Region accepts all read and write operations as long as
//     there is a second Region that hosts a replica or witness to establish
//     quorum. If a second Region isn't available, the local Region can only
//     service eventually consistent reads." A Region that was offline
//     catches up automatically; until then writes and strongly consistent
//     reads to it return errors, and its eventually consistent reads return
//     what has been propagated into it so far. Eventually consistent reads
//     may miss recent changes, even of the same Region. Writes and strongly
//     consistent reads need cross-Region communication, which adds a
//     latency that grows with the round trip to the nearest other Region of
//     the table; eventually consistent reads take no longer. The witness
//     "contains recent data written to global table replicas".
//   - DynamoDB API Reference, PutItem and DeleteItem, "Errors",
//     https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html
//     and https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteItem.html:
//     ReplicatedWriteConflictException, "The request was rejected because
//     one or more items in the request are being modified by a request in
//     another Region.", HTTP 400; InternalServerError, "An error occurred on
//     the server side.", HTTP 500.
//   - DynamoDB metrics, FaultInjectionServiceInducedErrors,
//     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html:
//     requests to an MRSC replica isolated by AWS FIS (and during its
//     catch-up) "generate a simulated HTTP 500 status code".
//
// Not found in AWS's documentation, and assumed here: the error code and
// message of a request refused for want of a quorum (the status, 500, is
// documented; the code is taken to be InternalServerError, the 500 of every
// data-plane operation); the message of ReplicatedWriteConflictException;
// the code of a transaction on an MRSC table (ValidationException); how
// long a write counts as "being modified" (here: from taking the item until
// its quorum step ends); that writes of one region to one item wait their
// turn rather than conflict; that nothing of a refused write persists; how
// a lagging replica gets the witness's data (here: the latest image of each
// item it missed, applied before it serves the table); and the latency
// figures. CrossRegionDelay stands for one round trip between a region and
// the nearest other member of the set; AWS gives no figure for it (it
// points to a tester tool). For the twin's default regions, public
// inter-region round trips (not an AWS page) are of the order of 10–20 ms
// between us-east-1 and the witness's us-east-2 and 60–70 ms between
// us-east-1 and us-west-2; the twin scales whichever it picks.
//
// # Use
//
//	g, err := strongtable.Start(strongtable.Config{
//		Table: table,
//		A:     strongtable.Region{Name: primary, Local: motoA.Endpoint, Link: linkA.URL},
//		B:     strongtable.Region{Name: secondary, Local: motoB.Endpoint, Link: linkB.URL},
//		ThirdReachable: func(region string) bool { … },
//		CrossRegionDelay: scale.Local(rtt),
//	})
//	// region X's clients (through its front proxy) use g.URL(X)
//	...
//	err = g.CaughtUp(ctx) // quiesce: the witness log relayed, the replicas equal
//	stats := g.Stats()
//
// # Semantics
//
//   - Requests. A request whose X-Amz-Target is not DynamoDB's is streamed
//     to the region's Local unchanged (SQS long polls included). A DynamoDB
//     request that is not a data operation on the table is forwarded with
//     its body unchanged, and its response returned byte for byte (with
//     moto's X-Amz-Crc32). Responses the group makes itself carry a correct
//     X-Amz-Crc32.
//   - Writes (PutItem, UpdateItem, DeleteItem of the table) in region X,
//     the other region being Y: X first catches up (below); then the write
//     takes its item's lock — failing at once with
//     ReplicatedWriteConflictException (HTTP 400) if a write of Y holds or
//     waits for it, waiting its turn behind writes of X. Then the quorum is
//     checked before anything is applied: if X reaches the third member
//     (Config.ThirdReachable), the quorum is assured; otherwise Y must
//     answer over its link (Link health, below), or the write is refused
//     with InternalServerError (HTTP 500) and applied nowhere. The request then
//     goes to X's replica as it came, so its ConditionExpression is
//     evaluated there — on the latest version, since every acknowledged
//     write is in both replicas or is relayed first. A write X's replica
//     refuses (a failed condition, with ReturnValuesOnConditionCheckFailure's
//     item) is answered as moto answered it and replicates nothing. A
//     write X applied is read back (consistent GetItem) and, after
//     CrossRegionDelay, its result — the whole item, or its absence — goes
//     to the nearer member of the quorum. With Config.ThirdIsNearest and
//     the third member reachable, that is the witness's log: the write is
//     acknowledged, and Y takes the result from the log at once in the
//     background (or before it next serves the table), so a slow or cut Y
//     holds no write of X up. Otherwise the result is written to Y's
//     replica through Y's link. If Y does not take it
//     (refused, timed out after LinkTimeout, or known down) and X reaches
//     the third member, the result goes to the witness log for Y and the
//     write is acknowledged; if X reaches neither, the write is undone in
//     X (the item put back as read before it) and refused. The answer is
//     X's replica's, byte for byte (ReturnValues included).
//   - Reads (GetItem, Query, Scan, BatchGetItem of the table) are served
//     by the region's own replica. An eventually consistent read is always
//     served, from what the replica has. A strongly consistent read needs
//     the quorum, as a write does, and the region caught up; otherwise it is
//     refused with InternalServerError (HTTP 500). It is delayed by
//     ConsistentReadDelay; a strongly consistent GetItem also waits for a
//     write of its item in flight.
//   - Witness log and catch-up. The log holds, per region, the latest
//     result of each item acknowledged without that region's replica.
//     Before a region serves a write or a strongly consistent read of the
//     table, the log's entries for it are applied to its replica: from the
//     witness (through Local) if the region reaches the third member, else
//     from the other region (through its link); if neither, the request is
//     refused. A write taking an item also applies that item's entry, logged
//     while it waited for the lock. Each entry is applied under its item's
//     lock, and a write that reaches the other replica directly drops the
//     item's entry there, so an entry never lands over a later write. The
//     group also relays in the background every RelayEvery, so a replica
//     catches up by itself once it can; CaughtUp waits for the log to empty.
//   - Link health. A link the group failed to reach is known down: writes
//     skip it (the witness completes the quorum, or the request is refused
//     at once), so a hanging link costs one LinkTimeout, not one per
//     request; the background loop probes it every RelayEvery. A
//     successful call vouches for a link for RelayEvery.
//
// # Faithfulness limits
//
//   - The quorum step ships the item's result, not the request: the other
//     replica's write is an ordinary PutItem of the whole item (or a
//     DeleteItem) in moto. The replicas' items are equal; their Streams
//     records are not identical, as AWS says MRSC's are.
//   - Strongly consistent Query, Scan and BatchGetItem do not wait for the
//     writes in flight of the items they read (GetItem does): during a
//     write's quorum step they may show it in its region before the other
//     region's reads do.
//   - BatchWriteItem and PartiQL on the table are refused with
//     ValidationException (MRSC supports them; the group does not replicate
//     them); transactions are refused as AWS refuses them, with an assumed
//     code. Writes that reach moto other than through the proxies (the link
//     clients, tools) bypass MRSC.
//   - The witness log lives in the group's memory: acknowledged writes not
//     yet relayed are lost with the process (call CaughtUp first). Catching
//     up from the witness adds no delay.
//   - A region learns whether it reaches the other by calling it: a link
//     cut within RelayEvery of a successful call is noticed by the next
//     call, so with the witness unreachable one strongly consistent read
//     may still be served in that window (a write is undone). A write whose
//     result cannot be read back from its own replica (the storage failed
//     mid-write) is answered 500 and stays in that replica only (OnError
//     says so).
//   - Writes of one item are serialized through its whole quorum step, so
//     one item takes at most one write per step; moto serializes each
//     server's DynamoDB requests besides (internal/motoserver), and every
//     write costs its region one more call (the read back) and the other
//     region one.
//   - Item locks key on the key attributes' type and text: numeric keys
//     spelled differently ("1", "1.0") are taken for different items.
package strongtable
