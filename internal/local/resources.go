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
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tap-trading/tap/internal/deployspec"
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
	// RuleARN names the rule in EventBridge's delivery-failure records.
	RuleARN string `json:"ruleArn,omitempty"`
	// Inbox is the queue the rule targets in place of the Lambda function:
	// the local invoker polls it.
	InboxURL         string `json:"inboxUrl"`
	InboxARN         string `json:"inboxArn"`
	DeliveryDLQURL   string `json:"deliveryDlqUrl"`
	ProcessingDLQURL string `json:"processingDlqUrl"`
	// FunctionARN is the ARN the processor would have in AWS; it only
	// appears in the on-failure records the invoker writes.
	FunctionARN string `json:"functionArn"`
	// TableConsistency is the orders table's multi-Region consistency mode,
	// which the processor is told as TABLE_CONSISTENCY (RealProcessor).
	// Default (empty): schema.Eventual.
	TableConsistency schema.Consistency `json:"tableConsistency,omitempty"`
}

// InboxQueue is the name of the local inbox queue of env. It exists only in
// the local pipeline, where a queue stands in for Lambda's internal
// asynchronous-invocation queue.
func InboxQueue(n names.Names) string { return "tap-" + n.Env + "-local-inbox" }

// RuleTargetID is the ID of the rule's single target, as in the stack.
const RuleTargetID = "processor"

// Provision creates the local pipeline of env n with the defaults' deployed
// behaviour (SpecFor(n.Env)) at DefaultScale; see ProvisionSpec.
func Provision(ctx context.Context, cfg aws.Config, endpoint string, n names.Names) (Resources, error) {
	s := SpecFor(n.Env)
	s.Names = n
	return ProvisionSpec(ctx, cfg, endpoint, s, DefaultScale)
}

// ProvisionSpec creates every resource of the local pipeline of s in the
// local AWS that cfg points at, named and configured as s deploys them: the
// table s.Table.Name (store.CreateTable, from the same schema.Orders() keys
// s.Table holds), the bus, both dead-letter queues keeping messages for
// s.DLQ.Retention × scale (within SQS's 60 s to 14 days), the inbox queue
// (which keeps messages 14 days: it holds EventBridge's and Lambda's
// pending events, whose ages the invoker limits) and the rule s.Rule.Name
// with the whole pattern s.Rule.Pattern targeting the inbox, with the
// delivery DLQ as the target's dead-letter queue. It fails if any of them
// already exists, so two pipelines never share queues.
func ProvisionSpec(ctx context.Context, cfg aws.Config, endpoint string, s deployspec.Spec, scale float64) (Resources, error) {
	n := s.Names
	r := Resources{
		Endpoint: endpoint,
		Region:   cfg.Region,
		Env:      n.Env,
		Table:    s.Table.Name,
		Bus:      n.Bus(),
		Rule:     s.Rule.Name,
		// The processor is told the table's mode, as the stack tells it.
		TableConsistency: s.Table.Consistency,
	}
	if n.Env == "" || r.Table == "" || r.Rule == "" || len(s.Rule.Pattern) == 0 {
		return r, fmt.Errorf("local: the spec has no env, table, rule or pattern (build it with deployspec.For)")
	}
	ddb := dynamodb.NewFromConfig(cfg)
	if err := store.CreateTable(ctx, ddb, r.Table); err != nil {
		return r, fmt.Errorf("local: %w", err)
	}

	q := sqs.NewFromConfig(cfg)
	retention := dlqRetention(s, scale)
	var err error
	if r.InboxURL, r.InboxARN, err = createQueue(ctx, q, InboxQueue(n), MaxQueueRetention); err != nil {
		return r, err
	}
	var deliveryARN string
	if r.DeliveryDLQURL, deliveryARN, err = createQueue(ctx, q, n.DeliveryDLQ(), retention); err != nil {
		return r, err
	}
	if r.ProcessingDLQURL, _, err = createQueue(ctx, q, n.ProcessingDLQ(), retention); err != nil {
		return r, err
	}

	eb := eventbridge.NewFromConfig(cfg)
	bus, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: &r.Bus})
	if err != nil {
		return r, fmt.Errorf("local: create bus %s: %w", r.Bus, err)
	}
	r.BusARN = aws.ToString(bus.EventBusArn)
	pattern, err := json.Marshal(s.Rule.Pattern)
	if err != nil {
		return r, fmt.Errorf("local: event pattern: %w", err)
	}
	rule, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name:         &r.Rule,
		EventBusName: &r.Bus,
		EventPattern: aws.String(string(pattern)),
		State:        ebtypes.RuleStateEnabled,
	})
	if err != nil {
		return r, fmt.Errorf("local: create rule %s: %w", r.Rule, err)
	}
	r.RuleARN = aws.ToString(rule.RuleArn)
	// The dead-letter config mirrors the stack's target; moto delivers to
	// SQS synchronously and never uses it: the invoker, which stands for
	// EventBridge's attempts to invoke the function, writes EventBridge's
	// delivery-failure records there.
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
	r.FunctionARN = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", r.Region, accountOf(r.BusARN), s.Function.Name)
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

// createQueue creates a standard queue keeping messages for retention and
// returns its URL and ARN.
func createQueue(ctx context.Context, q *sqs.Client, name string, retention time.Duration) (url, arn string, err error) {
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: &name,
		Attributes: map[string]string{
			string(sqstypes.QueueAttributeNameMessageRetentionPeriod): strconv.Itoa(int(retention / time.Second)),
		},
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
