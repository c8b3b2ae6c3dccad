// Package local runs TAP's whole pipeline on one machine (DESIGN §8): the
// resources on the local AWS (moto), a local invoker that gives the real
// processor Lambda's asynchronous-invocation semantics, and the demo that
// streams generated order lifecycles through it and verifies invariants I1 and
// I2 against the table.
package local

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
)

// Resources are the names, URLs and ARNs of one local pipeline.
type Resources struct {
	// Endpoint is the local AWS endpoint every client talks to.
	Endpoint string `json:"endpoint"`
	Region   string `json:"region"`
	Env      string `json:"env"`
	Table    string `json:"table"`
	Bus      string `json:"bus"`
	BusARN   string `json:"busArn"`
	Rule     string `json:"rule"`
	// Inbox is the queue the rule targets in place of the Lambda function:
	// the local invoker polls it.
	InboxURL         string `json:"inboxUrl"`
	InboxARN         string `json:"inboxArn"`
	DeliveryDLQURL   string `json:"deliveryDlqUrl"`
	ProcessingDLQURL string `json:"processingDlqUrl"`
	// FunctionARN is the ARN the processor would have in AWS; it only
	// appears in the on-failure records the invoker writes.
	FunctionARN string `json:"functionArn"`
}

// InboxQueue is the name of the local inbox queue of env. It exists only in
// the local pipeline, where a queue stands in for Lambda's internal
// asynchronous-invocation queue.
func InboxQueue(n names.Names) string { return "tap-" + n.Env + "-local-inbox" }

// RuleTargetID is the ID of the rule's single target, as in the stack.
const RuleTargetID = "processor"

// Provision creates every resource of the local pipeline of env n in the
// local AWS that cfg points at: the table (store.CreateTable, from the same
// schema as the stack), the bus, the inbox queue, both dead-letter queues and
// the processor rule with schema.ProcessorPattern() targeting the inbox. It
// fails if any of them already exists, so two pipelines never share queues.
func Provision(ctx context.Context, cfg aws.Config, endpoint string, n names.Names) (Resources, error) {
	r := Resources{
		Endpoint: endpoint,
		Region:   cfg.Region,
		Env:      n.Env,
		Table:    n.Table(),
		Bus:      n.Bus(),
		Rule:     n.ProcessorRule(),
	}
	ddb := dynamodb.NewFromConfig(cfg)
	if err := store.CreateTable(ctx, ddb, r.Table); err != nil {
		return r, fmt.Errorf("local: %w", err)
	}

	q := sqs.NewFromConfig(cfg)
	var err error
	if r.InboxURL, r.InboxARN, err = createQueue(ctx, q, InboxQueue(n)); err != nil {
		return r, err
	}
	var deliveryARN string
	if r.DeliveryDLQURL, deliveryARN, err = createQueue(ctx, q, n.DeliveryDLQ()); err != nil {
		return r, err
	}
	if r.ProcessingDLQURL, _, err = createQueue(ctx, q, n.ProcessingDLQ()); err != nil {
		return r, err
	}

	eb := eventbridge.NewFromConfig(cfg)
	bus, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: &r.Bus})
	if err != nil {
		return r, fmt.Errorf("local: create bus %s: %w", r.Bus, err)
	}
	r.BusARN = aws.ToString(bus.EventBusArn)
	pattern, err := json.Marshal(schema.ProcessorPattern())
	if err != nil {
		return r, fmt.Errorf("local: event pattern: %w", err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name:         &r.Rule,
		EventBusName: &r.Bus,
		EventPattern: aws.String(string(pattern)),
		State:        ebtypes.RuleStateEnabled,
	}); err != nil {
		return r, fmt.Errorf("local: create rule %s: %w", r.Rule, err)
	}
	// The dead-letter config mirrors the stack's target; moto delivers to
	// SQS synchronously and never uses it.
	out, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule:         &r.Rule,
		EventBusName: &r.Bus,
		Targets: []ebtypes.Target{{
			Id:               aws.String(RuleTargetID),
			Arn:              &r.InboxARN,
			DeadLetterConfig: &ebtypes.DeadLetterConfig{Arn: &deliveryARN},
			InputTransformer: wholeEvent(),
		}},
	})
	if err != nil {
		return r, fmt.Errorf("local: target rule %s at the inbox: %w", r.Rule, err)
	}
	if out.FailedEntryCount > 0 {
		return r, fmt.Errorf("local: target rule %s at the inbox: %s", r.Rule, aws.ToString(out.FailedEntries[0].ErrorMessage))
	}
	r.FunctionARN = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", r.Region, accountOf(r.BusARN), n.Processor())
	return r, nil
}

// wholeEvent is an input transformer that delivers the event unchanged, as
// the stack's target (which has none) does. It exists for speed: without a
// transformer moto 5.2 evaluates eight JSONPath expressions per delivered
// event, building a parser for each (~15 ms apiece), which caps the local
// pipeline near 8 events/s; this template costs one. The predefined
// <aws.events.event.json> is the whole event in AWS as in moto (moto adds its
// internal "ingestion-time" field, which the processor ignores).
func wholeEvent() *ebtypes.InputTransformer {
	return &ebtypes.InputTransformer{
		InputTemplate: aws.String("<aws.events.event.json>"),
		// moto falls back to its eight default paths when this is empty.
		InputPathsMap: map[string]string{"id": "$.id"},
	}
}

// createQueue creates a standard queue and returns its URL and ARN.
func createQueue(ctx context.Context, q *sqs.Client, name string) (url, arn string, err error) {
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: &name,
		// 14 days, as the deployed dead-letter queues keep messages.
		Attributes: map[string]string{string(sqstypes.QueueAttributeNameMessageRetentionPeriod): "1209600"},
	})
	if err != nil {
		return "", "", fmt.Errorf("local: create queue %s: %w", name, err)
	}
	url = aws.ToString(out.QueueUrl)
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("local: queue %s ARN: %w", name, err)
	}
	return url, attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

// accountOf is the account field of an ARN (arn:partition:service:region:account:...).
func accountOf(arn string) string {
	field, start := 0, 0
	for i := 0; i < len(arn); i++ {
		if arn[i] != ':' {
			continue
		}
		if field == 4 {
			return arn[start:i]
		}
		field++
		start = i + 1
	}
	return ""
}
