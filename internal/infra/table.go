package infra

import (
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/schema"
)

// OrdersTableLogicalID is the pinned CloudFormation logical ID of the global
// table. Changing it would make CloudFormation create a new table and orphan
// (RETAIN) the old one with every order in it, so a test holds it fixed.
const OrdersTableLogicalID = "OrdersTable"

// ProvisionedCapacity is the auto-scaling range of a provisioned table.
type ProvisionedCapacity struct {
	// ReadMin and ReadMax bound read capacity units per replica.
	ReadMin, ReadMax int
	// WriteMin and WriteMax bound write capacity units (the same on every replica).
	WriteMin, WriteMax int
}

// OrdersTableProps configure the orders global table.
type OrdersTableProps struct {
	// Table is the physical name (the same in every region), the key schema
	// and GSIs, the indexes' projection, the billing mode, the replicas'
	// stream view, the multi-Region consistency and an MRSC table's witness
	// or third replica. Required: deployspec.For(cfg).Table.
	Table deployspec.Table
	// ReplicaRegions are the regions besides the stack's that hold a replica.
	// Required: TAP's secondary region, and the third region when Table has
	// a third replica (deployspec.Spec.TableReplicas without the primary).
	ReplicaRegions []string
	// Provisioned is the auto-scaling range of provisioned capacity: required
	// when Table.Billing is PROVISIONED, and must be nil when it is
	// PAY_PER_REQUEST.
	Provisioned *ProvisionedCapacity
}

// NewOrdersTable creates the AWS::DynamoDB::GlobalTable: PITR and deletion
// protection on every replica, retained on stack deletion. Under multi-Region
// eventual consistency (MREC) every replica has a stream of the spec's view
// (MREC replicates through it). Under strong consistency (MRSC) the table is
// STRONG with the spec's witness or third replica and has no stream (DESIGN
// §3, strong consistency).
func NewOrdersTable(scope constructs.Construct, id string, props OrdersTableProps) awsdynamodb.TableV2 {
	spec := props.Table
	strong := spec.Consistency == schema.Strong
	if strong {
		checkMRSCShape(spec, props.ReplicaRegions)
	}
	attr := func(k schema.Key) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(k.Name), Type: attributeType(k.Type)}
	}

	billing := awsdynamodb.Billing_OnDemand(nil)
	var indexRead, indexWrite awsdynamodb.Capacity
	switch {
	case spec.Billing == deployspec.BillingPayPerRequest && props.Provisioned == nil:
		// on-demand, as above
	case spec.Billing == deployspec.BillingProvisioned && props.Provisioned != nil:
		p := props.Provisioned
		read := awsdynamodb.Capacity_Autoscaled(&awsdynamodb.AutoscaledCapacityOptions{
			MinCapacity: jsii.Number(p.ReadMin), MaxCapacity: jsii.Number(p.ReadMax),
		})
		// Global tables require auto-scaled write capacity so replicas keep up.
		write := awsdynamodb.Capacity_Autoscaled(&awsdynamodb.AutoscaledCapacityOptions{
			MinCapacity: jsii.Number(p.WriteMin), MaxCapacity: jsii.Number(p.WriteMax),
		})
		billing = awsdynamodb.Billing_Provisioned(&awsdynamodb.ThroughputProps{ReadCapacity: read, WriteCapacity: write})
		indexRead, indexWrite = read, write
	default:
		panic(fmt.Sprintf("infra: table billing %q with provisioned capacity %v: PROVISIONED needs a capacity range, PAY_PER_REQUEST none", spec.Billing, props.Provisioned))
	}

	var gsis []*awsdynamodb.GlobalSecondaryIndexPropsV2
	for _, ix := range spec.Keys.Indexes {
		gsis = append(gsis, &awsdynamodb.GlobalSecondaryIndexPropsV2{
			IndexName:      jsii.String(ix.Name),
			PartitionKey:   attr(ix.Partition),
			SortKey:        attr(ix.Sort),
			ProjectionType: lookup("ProjectionType", projectionTypes, string(ix.Projection)),
			ReadCapacity:   indexRead,
			WriteCapacity:  indexWrite,
		})
	}

	var replicas []*awsdynamodb.ReplicaTableProps
	for _, r := range props.ReplicaRegions {
		replicas = append(replicas, &awsdynamodb.ReplicaTableProps{Region: jsii.String(r)})
	}

	tp := &awsdynamodb.TablePropsV2{
		TableName:              jsii.String(spec.Name),
		PartitionKey:           attr(spec.Keys.Partition),
		SortKey:                attr(spec.Keys.Sort),
		GlobalSecondaryIndexes: &gsis,
		Replicas:               &replicas,
		Billing:                billing,
		// Replicas inherit both settings, so every region can be restored and
		// none can be dropped by accident. MRSC keeps both: what it excludes
		// is TTL, LSIs and transactions (V2globaltables_HowItWorks.html,
		// "Multi-Region strong consistency" and "Transactions").
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	}
	if spec.StreamViewType != "" {
		// TableV2 would default to NEW_AND_OLD_IMAGES with replicas; set it
		// from the spec so the template says what the twin replicates with.
		tp.DynamoStream = lookup("StreamViewType", streamViewTypes, spec.StreamViewType)
	}
	if strong {
		// MultiRegionConsistency is left out under MREC (CloudFormation's
		// default is EVENTUAL), so an existing table's template is unchanged.
		tp.MultiRegionConsistency = awsdynamodb.MultiRegionConsistency_STRONG
		if w := spec.Witness(); w != "" {
			tp.WitnessRegion = jsii.String(w)
		}
	}
	table := awsdynamodb.NewTableV2(scope, jsii.String(id), tp)
	cfn := table.Node().DefaultChild().(awscdk.CfnResource)
	cfn.OverrideLogicalId(jsii.String(OrdersTableLogicalID))
	if spec.StreamViewType == "" {
		// TableV2 adds a NEW_AND_OLD_IMAGES stream to any table with
		// replicas, because MREC replicates through it. MRSC does not use
		// Streams for replication and does not enable them by default
		// (V2globaltables_HowItWorks.html, "Streams"); CloudFormation does not
		// require StreamSpecification for MRSC
		// (aws-properties-dynamodb-globaltable-streamspecification.html), and
		// nothing in TAP reads a stream, so the table has none.
		cfn.AddPropertyDeletionOverride(jsii.String("StreamSpecification"))
	}
	return table
}

// checkMRSCShape panics unless an MRSC table's spec and replica regions make
// exactly three Regions: the stack's, ReplicaRegions and the witness, as MRSC
// requires (V2globaltables_HowItWorks.html, "Multi-Region strong
// consistency"). config validates the settings; this catches a stack that
// passes the wrong replica list for the spec.
func checkMRSCShape(spec deployspec.Table, replicaRegions []string) {
	var ok bool
	switch spec.ThirdRegionRole {
	case config.Witness:
		ok = len(replicaRegions) == 1 && spec.ThirdRegion != "" && replicaRegions[0] != spec.ThirdRegion
	case config.ThirdReplica:
		ok = len(replicaRegions) == 2 && spec.ThirdRegion != "" && slices.Contains(replicaRegions, spec.ThirdRegion)
	}
	if !ok {
		panic(fmt.Sprintf("infra: MRSC table %s with third region %q (%s) and replica regions %v: want the secondary as the one other replica and a witness, or the secondary and the third region as replicas; pass deployspec.Spec.TableReplicas()",
			spec.Name, spec.ThirdRegion, spec.ThirdRegionRole, replicaRegions))
	}
}

// CloudFormation's ProjectionType and StreamViewType values and the CDK's
// enum members (see lookup).
var (
	projectionTypes = map[string]awsdynamodb.ProjectionType{
		"ALL": awsdynamodb.ProjectionType_ALL, "KEYS_ONLY": awsdynamodb.ProjectionType_KEYS_ONLY,
		"INCLUDE": awsdynamodb.ProjectionType_INCLUDE,
	}
	streamViewTypes = map[string]awsdynamodb.StreamViewType{
		"NEW_AND_OLD_IMAGES": awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES, "NEW_IMAGE": awsdynamodb.StreamViewType_NEW_IMAGE,
		"OLD_IMAGE": awsdynamodb.StreamViewType_OLD_IMAGE, "KEYS_ONLY": awsdynamodb.StreamViewType_KEYS_ONLY,
	}
)

func attributeType(t schema.AttrType) awsdynamodb.AttributeType {
	switch t {
	case schema.String:
		return awsdynamodb.AttributeType_STRING
	default:
		panic("infra: unsupported key attribute type " + string(t))
	}
}
