// Package verify compares the two replicas of a DynamoDB global table item
// by item (`tapctl verify`): it scans both replicas in parallel under a read
// capacity budget, compares every item with the replication metadata left
// out, re-reads the keys that differ after a pause so that replication in
// flight is not reported, and returns the keys that still differ and how.
//
// # What AWS documents, and the choices made on it
//
//   - Parallel scan. A Scan with Segment and TotalSegments reads one of
//     TotalSegments disjoint parts of the table; the LastEvaluatedKey of a
//     segment continues that segment only
//     (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.ParallelScan;
//     API_Scan.html). Each replica is scanned in Config.Segments segments,
//     one worker each.
//   - What a Scan costs. A read consumes one read capacity unit per 4 KB for
//     a strongly consistent read, half that for an eventually consistent one;
//     a Scan is charged on the total size of the items it reads, rounded up
//     to 4 KB ("Capacity unit consumption for read operations",
//     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html#read-operation-consumption).
//     Every request asks for ReturnConsumedCapacity TOTAL and the budget is
//     charged what DynamoDB says it consumed (an estimate from the items'
//     sizes only when an answer carries none).
//   - The scans are eventually consistent by default (Config.Consistent
//     makes them strongly consistent, at twice the cost). An eventually
//     consistent read "may not reflect the results of a recently completed
//     write" and costs half a strongly consistent one ("DynamoDB read
//     consistency",
//     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html).
//     The scan is only a first pass: every key it finds differing is
//     re-read strongly consistent in both regions before it is reported, so
//     a stale page can add work but never a false report. What a stale page
//     can do is hide a difference made in the moments before the scan
//     reached the item (both replicas read as their older, equal, value).
//     Such an item is a write in flight — the same page says a global
//     table replicates a change to the other replicas typically within a
//     second — which a verify does not judge anyway: run it again, or with
//     Consistent, to see it settled.
//   - The re-check. After Config.Pause, the differing keys are read with
//     BatchGetItem, ConsistentRead true, in each region (up to 100 keys a
//     request; keys returned in UnprocessedKeys are asked again with
//     backoff,
//     https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html).
//     A strongly consistent read reflects every write that succeeded
//     before it — in its own region: global tables replicate
//     asynchronously (HowItWorks.ReadConsistency.html, "Global table read
//     consistency"), which is what the pause is for. A key still differing
//     whose content did not change in either region since the last read is
//     reported; one that changed (an item being written, e.g. a heartbeat)
//     is re-read after another pause, up to Config.Rechecks rounds, and
//     reported as changing if it never settles.
//   - Replication metadata. Global tables version 2017.11.29 (legacy) add
//     aws:rep:deleting, aws:rep:updatetime and aws:rep:updateregion to every
//     item, values DynamoDB manages to settle replication, not the
//     application's ("Global tables: How it works", version 2017.11.29,
//     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/globaltables_HowItWorks.html,
//     which asks that they be neither modified nor used as names of one's
//     own). Version 2019.11.21 (current), which TAP deploys, adds none: the
//     last-write timestamp it keeps is private
//     (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html;
//     internal/replication's doc cites the rest). IgnoredAttributes, the
//     three legacy names, are left out of every comparison either way.
//   - Values are compared as DynamoDB means them: numbers by value ("1.50"
//     equals "1.5"), sets without order, maps without order.
//
// # The budget
//
// Each region has its own budget of Config.RCU read capacity units per
// second, a token bucket (golang.org/x/time/rate) counted in half units and
// holding at most one second of budget. A request starts only when the
// bucket is not in debt; what it consumed is then taken from the bucket,
// which may go into debt, and the next request waits it out. Over any
// interval of T seconds a region therefore consumes at most RCU·T, plus the
// one second of burst, plus the requests in flight at its end. Those are
// kept small: each worker sizes its pages (Scan Limit) from the items per
// RCU of its last page, so that a page costs about RCU/Segments — a
// region's workers together then spend about one second of budget per round
// of requests.
//
// # Memory
//
// Neither replica is held in memory. Both replicas are scanned at the same
// time, with the same segmenting and the same budget, and every item is
// reduced to its key and a 64-bit hash of its content (maphash of a
// canonical encoding). A key waits in memory only until the other replica's
// scan has reached it too: when both hashes agree it is dropped; when they
// do not, the key is kept as a candidate for the re-check. The memory bound
// is therefore O(P + D) entries of about 80 bytes plus the key's length,
// where D is the number of differing keys and P the number of keys one
// replica's scan has passed and the other's not yet. DynamoDB's segments
// divide the partition-key space, so the two scans of a segment meet the
// same keys in about the same order and P stays near the size of the pages
// in flight; at worst (segments ordered differently, or one region far
// slower) P is the item count of one replica — keys and hashes, never the
// items. Only the items of the keys re-checked are read whole, 100 at a
// time.
//
// # Use
//
//	res, err := verify.Run(ctx, verify.Config{
//		A:    verify.Replica{Region: "us-east-1", Table: table, Client: east},
//		B:    verify.Replica{Region: "us-west-2", Table: table, Client: west},
//		Keys: []string{"PK", "SK"}, RCU: 100, Pause: 5 * time.Second,
//	})
//	if !res.Identical() { for _, d := range res.Differences { ... } }
package verify
