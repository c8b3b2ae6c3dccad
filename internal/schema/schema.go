// Package schema is the single definition of the orders table's keys and indexes
// and of the event pattern that routes events to the processor. The CDK stacks,
// `tapctl local` and the tests all read it from here, so the local pipeline and
// the deployed one cannot drift apart.
package schema

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
