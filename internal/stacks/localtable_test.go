package stacks

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/store"
)

// TestLocalTableMatchesGlobalTable: `tapctl local` and every moto-backed test
// create the table with store.CreateTableInput; the deployed table must have
// the same keys, attribute types and indexes, or the local pipeline would
// prove nothing about the deployed one.
func TestLocalTableMatchesGlobalTable(t *testing.T) {
	local := store.CreateTableInput(cfg.Names().Table())
	keys := func(ks []types.KeySchemaElement) []any {
		out := make([]any, 0, len(ks))
		for _, k := range ks {
			out = append(out, map[string]any{"AttributeName": aws.ToString(k.AttributeName), "KeyType": string(k.KeyType)})
		}
		return out
	}
	var defs []any
	for _, d := range local.AttributeDefinitions {
		defs = append(defs, map[string]any{"AttributeName": aws.ToString(d.AttributeName), "AttributeType": string(d.AttributeType)})
	}
	var gsis []any
	for _, g := range local.GlobalSecondaryIndexes {
		gsis = append(gsis, assertions.Match_ObjectLike(&map[string]any{
			"IndexName":  aws.ToString(g.IndexName),
			"KeySchema":  keys(g.KeySchema),
			"Projection": map[string]any{"ProjectionType": string(g.Projection.ProjectionType)},
		}))
	}
	hasResource(t, dataTemplate(), "AWS::DynamoDB::GlobalTable", map[string]any{
		"TableName":              aws.ToString(local.TableName),
		"KeySchema":              keys(local.KeySchema),
		"AttributeDefinitions":   assertions.Match_ArrayWith(&defs),
		"GlobalSecondaryIndexes": gsis,
	})
	// ArrayWith above allows extra definitions in the template; equal counts
	// make the sets equal.
	for id, r := range resources(t, dataTemplate(), "AWS::DynamoDB::GlobalTable") {
		props, _ := r["Properties"].(map[string]any)
		got, _ := props["AttributeDefinitions"].([]any)
		if want := len(defs); len(got) != want {
			t.Errorf("%s: %d attribute definitions, the local table has %d", id, len(got), want)
		}
	}
}
