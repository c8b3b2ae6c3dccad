// Package infra holds TAP's CDK constructs: the orders global table, one
// region's processing path (bus, archive, rule, processor, dead-letter queues,
// heartbeat, alerts, alarms, dashboard) and the global endpoint's failover.
// Constructs take typed props only — they never read configuration or the
// environment — and every physical name arrives through those props, from
// internal/names. Every value that decides how the pipeline behaves (the
// rule's pattern, retry policies, the function's timeout and async retries,
// DLQ retention, the table's keys, billing, stream, consistency and MRSC
// third region, the health alarm and check, the heartbeat's rate) arrives as
// a part of internal/deployspec's Spec, unchanged, and is written nowhere
// else: the two-region twin runs on the same Spec (DESIGN §8.1).
package infra
