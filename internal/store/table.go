package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/schema"
)

// TableCreator is the part of *dynamodb.Client CreateTable uses.
type TableCreator interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	dynamodb.DescribeTableAPIClient
}

// CreateTable creates the orders table named table from schema.Orders(),
// on-demand, and waits until it is active. It is the one local definition of
// the table (tests, `tapctl local`); the CDK stack builds the deployed one from
// the same schema.
func CreateTable(ctx context.Context, client TableCreator, table string) error {
	if _, err := client.CreateTable(ctx, CreateTableInput(table)); err != nil {
		return fmt.Errorf("store: create table %s: %w", table, err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &table}, 2*time.Minute); err != nil {
		return fmt.Errorf("store: wait for table %s: %w", table, err)
	}
	return nil
}

// CreateTableInput is the CreateTable request for the orders table: keys,
// indexes and their projections from schema.Orders(),
// pay-per-request billing.
func CreateTableInput(table string) *dynamodb.CreateTableInput {
	t := schema.Orders()
	seen := map[string]bool{}
	var defs []types.AttributeDefinition
	define := func(k schema.Key) {
		if !seen[k.Name] {
			seen[k.Name] = true
			defs = append(defs, types.AttributeDefinition{
				AttributeName: strPtr(k.Name), AttributeType: types.ScalarAttributeType(k.Type),
			})
		}
	}
	keys := func(pk, sk schema.Key) []types.KeySchemaElement {
		define(pk)
		define(sk)
		return []types.KeySchemaElement{
			{AttributeName: strPtr(pk.Name), KeyType: types.KeyTypeHash},
			{AttributeName: strPtr(sk.Name), KeyType: types.KeyTypeRange},
		}
	}
	in := &dynamodb.CreateTableInput{
		TableName:   strPtr(table),
		KeySchema:   keys(t.Partition, t.Sort),
		BillingMode: types.BillingModePayPerRequest,
	}
	for _, ix := range t.Indexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  strPtr(ix.Name),
			KeySchema:  keys(ix.Partition, ix.Sort),
			Projection: &types.Projection{ProjectionType: types.ProjectionType(ix.Projection)},
		})
	}
	in.AttributeDefinitions = defs
	return in
}
