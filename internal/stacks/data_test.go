package stacks

import (
	"slices"
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

// TestStrongTableHasAWitness: the strong app's table (default regions) is
// MRSC with the witness TAP defaults to, us-east-2, and no stream; the logical
// ID stays pinned.
func TestStrongTableHasAWitness(t *testing.T) {
	tables := resources(t, strong.data, "AWS::DynamoDB::GlobalTable")
	if _, ok := tables[infra.OrdersTableLogicalID]; !ok || len(tables) != 1 {
		t.Errorf("strong app has %d global tables, want one with logical ID %q", len(tables), infra.OrdersTableLogicalID)
	}
	hasResource(t, strong.data, "AWS::DynamoDB::GlobalTable", map[string]any{
		"TableName":              strong.cfg.Names().Table(),
		"MultiRegionConsistency": "STRONG",
		"GlobalTableWitnesses":   assertions.Match_Exact([]any{map[string]any{"Region": "us-east-2"}}),
		// MRSC does not replicate through Streams, and TAP reads none.
		"StreamSpecification": assertions.Match_Absent(),
		// What MRSC refuses: TTL and LSIs (V2globaltables_HowItWorks.html).
		"TimeToLiveSpecification": assertions.Match_Absent(),
		"LocalSecondaryIndexes":   assertions.Match_Absent(),
	})
	assertReplicas(t, strong.data, "us-east-1", "us-west-2")
}

// TestNondefaultStrongTableHasThreeReplicas: three full replicas, each
// restorable, protected and provisioned, and no witness.
func TestNondefaultStrongTableHasThreeReplicas(t *testing.T) {
	c := nondefault.cfg
	hasResource(t, nondefault.data, "AWS::DynamoDB::GlobalTable", map[string]any{
		"MultiRegionConsistency": "STRONG",
		"GlobalTableWitnesses":   assertions.Match_Absent(),
		"StreamSpecification":    assertions.Match_Absent(),
		"BillingMode":            "PROVISIONED",
	})
	for _, region := range []string{c.PrimaryRegion, c.SecondaryRegion, c.MRSCThirdRegion} {
		hasResource(t, nondefault.data, "AWS::DynamoDB::GlobalTable", map[string]any{
			"Replicas": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Region":                            region,
				"ReadProvisionedThroughputSettings": assertions.Match_AnyValue(),
			})}),
		})
	}
	assertReplicas(t, nondefault.data, c.PrimaryRegion, c.SecondaryRegion, c.MRSCThirdRegion)
}

// assertReplicas: the table has a replica in exactly regions, each with PITR
// and deletion protection.
func assertReplicas(t *testing.T, tp assertions.Template, regions ...string) {
	t.Helper()
	var got []string
	for _, r := range resources(t, tp, "AWS::DynamoDB::GlobalTable") {
		for _, rep := range r["Properties"].(map[string]any)["Replicas"].([]any) {
			rep := rep.(map[string]any)
			got = append(got, rep["Region"].(string))
			if pitr, _ := rep["PointInTimeRecoverySpecification"].(map[string]any); pitr["PointInTimeRecoveryEnabled"] != true || rep["DeletionProtectionEnabled"] != true {
				t.Errorf("replica %s: PITR %v, deletion protection %v; want both on", rep["Region"], rep["PointInTimeRecoverySpecification"], rep["DeletionProtectionEnabled"])
			}
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(regions))) {
		t.Errorf("replicas in %v, want exactly %v", got, regions)
	}
}
