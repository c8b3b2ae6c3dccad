// Package schema is the single definition of the orders table's keys and indexes
// and of the event pattern that routes events to the processor. The CDK stacks,
// `tapctl local` and the tests all read it from here, so the local pipeline and
// the deployed one cannot drift apart.
package schema

import "fmt"

// AttrType is a DynamoDB key attribute type.
type AttrType string

// String is the only key attribute type TAP uses.
const String AttrType = "S"

// Key is one key attribute.
type Key struct {
	Name string
	Type AttrType
}

// Projection is what an index copies of each item (DynamoDB's ProjectionType).
type Projection string

// KeysOnly projects only the table's and the index's keys: an update that
// changes no key attribute writes nothing to the index.
const KeysOnly Projection = "KEYS_ONLY"

// Index is a global secondary index.
type Index struct {
	Name       string
	Partition  Key
	Sort       Key
	Projection Projection
}

// Table is the key schema of the orders table.
type Table struct {
	Partition Key
	Sort      Key
	Indexes   []Index
}

// Attribute names of the table's keys (DESIGN §3).
const (
	AttrPK     = "PK"
	AttrSK     = "SK"
	AttrGSI1PK = "GSI1PK"
	AttrGSI1SK = "GSI1SK"
	// IndexByAccount lists an account's orders by the time each was opened
	// (the transactTime of its first applied event). Its sort key is set
	// once and its projection is KEYS_ONLY, so the updates that follow write
	// nothing to it (DESIGN §3, the account index).
	IndexByAccount = "byAccount"
)

// Orders returns the orders table's key schema.
func Orders() Table {
	return Table{
		Partition: Key{Name: AttrPK, Type: String},
		Sort:      Key{Name: AttrSK, Type: String},
		Indexes: []Index{{
			Name:       IndexByAccount,
			Partition:  Key{Name: AttrGSI1PK, Type: String},
			Sort:       Key{Name: AttrGSI1SK, Type: String},
			Projection: KeysOnly,
		}},
	}
}

// Event source and detail types of the contract (DESIGN §2).
const (
	Source                    = "tap.trading"
	DetailTypeExecutionReport = "ExecutionReport"
	DetailTypeHeartbeat       = "Heartbeat"
)

// ProcessorPattern is the EventBridge event pattern of the rule that targets the
// processor, in the shape EventBridge expects ("source", "detail-type" arrays).
func ProcessorPattern() map[string][]string {
	return map[string][]string{
		"source":      {Source},
		"detail-type": {DetailTypeExecutionReport, DetailTypeHeartbeat},
	}
}

// Consistency is the global table's multi-Region consistency mode, as TAP's
// setting tap:tableConsistency and the processor's TABLE_CONSISTENCY name
// it (DESIGN §3, strong consistency).
type Consistency string

// The two modes of DynamoDB global tables ("Consistency modes",
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html).
const (
	// Eventual is multi-Region eventual consistency (MREC), the default:
	// writes return before they reach the other Region; last writer wins
	// per item.
	Eventual Consistency = "eventual"
	// Strong is multi-Region strong consistency (MRSC): a write returns
	// once durable in a second Region of the set; a concurrent write to the
	// item from another Region fails with ReplicatedWriteConflictException.
	Strong Consistency = "strong"
)

// ParseConsistency reads a mode by its name; empty is Eventual.
func ParseConsistency(s string) (Consistency, error) {
	switch Consistency(s) {
	case "", Eventual:
		return Eventual, nil
	case Strong:
		return Strong, nil
	}
	return "", fmt.Errorf("table consistency %q: want %q or %q", s, Eventual, Strong)
}
