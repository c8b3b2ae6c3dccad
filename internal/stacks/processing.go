package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/tap-trading/tap/contract"
	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/infra"
)

// Processing is a Tap-<env>-Processing-<region> stack.
type Processing struct {
	awscdk.Stack
	*infra.Processing
	// SchemaRegistry publishes the event contract in this region too, so
	// producers keep their code bindings' source when the other is lost.
	SchemaRegistry *infra.SchemaRegistry
}

// NewProcessing creates the processing stack of region; spec is
// deployspec.For(cfg), and assetDir holds the prebuilt processor bootstrap.
func NewProcessing(scope constructs.Construct, cfg config.Config, spec deployspec.Spec, region, assetDir string) *Processing {
	n := spec.Names
	s := newStack(scope, n.ProcessingStack(region), region,
		"TAP "+cfg.Env+": processing path in "+region+" (bus, rule, processor, DLQs, heartbeat, alarms)", cfg)

	p := infra.NewProcessing(s, "Processing", infra.ProcessingProps{
		Spec:                 spec,
		Region:               region,
		AlertEmail:           cfg.AlertEmail,
		AssetDir:             assetDir,
		ArchiveRetentionDays: cfg.ArchiveRetentionDays,
		// What decides cost and diagnostics, not behaviour the twin
		// rehearses; the function's timeout and retries come from spec.
		Processor: infra.ProcessorProps{
			LogLevel:            cfg.LogLevel,
			MemoryMB:            cfg.ProcessorMemoryMB,
			ReservedConcurrency: cfg.ProcessorReservedConcurrency,
			LogRetentionDays:    cfg.LogRetentionDays,
		},
	})

	reg := infra.NewSchemaRegistry(s, "SchemaRegistry", infra.SchemaRegistryProps{Names: n, Schemas: contract.Schemas()})

	output(s, "BusName", p.Bus.Bus.EventBusName(), "Trading event bus name")
	output(s, "BusArn", p.Bus.Bus.EventBusArn(), "Trading event bus ARN")
	output(s, "DeliveryDlqUrl", p.DeliveryDLQ.QueueUrl(), "Queue of events EventBridge could not deliver")
	output(s, "ProcessingDlqUrl", p.ProcessingDLQ.QueueUrl(), "Queue of events the processor failed or rejected")
	output(s, "ProcessorName", p.Processor.Function.FunctionName(), "Processor Lambda function name")
	output(s, "AlertTopicArn", p.Alerts.Topic.TopicArn(), "SNS topic every alarm notifies")
	output(s, "DashboardName", p.Dashboard.DashboardName(), "CloudWatch dashboard of this region")
	output(s, "SchemaRegistryName", reg.Registry.AttrRegistryName(), "Schema registry of the event contract, for producers' code bindings")
	return &Processing{Stack: s, Processing: p, SchemaRegistry: reg}
}
