package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/schema"
	// The processor owns its environment contract (DESIGN §4); the stack
	// sets exactly the variables it reads.
	"github.com/tap-trading/tap/internal/processor"
)

// ProcessorProps configure the processor Lambda.
type ProcessorProps struct {
	// Function is the function's name (the same in each region), timeout
	// and async invoke config (retries and maximum event age; zero retries
	// is a valid setting). Required: deployspec.For(cfg).Function.
	Function deployspec.Function
	// AssetDir holds the prebuilt `bootstrap` binary (see package bundle). Required.
	AssetDir string
	// TableName is the orders table, passed as TABLE_NAME. Required.
	TableName string
	// TableArn is this region's replica; the only table the role may write. Required.
	TableArn *string
	// TableConsistency is the table's multi-Region consistency, passed as
	// TABLE_CONSISTENCY so the store knows what it may rely on. Default
	// schema.Eventual.
	TableConsistency schema.Consistency
	// ProcessingDLQ receives events the function fails or refuses. Required.
	ProcessingDLQ awssqs.IQueue
	// ServiceName and MetricsNamespace label logs and EMF metrics. Required.
	ServiceName, MetricsNamespace string
	// LogLevel is POWERTOOLS_LOG_LEVEL (DEBUG, INFO, WARN or ERROR), and
	// Lambda's application log level up to INFO (see lambdaApplicationLevel).
	// Default "INFO".
	LogLevel string
	// SystemLogLevel is the level of Lambda's own log lines (DEBUG, INFO or
	// WARN). Default "WARN": the START, END and REPORT lines of every
	// invocation (INFO) are not shipped — about 250 bytes an invocation, as
	// much again as the processor's own — while Lambda's Duration, Errors
	// and Throttles metrics carry the same figures.
	SystemLogLevel string
	// MemoryMB is the memory size. Default 1769, one vCPU (see config.Defaults).
	MemoryMB int
	// ReservedConcurrency caps concurrent executions. Default 0: unreserved.
	ReservedConcurrency int
	// LogRetentionDays of the function's log group (a CloudWatch Logs period). Default 30.
	LogRetentionDays int
}

// Processor is the function with its role, log group and async invoke config.
type Processor struct {
	constructs.Construct
	Function     awslambda.Function
	Role         awsiam.Role
	LogGroup     awslogs.LogGroup
	InvokeConfig awslambda.EventInvokeConfig
}

// NewProcessor creates the provided.al2023 arm64 function from the bootstrap
// asset, with active tracing, its own log group, a least-privilege inline role
// and an async invoke config whose on-failure destination is the processing DLQ.
func NewProcessor(scope constructs.Construct, id string, p ProcessorProps) *Processor {
	p = p.withDefaults()
	if p.Function.Name == "" || p.Function.Timeout <= 0 || p.Function.AsyncMaxEventAge <= 0 {
		panic(fmt.Sprintf("infra: ProcessorProps.Function %+v is incomplete; pass deployspec.For(cfg).Function", p.Function))
	}
	c := constructs.NewConstruct(scope, jsii.String(id))

	logGroup := awslogs.NewLogGroup(c, jsii.String("LogGroup"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/lambda/" + p.Function.Name),
		Retention:     retentionDays(p.LogRetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})

	// An explicit role: the default one would attach the managed
	// AWSLambdaBasicExecutionRole, which may write to any log group.
	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Runs " + p.Function.Name + ": writes this region's orders table replica and its processing DLQ"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("OrdersTableThisRegion"),
		Actions:   jsii.Strings("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"),
		Resources: &[]*string{p.TableArn},
	}))
	logGroup.GrantWrite(role)

	fn := awslambda.NewFunction(c, jsii.String("Function"), &awslambda.FunctionProps{
		FunctionName: jsii.String(p.Function.Name),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(p.AssetDir), nil),
		MemorySize:   jsii.Number(p.MemoryMB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(p.Function.Timeout.Seconds())),
		Tracing:      awslambda.Tracing_ACTIVE,
		Role:         role,
		LogGroup:     logGroup,
		// JSON format is what makes the log levels settable: the processor
		// already writes one JSON object a line with a level key, which
		// Lambda ships unchanged and filters on.
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel(lambdaApplicationLevel(p.LogLevel)),
		SystemLogLevelV2:      awslambda.SystemLogLevel(p.SystemLogLevel),
		Environment: &map[string]*string{
			processor.EnvTableName:        jsii.String(p.TableName),
			processor.EnvProcessingDLQURL: p.ProcessingDLQ.QueueUrl(),
			processor.EnvServiceName:      jsii.String(p.ServiceName),
			processor.EnvMetricsNamespace: jsii.String(p.MetricsNamespace),
			processor.EnvLogLevel:         jsii.String(p.LogLevel),
			processor.EnvTableConsistency: jsii.String(string(p.TableConsistency)),
		},
		ReservedConcurrentExecutions: optionalNumber(p.ReservedConcurrency),
	})

	// EventBridge invokes asynchronously, so function errors never reach the
	// rule's DLQ: this config is what keeps a failed event from vanishing.
	invoke := awslambda.NewEventInvokeConfig(c, jsii.String("AsyncInvoke"), &awslambda.EventInvokeConfigProps{
		Function:      fn,
		RetryAttempts: jsii.Number(p.Function.AsyncRetryAttempts),
		MaxEventAge:   awscdk.Duration_Seconds(jsii.Number(p.Function.AsyncMaxEventAge.Seconds())),
		OnFailure:     awslambdadestinations.NewSqsDestination(p.ProcessingDLQ),
	})

	suppress(role,
		suppression{
			rule:      "AwsSolutions-IAM5",
			reason:    "X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permissions; AWS requires Resource '*' for them.",
			appliesTo: []string{"Resource::*"},
		},
	)
	return &Processor{Construct: c, Function: fn, Role: role, LogGroup: logGroup, InvokeConfig: invoke}
}

func (p ProcessorProps) withDefaults() ProcessorProps {
	if p.LogLevel == "" {
		p.LogLevel = "INFO"
	}
	if p.SystemLogLevel == "" {
		p.SystemLogLevel = "WARN"
	}
	if p.MemoryMB == 0 {
		p.MemoryMB = 1769
	}
	if p.LogRetentionDays == 0 {
		p.LogRetentionDays = 30
	}
	if p.TableConsistency == "" {
		p.TableConsistency = schema.Eventual
	}
	return p
}

// lambdaApplicationLevel is the application log level Lambda filters at
// for the processor's LogLevel. Lambda treats a line without a "level" key
// as INFO, and the EMF documents have none: a WARN or ERROR level there
// would drop every metric. So Lambda filters at INFO at most; the processor
// itself drops its own lines below LogLevel (POWERTOOLS_LOG_LEVEL).
func lambdaApplicationLevel(logLevel string) string {
	if logLevel == "DEBUG" {
		return "DEBUG"
	}
	return "INFO"
}

// logicalRef is the stack-local logical ID of a construct's CloudFormation
// resource, as cdk-nag spells it in IAM5 findings.
func logicalRef(c constructs.IConstruct) string {
	child := c.Node().DefaultChild().(awscdk.CfnElement)
	return *awscdk.Stack_Of(c).GetLogicalId(child)
}

// retentionDays maps a validated number of days to the CDK enum.
func retentionDays(days int) awslogs.RetentionDays {
	m := map[int]awslogs.RetentionDays{
		1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
		7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
		60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
		150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
		400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
		1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
		2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
		3653: awslogs.RetentionDays_TEN_YEARS,
	}
	r, ok := m[days]
	if !ok {
		panic(fmt.Sprintf("infra: %d is not a CloudWatch Logs retention period (config validates this)", days))
	}
	return r
}
