package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

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
	// TableName is the physical name, the same in every region. Required.
	TableName string
	// Schema is the key schema and GSIs. Required (schema.Orders()).
	Schema schema.Table
	// ReplicaRegions are the regions besides the stack's that hold a replica.
	// Required: TAP's secondary region.
	ReplicaRegions []string
	// Provisioned switches to provisioned capacity with auto scaling.
	// Default nil: on-demand.
	Provisioned *ProvisionedCapacity
}

// NewOrdersTable creates the AWS::DynamoDB::GlobalTable: PITR and deletion
// protection on every replica, retained on stack deletion.
func NewOrdersTable(scope constructs.Construct, id string, props OrdersTableProps) awsdynamodb.TableV2 {
	attr := func(k schema.Key) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(k.Name), Type: attributeType(k.Type)}
	}

	billing := awsdynamodb.Billing_OnDemand(nil)
	var indexRead, indexWrite awsdynamodb.Capacity
	if p := props.Provisioned; p != nil {
		read := awsdynamodb.Capacity_Autoscaled(&awsdynamodb.AutoscaledCapacityOptions{
			MinCapacity: jsii.Number(p.ReadMin), MaxCapacity: jsii.Number(p.ReadMax),
		})
		// Global tables require auto-scaled write capacity so replicas keep up.
		write := awsdynamodb.Capacity_Autoscaled(&awsdynamodb.AutoscaledCapacityOptions{
			MinCapacity: jsii.Number(p.WriteMin), MaxCapacity: jsii.Number(p.WriteMax),
		})
		billing = awsdynamodb.Billing_Provisioned(&awsdynamodb.ThroughputProps{ReadCapacity: read, WriteCapacity: write})
		indexRead, indexWrite = read, write
	}

	var gsis []*awsdynamodb.GlobalSecondaryIndexPropsV2
	for _, ix := range props.Schema.Indexes {
		gsis = append(gsis, &awsdynamodb.GlobalSecondaryIndexPropsV2{
			IndexName:      jsii.String(ix.Name),
			PartitionKey:   attr(ix.Partition),
			SortKey:        attr(ix.Sort),
			ProjectionType: awsdynamodb.ProjectionType_ALL,
			ReadCapacity:   indexRead,
			WriteCapacity:  indexWrite,
		})
	}

	var replicas []*awsdynamodb.ReplicaTableProps
	for _, r := range props.ReplicaRegions {
		replicas = append(replicas, &awsdynamodb.ReplicaTableProps{Region: jsii.String(r)})
	}

	table := awsdynamodb.NewTableV2(scope, jsii.String(id), &awsdynamodb.TablePropsV2{
		TableName:              jsii.String(props.TableName),
		PartitionKey:           attr(props.Schema.Partition),
		SortKey:                attr(props.Schema.Sort),
		GlobalSecondaryIndexes: &gsis,
		Replicas:               &replicas,
		Billing:                billing,
		// Replicas inherit both settings, so every region can be restored and
		// none can be dropped by accident.
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	})
	table.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(OrdersTableLogicalID))
	return table
}

func attributeType(t schema.AttrType) awsdynamodb.AttributeType {
	switch t {
	case schema.String:
		return awsdynamodb.AttributeType_STRING
	default:
		panic("infra: unsupported key attribute type " + string(t))
	}
}
