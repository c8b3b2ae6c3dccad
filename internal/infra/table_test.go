package infra

import (
	"slices"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/deployspec"
)

// tableTemplate synthesizes the orders table alone, in a stack in the
// primary region, from the spec of the configuration ctx sets, with the
// replica regions the data stack passes.
func tableTemplate(t *testing.T, ctx map[string]any) (deployspec.Spec, assertions.Template) {
	t.Helper()
	cfg, err := config.Load(ctx, map[string]string{config.EnvAlertEmail: "ops@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	spec := deployspec.For(cfg)
	props := OrdersTableProps{Table: spec.Table, ReplicaRegions: spec.TableReplicas()[1:]}
	if cfg.BillingMode == config.Provisioned {
		props.Provisioned = &ProvisionedCapacity{ReadMin: 2, ReadMax: 20, WriteMin: 3, WriteMax: 30}
	}
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Data"), &awscdk.StackProps{
		Env: &awscdk.Environment{Region: jsii.String(spec.Primary), Account: jsii.String("111111111111")},
	})
	NewOrdersTable(stack, "Orders", props)
	return spec, assertions.Template_FromStack(stack, nil)
}

// has asserts that the template's one global table matches props; a CDK
// assertion reports a mismatch by panicking.
func has(t *testing.T, tpl assertions.Template, props map[string]any) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Error(r)
		}
	}()
	tpl.ResourceCountIs(jsii.String("AWS::DynamoDB::GlobalTable"), jsii.Number(1))
	tpl.HasResourceProperties(jsii.String("AWS::DynamoDB::GlobalTable"), props)
}

// hasReplicas asserts that the table has exactly the replicas of regions,
// each restorable (PITR) and protected from deletion.
func hasReplicas(t *testing.T, tpl assertions.Template, regions ...string) {
	t.Helper()
	for _, r := range regions {
		has(t, tpl, map[string]any{"Replicas": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Region":                           r,
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"DeletionProtectionEnabled":        true,
		})})})
	}
	var got []string
	for _, res := range *tpl.FindResources(jsii.String("AWS::DynamoDB::GlobalTable"), nil) {
		for _, rep := range (*res)["Properties"].(map[string]any)["Replicas"].([]any) {
			got = append(got, rep.(map[string]any)["Region"].(string))
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(regions))) {
		t.Errorf("replicas in %v, want exactly %v", got, regions)
	}
}

// TestEventualTableIsUnchanged: the MREC table keeps its stream and gains no
// MultiRegionConsistency, so an existing environment's template (and table)
// does not change.
func TestEventualTableIsUnchanged(t *testing.T) {
	_, tpl := tableTemplate(t, nil)
	has(t, tpl, map[string]any{
		"StreamSpecification":    map[string]any{"StreamViewType": "NEW_AND_OLD_IMAGES"},
		"MultiRegionConsistency": assertions.Match_Absent(),
		"GlobalTableWitnesses":   assertions.Match_Absent(),
	})
	hasReplicas(t, tpl, "us-east-1", "us-west-2")
}

// TestStrongTable: an MRSC table in both forms AWS offers, with none of what
// MRSC refuses (TTL, LSIs) and no stream.
func TestStrongTable(t *testing.T) {
	tests := []struct {
		name      string
		ctx       map[string]any
		witnesses any
		replicas  []string
	}{
		{"two replicas and a witness",
			map[string]any{config.KeyTableConsistency: "strong"},
			[]any{map[string]any{"Region": "us-east-2"}}, []string{"us-east-1", "us-west-2"}},
		{"three replicas",
			map[string]any{config.KeyTableConsistency: "strong", config.KeyMRSCThirdRegionRole: "replica"},
			assertions.Match_Absent(), []string{"us-east-1", "us-west-2", "us-east-2"}},
		{"EU, witness given, provisioned",
			map[string]any{
				config.KeyTableConsistency: "strong", config.KeyPrimaryRegion: "eu-west-1", config.KeySecondaryRegion: "eu-central-1",
				config.KeyMRSCThirdRegion: "eu-west-3", config.KeyBillingMode: "provisioned",
			},
			[]any{map[string]any{"Region": "eu-west-3"}}, []string{"eu-west-1", "eu-central-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, tpl := tableTemplate(t, tt.ctx)
			has(t, tpl, map[string]any{
				"MultiRegionConsistency":  "STRONG",
				"GlobalTableWitnesses":    tt.witnesses,
				"StreamSpecification":     assertions.Match_Absent(),
				"TimeToLiveSpecification": assertions.Match_Absent(),
				"LocalSecondaryIndexes":   assertions.Match_Absent(),
			})
			hasReplicas(t, tpl, tt.replicas...)
		})
	}
}

// TestStrongTableNeedsThreeRegions: a stack that passes replica regions
// that do not fit the spec's witness or third replica stops at synthesis.
func TestStrongTableNeedsThreeRegions(t *testing.T) {
	cfg, err := config.Load(map[string]any{config.KeyTableConsistency: "strong"}, map[string]string{config.EnvAlertEmail: "ops@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	witness := deployspec.For(cfg).Table
	third := witness
	third.ThirdRegionRole = config.ThirdReplica
	for _, tc := range []struct {
		name     string
		table    deployspec.Table
		replicas []string
	}{
		{"witness and a third replica", witness, []string{"us-west-2", "us-east-2"}},
		{"witness and no replica", witness, nil},
		{"third replica missing", third, []string{"us-west-2"}},
		{"third replica elsewhere", third, []string{"us-west-2", "us-east-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("checkMRSCShape(%+v, %v) did not panic", tc.table, tc.replicas)
				}
			}()
			checkMRSCShape(tc.table, tc.replicas)
		})
	}
}
