// Package infra holds TAP's CDK constructs: the orders global table, one
// region's processing path (bus, archive, rule, processor, dead-letter queues,
// heartbeat, alerts, alarms, dashboard) and the global endpoint's failover.
// Constructs take typed props only — they never read configuration or the
// environment — and every physical name arrives through those props, from
// internal/names.
package infra
