package stacks

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/infra"
	"github.com/tap-trading/tap/internal/schema"
)

// Data is the Tap-<env>-Data stack (primary region): the orders global table.
type Data struct {
	awscdk.Stack
	Table awsdynamodb.TableV2
}

// NewData creates the data stack. spec is deployspec.For(cfg).
func NewData(scope constructs.Construct, cfg config.Config, spec deployspec.Spec) *Data {
	n := spec.Names
	replicas := strings.Join(spec.TableReplicas(), " + ")
	// An eventual table keeps the description it was first deployed with.
	what := "orders global table (" + replicas + ")"
	if spec.Table.Consistency == schema.Strong {
		if w := spec.Table.Witness(); w != "" {
			replicas += ", witness " + w
		}
		what = "orders global table, strong consistency (" + replicas + ")"
	}
	s := newStack(scope, n.DataStack(), spec.Primary, "TAP "+cfg.Env+": "+what, cfg)

	props := infra.OrdersTableProps{
		Table: spec.Table,
		// The stack's region is the primary replica; the others follow.
		ReplicaRegions: spec.TableReplicas()[1:],
	}
	if cfg.BillingMode == config.Provisioned {
		props.Provisioned = &infra.ProvisionedCapacity{
			ReadMin: cfg.ReadCapacity.Min, ReadMax: cfg.ReadCapacity.Max,
			WriteMin: cfg.WriteCapacity.Min, WriteMax: cfg.WriteCapacity.Max,
		}
	}
	table := infra.NewOrdersTable(s, "Orders", props)

	output(s, "TableName", table.TableName(), "Orders table name (the same in both regions)")
	output(s, "TableArn", table.TableArn(), "Orders table ARN in the primary region")
	return &Data{Stack: s, Table: table}
}
