// Package eventbus delivers an event to a bus on the local AWS (moto) the way
// EventBridge delivers an event that reaches a bus from another bus, as the
// global endpoint's replication does (DESIGN §8.1): the event keeps its
// envelope (id, time, region, account, source, detail-type, detail,
// resources) and goes through the bus's own rules. Every enabled rule whose
// pattern matches hands it to each of the rule's targets, shaped by the
// target's input settings. PutEvents cannot do this on moto: it stamps a
// new envelope (id, time, region) on every event.
//
// The rules and targets are the bus's, listed from moto (ListRules,
// ListTargetsByRule) and cached for a refresh interval, so a delivered
// event costs one call per target it reaches. Patterns are matched in
// process (CompilePattern): moto 5.2.1 does not implement TestEventPattern
// (it answers an empty 200, which the SDK reads as "no match"). A test
// checks the matcher against moto's own rule matching.
package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/event"
)

// EventBridge is the part of *eventbridge.Client a Bus uses.
type EventBridge interface {
	ListRules(ctx context.Context, in *eventbridge.ListRulesInput, opts ...func(*eventbridge.Options)) (*eventbridge.ListRulesOutput, error)
	ListTargetsByRule(ctx context.Context, in *eventbridge.ListTargetsByRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error)
}

// SQS is the part of *sqs.Client a Bus uses.
type SQS interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// MatchFunc reports whether event (JSON) matches an EventBridge pattern.
type MatchFunc func(ctx context.Context, pattern string, event []byte) (bool, error)

// DefaultRefreshInterval is how long a Bus uses the rules and targets it
// listed before it lists them again. EventBridge applies rule changes
// eventually too; the twin's rules do not change while it runs.
const DefaultRefreshInterval = 5 * time.Second

// Options tune a Bus.
type Options struct {
	// RefreshInterval is how long listed rules and targets are used before
	// they are listed again. Default DefaultRefreshInterval.
	RefreshInterval time.Duration
	// Match decides whether an event matches a rule's pattern. Default:
	// CompilePattern's matcher, in process. TestEventPattern(client) asks
	// EventBridge instead (AWS; not moto 5.2.1).
	Match MatchFunc
	// Now is the clock of the refresh interval. Default time.Now.
	Now func() time.Time
}

// Bus delivers events through the rules of one bus.
type Bus struct {
	events EventBridge
	sqs    SQS
	name   string
	opts   Options

	refresh sync.Mutex // one listing at a time
	mu      sync.Mutex
	rules   []rule
	listed  time.Time
	queues  map[string]string // queue URL by ARN
}

// rule is an enabled rule with a pattern, and its targets.
type rule struct {
	name, arn string
	pattern   string
	compiled  *Pattern
	err       error // the pattern did not compile
	targets   []ebtypes.Target
}

// New returns a Bus delivering to the bus named bus through events and sqs,
// clients of the bus's region.
func New(events EventBridge, sqs SQS, bus string, opts Options) *Bus {
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = DefaultRefreshInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Bus{events: events, sqs: sqs, name: bus, opts: opts, queues: map[string]string{}}
}

// Deliver delivers env, with its envelope unchanged, to every target of
// every enabled rule of the bus whose pattern matches it. SQS targets get
// the event as their input settings shape it (Input, InputPath,
// InputTransformer); any other target type is an error naming it. An error
// means "try again later": the targets that failed did not get the event
// (those that did may get it again, as EventBridge delivers at least once).
func (b *Bus) Deliver(ctx context.Context, env event.Envelope) error {
	rules, err := b.current(ctx)
	if err != nil {
		return err
	}
	ev := event.EncodeEnvelope(env)
	var errs []error
	for _, r := range rules {
		ok, err := b.match(ctx, r, ev)
		if err != nil {
			errs = append(errs, fmt.Errorf("eventbus: rule %s of bus %s: %w", r.name, b.name, err))
			continue
		}
		if !ok {
			continue
		}
		for _, t := range r.targets {
			if err := b.send(ctx, r, t, env, ev); err != nil {
				errs = append(errs, fmt.Errorf("eventbus: rule %s of bus %s, target %s: %w", r.name, b.name, aws.ToString(t.Id), err))
			}
		}
	}
	return errors.Join(errs...)
}

// Refresh lists the bus's rules and their targets now.
func (b *Bus) Refresh(ctx context.Context) error {
	b.refresh.Lock()
	defer b.refresh.Unlock()
	return b.list(ctx)
}

// current returns the rules listed within the refresh interval, listing
// them again if they are older.
func (b *Bus) current(ctx context.Context) ([]rule, error) {
	fresh := func() ([]rule, bool) {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.rules, !b.listed.IsZero() && b.opts.Now().Sub(b.listed) < b.opts.RefreshInterval
	}
	if rules, ok := fresh(); ok {
		return rules, nil
	}
	b.refresh.Lock()
	defer b.refresh.Unlock()
	if rules, ok := fresh(); ok {
		return rules, nil // listed while this call waited
	}
	if err := b.list(ctx); err != nil {
		return nil, err
	}
	rules, _ := fresh()
	return rules, nil
}

// list lists the enabled rules with a pattern and their targets.
func (b *Bus) list(ctx context.Context) error {
	at := b.opts.Now()
	var rules []rule
	var next *string
	for {
		out, err := b.events.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: &b.name, NextToken: next})
		if err != nil {
			return fmt.Errorf("eventbus: list the rules of bus %s: %w", b.name, err)
		}
		for _, r := range out.Rules {
			if aws.ToString(r.EventPattern) == "" || !enabled(r.State) {
				continue
			}
			x := rule{name: aws.ToString(r.Name), arn: aws.ToString(r.Arn), pattern: aws.ToString(r.EventPattern)}
			if b.opts.Match == nil {
				x.compiled, x.err = CompilePattern(x.pattern)
			}
			rules = append(rules, x)
		}
		if next = out.NextToken; aws.ToString(next) == "" {
			break
		}
	}
	for i := range rules {
		var next *string
		for {
			out, err := b.events.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: &rules[i].name, EventBusName: &b.name, NextToken: next})
			if err != nil {
				return fmt.Errorf("eventbus: list the targets of rule %s of bus %s: %w", rules[i].name, b.name, err)
			}
			rules[i].targets = append(rules[i].targets, out.Targets...)
			if next = out.NextToken; aws.ToString(next) == "" {
				break
			}
		}
	}
	// The queues' URLs are looked up now, so an event costs one call per
	// target; one that fails is looked up again when an event needs it.
	for _, r := range rules {
		for _, t := range r.targets {
			if a, ok := parseARN(aws.ToString(t.Arn)); ok && a.service == "sqs" {
				_, _ = b.queueURL(ctx, aws.ToString(t.Arn), a)
			}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rules, b.listed = rules, at
	return nil
}

func enabled(s ebtypes.RuleState) bool {
	return s == ebtypes.RuleStateEnabled || s == ebtypes.RuleStateEnabledWithAllCloudtrailManagementEvents
}

func (b *Bus) match(ctx context.Context, r rule, ev []byte) (bool, error) {
	if b.opts.Match != nil {
		return b.opts.Match(ctx, r.pattern, ev)
	}
	if r.err != nil {
		return false, r.err
	}
	return r.compiled.Matches(ev)
}

// send delivers ev to one target of r.
func (b *Bus) send(ctx context.Context, r rule, t ebtypes.Target, env event.Envelope, ev []byte) error {
	arn := aws.ToString(t.Arn)
	a, ok := parseARN(arn)
	if !ok {
		return fmt.Errorf("target ARN %q is not an ARN", arn)
	}
	if a.service != "sqs" {
		return fmt.Errorf("target %s is a %s target: only SQS targets are delivered locally", arn, a.service)
	}
	body, err := targetInput(t, r, ev)
	if err != nil {
		return err
	}
	url, err := b.queueURL(ctx, arn, a)
	if err != nil {
		return err
	}
	in := &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body}
	if strings.HasSuffix(a.resource, ".fifo") {
		// EventBridge requires a message group for a FIFO target and
		// deduplicates by event ID.
		if t.SqsParameters == nil || aws.ToString(t.SqsParameters.MessageGroupId) == "" {
			return fmt.Errorf("FIFO target %s has no SqsParameters.MessageGroupId", arn)
		}
		in.MessageGroupId, in.MessageDeduplicationId = t.SqsParameters.MessageGroupId, &env.ID
	}
	if _, err := b.sqs.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("send to %s: %w", arn, err)
	}
	return nil
}

// queueURL is the URL of the queue arn names, looked up once.
func (b *Bus) queueURL(ctx context.Context, arn string, a arnParts) (string, error) {
	b.mu.Lock()
	url, ok := b.queues[arn]
	b.mu.Unlock()
	if ok {
		return url, nil
	}
	out, err := b.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &a.resource, QueueOwnerAWSAccountId: &a.account})
	if err != nil {
		return "", fmt.Errorf("queue of %s: %w", arn, err)
	}
	url = aws.ToString(out.QueueUrl)
	b.mu.Lock()
	b.queues[arn] = url
	b.mu.Unlock()
	return url, nil
}

// placeholder is an input template's variable, <name>.
var placeholder = regexp.MustCompile(`<([A-Za-z0-9_.\-]+)>`)

// targetInput is what the target receives of ev: Input verbatim; the value
// InputPath selects ("$", or a path of field names, as "$.detail"); an
// InputTransformer's template with <aws.events.event.json> (the whole
// event), <aws.events.rule-arn> and <aws.events.rule-name> filled in; or,
// with none of them, the whole event (EventBridge User Guide, "Amazon
// EventBridge input transformation",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).
// A template with any other variable is an error: the twin's rules need
// none, and a wrong guess at EventBridge's quoting would corrupt events.
func targetInput(t ebtypes.Target, r rule, ev []byte) (string, error) {
	switch {
	case t.Input != nil:
		return *t.Input, nil
	case aws.ToString(t.InputPath) != "":
		return selectPath(ev, *t.InputPath)
	case t.InputTransformer != nil:
		tmpl := aws.ToString(t.InputTransformer.InputTemplate)
		var bad []string
		out := placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
			switch m[1 : len(m)-1] {
			case "aws.events.event.json":
				return string(ev)
			case "aws.events.rule-arn":
				return r.arn
			case "aws.events.rule-name":
				return r.name
			}
			bad = append(bad, m)
			return m
		})
		if len(bad) > 0 {
			return "", fmt.Errorf("input template %q: variables %s are not supported locally (only <aws.events.event.json>, <aws.events.rule-arn>, <aws.events.rule-name>)", tmpl, strings.Join(bad, ", "))
		}
		return out, nil
	}
	return string(ev), nil
}

// arnParts are an ARN's fields.
type arnParts struct{ service, region, account, resource string }

func parseARN(s string) (arnParts, bool) {
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || f[0] != "arn" {
		return arnParts{}, false
	}
	return arnParts{service: f[2], region: f[3], account: f[4], resource: f[5]}, true
}

// TestEventPattern returns a MatchFunc asking EventBridge's TestEventPattern
// API. It is right against AWS; moto 5.2.1 answers every call with an empty
// 200, which reads as "no match".
func TestEventPattern(api interface {
	TestEventPattern(ctx context.Context, in *eventbridge.TestEventPatternInput, opts ...func(*eventbridge.Options)) (*eventbridge.TestEventPatternOutput, error)
}) MatchFunc {
	return func(ctx context.Context, pattern string, ev []byte) (bool, error) {
		out, err := api.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: &pattern, Event: aws.String(string(ev))})
		if err != nil {
			return false, err
		}
		return out.Result, nil
	}
}

// selectPath is the JSON value at path in ev: "$" is the whole event,
// "$.a.b" field b of field a. Other JSONPath forms are an error.
func selectPath(ev []byte, path string) (string, error) {
	if path == "$" {
		return string(ev), nil
	}
	rest, ok := strings.CutPrefix(path, "$.")
	if !ok || rest == "" {
		return "", fmt.Errorf("InputPath %q: only $ and $.field.field... are supported locally", path)
	}
	v := json.RawMessage(ev)
	for _, name := range strings.Split(rest, ".") {
		if name == "" || strings.ContainsAny(name, "[]*'\" ") {
			return "", fmt.Errorf("InputPath %q: only $ and $.field.field... are supported locally", path)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			return "", fmt.Errorf("InputPath %q: %s is not an object", path, name)
		}
		next, ok := m[name]
		if !ok {
			return "", fmt.Errorf("InputPath %q selects nothing in the event", path)
		}
		v = next
	}
	return string(v), nil
}
