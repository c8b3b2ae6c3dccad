package stacks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/tap-trading/tap/internal/infra"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/schema"
)

// ids are the logical IDs of one processing stack's main resources.
type ids struct {
	bus, fn, deliveryDLQ, processingDLQ, topic, key, logGroup, role string
}

func processingIDs(t *testing.T, tp assertions.Template) ids {
	t.Helper()
	n := cfg.Names()
	props := func(p map[string]any) map[string]any { return map[string]any{"Properties": p} }
	return ids{
		bus:           logicalID(t, tp, "AWS::Events::EventBus", props(map[string]any{"Name": n.Bus()})),
		fn:            logicalID(t, tp, "AWS::Lambda::Function", props(map[string]any{"FunctionName": n.Processor()})),
		deliveryDLQ:   logicalID(t, tp, "AWS::SQS::Queue", props(map[string]any{"QueueName": n.DeliveryDLQ()})),
		processingDLQ: logicalID(t, tp, "AWS::SQS::Queue", props(map[string]any{"QueueName": n.ProcessingDLQ()})),
		topic:         logicalID(t, tp, "AWS::SNS::Topic", props(map[string]any{"TopicName": n.AlertTopic()})),
		key:           logicalID(t, tp, "AWS::KMS::Key", nil),
		logGroup:      logicalID(t, tp, "AWS::Logs::LogGroup", props(map[string]any{"LogGroupName": "/aws/lambda/" + n.Processor()})),
		role: logicalID(t, tp, "AWS::IAM::Role", props(map[string]any{"AssumeRolePolicyDocument": assertions.Match_ObjectLike(&map[string]any{
			"Statement": []any{assertions.Match_ObjectLike(&map[string]any{"Principal": map[string]any{"Service": "lambda.amazonaws.com"}})},
		})})),
	}
}

// TestProcessingStackPerRegion: both regions get the same bus name, a rule,
// a processor and both DLQs (found by their deterministic names).
func TestProcessingStackPerRegion(t *testing.T) {
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			tp := processingTemplate(region)
			if tp == nil {
				t.Fatalf("no template for stack %s", cfg.Names().ProcessingStack(region))
			}
			processingIDs(t, tp) // fails unless each named resource exists exactly once
			check(t, "one rule", func() { tp.ResourceCountIs(strp("AWS::Events::Rule"), num(1)) })
			check(t, "two queues", func() { tp.ResourceCountIs(strp("AWS::SQS::Queue"), num(2)) })
		})
	}
}

func TestBusPolicyAdmitsOwnAccountOnly(t *testing.T) {
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			tp := processingTemplate(region)
			id := processingIDs(t, tp)
			policies := resources(t, tp, "AWS::Events::EventBusPolicy")
			if len(policies) != 1 {
				t.Fatalf("found %d bus policies, want 1", len(policies))
			}
			hasResource(t, tp, "AWS::Events::EventBusPolicy", map[string]any{
				"EventBusName": ref(id.bus),
				"Statement": map[string]any{
					"Effect":    "Allow",
					"Action":    "events:PutEvents",
					"Principal": map[string]any{"AWS": map[string]any{"Fn::Join": []any{"", []any{"arn:aws:iam::", ref("AWS::AccountId"), ":root"}}}},
					"Resource":  arnOf(id.bus),
					"Sid":       assertions.Match_AnyValue(),
				},
			})
		})
	}
}

func TestArchiveKeepsEventsForReplay(t *testing.T) {
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			tp := processingTemplate(region)
			hasResource(t, tp, "AWS::Events::Archive", map[string]any{
				"ArchiveName":   cfg.Names().Archive(),
				"SourceArn":     arnOf(processingIDs(t, tp).bus),
				"RetentionDays": cfg.ArchiveRetentionDays,
				"EventPattern":  map[string]any{"source": []any{schema.Source}},
			})
		})
	}
}

func TestRuleTargetsProcessorWithRetryPolicyAndDeliveryDLQ(t *testing.T) {
	pattern := map[string]any{}
	for k, v := range schema.ProcessorPattern() {
		pattern[k] = v
	}
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			tp := processingTemplate(region)
			id := processingIDs(t, tp)
			hasResource(t, tp, "AWS::Events::Rule", map[string]any{
				"Name":         cfg.Names().ProcessorRule(),
				"EventBusName": ref(id.bus),
				"EventPattern": assertions.Match_Exact(pattern),
				"Targets": []any{assertions.Match_ObjectLike(&map[string]any{
					"Arn":              arnOf(id.fn),
					"DeadLetterConfig": map[string]any{"Arn": arnOf(id.deliveryDLQ)},
					"RetryPolicy": map[string]any{
						"MaximumRetryAttempts":     cfg.TargetRetryAttempts,
						"MaximumEventAgeInSeconds": cfg.TargetMaxEventAge.Seconds(),
					},
				})},
			})
		})
	}
}

func TestProcessorFunction(t *testing.T) {
	n := cfg.Names()
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			tp := processingTemplate(region)
			id := processingIDs(t, tp)
			hasResource(t, tp, "AWS::Lambda::Function", map[string]any{
				"FunctionName":  n.Processor(),
				"Runtime":       "provided.al2023",
				"Architectures": []any{"arm64"},
				"Handler":       "bootstrap",
				"TracingConfig": map[string]any{"Mode": "Active"},
				"MemorySize":    cfg.ProcessorMemoryMB,
				"Timeout":       cfg.ProcessorTimeout.Seconds(),
				"Role":          arnOf(id.role),
				"LoggingConfig": map[string]any{"LogGroup": ref(id.logGroup)},
				"Environment": map[string]any{"Variables": assertions.Match_Exact(map[string]any{
					processor.EnvTableName:        n.Table(),
					processor.EnvProcessingDLQURL: ref(id.processingDLQ),
					processor.EnvServiceName:      n.ServiceName(),
					processor.EnvMetricsNamespace: n.MetricsNamespace(),
					processor.EnvLogLevel:         cfg.LogLevel,
					processor.EnvTableConsistency: string(schema.Eventual),
				})},
				// Unreserved unless configured (see TestReservedConcurrencyFromConfig).
				"ReservedConcurrentExecutions": assertions.Match_Absent(),
			})
		})
	}
}

// TestProcessorKnowsTableConsistency: under strong consistency the function
// in each region is told so (TABLE_CONSISTENCY), whichever form the table has.
func TestProcessorKnowsTableConsistency(t *testing.T) {
	for _, a := range []struct {
		name string
		app  app
	}{{"strong (witness)", strong}, {"nondefault (three replicas)", nondefault}} {
		for _, region := range a.app.cfg.Regions() {
			t.Run(a.name+"/"+region, func(t *testing.T) {
				hasResource(t, a.app.tpl[a.app.cfg.Names().ProcessingStack(region)], "AWS::Lambda::Function", map[string]any{
					"FunctionName": a.app.cfg.Names().Processor(),
					"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
						processor.EnvTableConsistency: string(schema.Strong),
					})},
				})
			})
		}
	}
}

func TestReservedConcurrencyFromConfig(t *testing.T) {
	hasResource(t, nondefault.proc, "AWS::Lambda::Function", map[string]any{
		"ReservedConcurrentExecutions": nondefault.cfg.ProcessorReservedConcurrency,
	})
}

func TestProcessorLogGroupHasRetention(t *testing.T) {
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			hasResource(t, processingTemplate(region), "AWS::Logs::LogGroup", map[string]any{
				"LogGroupName":    "/aws/lambda/" + cfg.Names().Processor(),
				"RetentionInDays": cfg.LogRetentionDays,
			})
		})
	}
}

// TestDLQsEncryptedTLSOnly: both queues in both regions keep messages as configured (14 days by default),
// are encrypted at rest and refuse non-TLS requests.
func TestDLQsEncryptedTLSOnly(t *testing.T) {
	for _, region := range cfg.Regions() {
		tp := processingTemplate(region)
		id := processingIDs(t, tp)
		for name, queue := range map[string]string{"delivery": id.deliveryDLQ, "processing": id.processingDLQ} {
			t.Run(region+"/"+name, func(t *testing.T) {
				hasResource(t, tp, "AWS::SQS::Queue", map[string]any{
					"QueueName":              assertions.Match_AnyValue(),
					"SqsManagedSseEnabled":   true,
					"MessageRetentionPeriod": cfg.DLQRetention.Seconds(),
				})
				hasResource(t, tp, "AWS::SQS::QueuePolicy", map[string]any{
					"Queues": []any{ref(queue)},
					"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{map[string]any{
						"Effect":    "Deny",
						"Action":    "sqs:*",
						"Principal": map[string]any{"AWS": "*"},
						"Resource":  arnOf(queue),
						"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
					}})},
				})
			})
		}
	}
}

func TestInvokeConfigOnFailureIsProcessingDLQ(t *testing.T) {
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			tp := processingTemplate(region)
			id := processingIDs(t, tp)
			hasResource(t, tp, "AWS::Lambda::EventInvokeConfig", map[string]any{
				"FunctionName":             ref(id.fn),
				"MaximumRetryAttempts":     cfg.AsyncRetryAttempts,
				"MaximumEventAgeInSeconds": cfg.AsyncMaxEventAge.Seconds(),
				"DestinationConfig": assertions.Match_Exact(map[string]any{
					"OnFailure": map[string]any{"Destination": arnOf(id.processingDLQ)},
				}),
			})
		})
	}
}

func TestHeartbeatPublishesContractEventToOwnBus(t *testing.T) {
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			tp := processingTemplate(region)
			id := processingIDs(t, tp)
			hasResource(t, tp, "AWS::Scheduler::Schedule", map[string]any{
				"Name":               cfg.Names().HeartbeatSchedule(),
				"ScheduleExpression": "rate(1 minute)",
				"Target": assertions.Match_ObjectLike(&map[string]any{
					"Arn": arnOf(id.bus),
					"EventBridgeParameters": map[string]any{
						"Source": schema.Source, "DetailType": schema.DetailTypeHeartbeat,
					},
				}),
			})
			for _, s := range resources(t, tp, "AWS::Scheduler::Schedule") {
				input := s["Properties"].(map[string]any)["Target"].(map[string]any)["Input"].(string)
				var detail map[string]string
				if err := json.Unmarshal([]byte(input), &detail); err != nil {
					t.Fatalf("heartbeat Input %q is not JSON: %v", input, err)
				}
				want := map[string]string{"region": region, "sentAt": infra.ScheduledTimePlaceholder}
				if detail["region"] != want["region"] || detail["sentAt"] != want["sentAt"] || len(detail) != 2 {
					t.Errorf("heartbeat detail = %v, want %v", detail, want)
				}
				// Scheduler replaces the placeholder textually: it must not be escaped.
				if !strings.Contains(input, infra.ScheduledTimePlaceholder) {
					t.Errorf("heartbeat Input %q does not hold %s verbatim", input, infra.ScheduledTimePlaceholder)
				}
			}
		})
	}
}

func TestAlertTopicEncryptedTLSOnlyWithEmail(t *testing.T) {
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			tp := processingTemplate(region)
			id := processingIDs(t, tp)
			hasResource(t, tp, "AWS::SNS::Topic", map[string]any{"KmsMasterKeyId": arnOf(id.key)})
			hasResource(t, tp, "AWS::KMS::Key", map[string]any{"EnableKeyRotation": true})
			hasResource(t, tp, "AWS::SNS::TopicPolicy", map[string]any{
				"Topics": []any{ref(id.topic)},
				"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"Effect":    "Deny",
					"Action":    "sns:Publish",
					"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
				})})},
			})
			hasResource(t, tp, "AWS::SNS::Subscription", map[string]any{
				"Protocol": "email", "Endpoint": cfg.AlertEmail, "TopicArn": ref(id.topic),
			})
		})
	}
}
