// Package producer publishes TAP's events to Amazon EventBridge the way a
// careful producer does, through a regional bus or the global endpoint
// (PutEvents with EndpointId, which the AWS SDK signs with SigV4a). tapctl
// send and load, the local demo, the drills' load and dlq redrive publish
// through it.
//
// Two forms share one sending core — batches of at most 10 entries and
// 256 KiB as EventBridge counts them (EntrySize), per-entry retry of the
// entries a call reports as failed, with exponential backoff and jitter:
//
//   - Publisher (New) publishes a slice it is given and returns when every
//     entry is settled: for a command that holds all its events.
//   - Producer (Open) publishes in the background what Send gives it, with
//     bounded memory (Send blocks when full), metrics, and optionally a
//     durable spool: Send returns once the entries are fsync'd on disk, and
//     a producer restarted on the same directory — after a crash, during a
//     failover — sends what was not yet accepted.
//
// # Delivery guarantee
//
// An entry EventBridge accepted (gave an event ID) is never sent again:
// the spool records the acceptance, fsync'd, before the entry leaves it.
// Every other entry is sent until accepted, unless a limit (MaxAttempts,
// RetryFor) or an error no retry can fix gives it up, which is reported.
// Delivery is at-least-once at two boundaries: a crash between
// EventBridge's answer and the acknowledgement reaching the disk, and a
// call that failed without an answer (a timeout) after EventBridge had
// accepted it; such entries are sent again. The processor applies each
// eventId once (DESIGN §3, invariant I1), so that is harmless.
//
// # The spool
//
// A directory of segment files (NNNNNNNNNNNNNNNNNNNN.seg, append-only,
// each entry a length-prefixed record with a CRC-32C) and their
// acknowledgement files (.ack); a file header carries the format version
// (SpoolFormatVersion). A segment is deleted once every entry in it is
// settled. Its size is bounded (Config.SpoolMaxBytes): a Send past it
// fails with ErrSpoolFull and writes nothing. On open, a torn final record
// — what a crash in the middle of a write leaves — is cut off and reported
// (Recovery, with file and offset); a damaged record followed by good ones
// is corruption, and Open refuses the spool (*CorruptError, with file and
// offset) rather than drop records. A LOCK file (flock) keeps a second
// producer out.
//
// What survives what: a process crash (kill -9, a panic) loses nothing
// Send returned for, since every write is fsync'd before Send returns and
// the kernel keeps what was written; a machine crash or power loss loses
// nothing either, as long as the disk honours fsync; a lost or corrupted
// disk loses the spool — keep it on a volume that outlives the process (not
// a container's writable layer).
//
// EventBridge references: entry size
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html;
// partial failures https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html;
// retryable error codes https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html;
// global endpoints https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-global-endpoints.html.
package producer
