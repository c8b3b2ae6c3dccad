package stacks

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/tap-trading/tap/internal/infra"
	"github.com/tap-trading/tap/internal/schema"
)

func dataTemplate() assertions.Template { return tpl[cfg.Names().DataStack()] }

// TestOrdersTableLogicalIDIsPinned: renaming it would replace the table.
func TestOrdersTableLogicalIDIsPinned(t *testing.T) {
	tables := resources(t, dataTemplate(), "AWS::DynamoDB::GlobalTable")
	if _, ok := tables[infra.OrdersTableLogicalID]; !ok || len(tables) != 1 {
		ids := make([]string, 0, len(tables))
		for id := range tables {
			ids = append(ids, id)
		}
		t.Errorf("global tables = %v, want exactly one with logical ID %q", ids, infra.OrdersTableLogicalID)
	}
}

func TestOrdersTableKeysFromSchema(t *testing.T) {
	s := schema.Orders()
	ix := s.Indexes[0]
	hasResource(t, dataTemplate(), "AWS::DynamoDB::GlobalTable", map[string]any{
		"TableName": cfg.Names().Table(),
		"KeySchema": []any{
			map[string]any{"AttributeName": s.Partition.Name, "KeyType": "HASH"},
			map[string]any{"AttributeName": s.Sort.Name, "KeyType": "RANGE"},
		},
		"GlobalSecondaryIndexes": []any{assertions.Match_ObjectLike(&map[string]any{
			"IndexName": ix.Name,
			"KeySchema": []any{
				map[string]any{"AttributeName": ix.Partition.Name, "KeyType": "HASH"},
				map[string]any{"AttributeName": ix.Sort.Name, "KeyType": "RANGE"},
			},
			// Keys only: state updates, which never change the keys, write
			// nothing to the index (DESIGN §3, the account index).
			"Projection": map[string]any{"ProjectionType": "KEYS_ONLY"},
		})},
		"TimeToLiveSpecification": assertions.Match_Absent(),
	})
}

// TestEveryReplicaHasPITRAndDeletionProtection, secondary included.
func TestEveryReplicaHasPITRAndDeletionProtection(t *testing.T) {
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			hasResource(t, dataTemplate(), "AWS::DynamoDB::GlobalTable", map[string]any{
				"Replicas": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"Region":                           region,
					"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
					"DeletionProtectionEnabled":        true,
				})}),
			})
		})
	}
}

func TestOrdersTableIsRetained(t *testing.T) {
	check(t, "RETAIN policies", func() {
		dataTemplate().HasResource(strp("AWS::DynamoDB::GlobalTable"), map[string]any{
			"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
		})
	})
}

func TestOrdersTableOnDemandByDefault(t *testing.T) {
	hasResource(t, dataTemplate(), "AWS::DynamoDB::GlobalTable", map[string]any{
		"BillingMode":                        "PAY_PER_REQUEST",
		"WriteProvisionedThroughputSettings": assertions.Match_Absent(),
	})
}

func TestOrdersTableProvisionedAutoScales(t *testing.T) {
	c := nondefault.cfg
	hasResource(t, nondefault.data, "AWS::DynamoDB::GlobalTable", map[string]any{
		"BillingMode": "PROVISIONED",
		"WriteProvisionedThroughputSettings": map[string]any{"WriteCapacityAutoScalingSettings": assertions.Match_ObjectLike(&map[string]any{
			"MinCapacity": c.WriteCapacity.Min, "MaxCapacity": c.WriteCapacity.Max,
		})},
		"Replicas": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Region": c.SecondaryRegion,
			"ReadProvisionedThroughputSettings": map[string]any{"ReadCapacityAutoScalingSettings": assertions.Match_ObjectLike(&map[string]any{
				"MinCapacity": c.ReadCapacity.Min, "MaxCapacity": c.ReadCapacity.Max,
			})},
		})}),
	})
}
