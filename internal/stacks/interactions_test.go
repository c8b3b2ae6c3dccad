package stacks

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/tap-trading/tap/internal/processor"
)

// interaction is one kind of service-to-service call the pipeline makes at
// run time (DESIGN §6, "Every run-time call is allowed on both sides").
type interaction struct {
	caller, action, target string
	// callerSide and targetSide say what must allow the call on each side.
	callerSide, targetSide string
}

// interactions is the table of every run-time call. TestEveryRuntimeCallIsAllowedOnBothSides
// finds the concrete calls by walking the templates from their resources
// (alarm actions, rule targets, functions, schedules, endpoints), checks each
// against its row, and fails on a resource no row accounts for.
var interactions = map[string]interaction{
	"alarm-publish": {"CloudWatch alarm (cloudwatch.amazonaws.com)", "sns:Publish", "its AlarmActions topic (same region)",
		"service principal", "topic policy Allow scoped by aws:SourceArn/aws:SourceAccount; no Deny"},
	"alarm-key": {"CloudWatch alarm (cloudwatch.amazonaws.com)", "kms:Decrypt, kms:GenerateDataKey", "the topic's KMS key",
		"service principal", "key policy Allow scoped by aws:SourceArn/aws:SourceAccount"},
	"rule-invoke": {"EventBridge rule (events.amazonaws.com)", "lambda:InvokeFunction", "its Lambda target",
		"service principal", "AWS::Lambda::Permission with SourceArn = the rule"},
	"rule-dlq": {"EventBridge rule (events.amazonaws.com)", "sqs:SendMessage", "its target's dead-letter queue",
		"service principal", "queue policy Allow scoped by aws:SourceArn = the rule; no Deny"},
	"async-destination": {"Lambda async invocation (function role)", "sqs:SendMessage", "the on-failure destination queue",
		"function role policy", "no Deny in the queue policy"},
	"processor-table": {"processor (function role)", strings.Join(processorTableActions, ", "), "the table replica of its region (" + processor.EnvTableName + ")",
		"function role policy", "— (same account, no resource policy)"},
	"processor-dlq": {"processor (function role)", "sqs:SendMessage", "the processing DLQ (" + processor.EnvProcessingDLQURL + ")",
		"function role policy", "no Deny in the queue policy"},
	"processor-logs": {"processor (function role)", "logs:CreateLogStream, logs:PutLogEvents", "its log group",
		"function role policy", "—"},
	"processor-xray": {"processor (function role)", "xray:PutTraceSegments, xray:PutTelemetryRecords", "X-Ray (no resource ARN)",
		"function role policy", "—"},
	"schedule-putevents": {"Scheduler schedule (scheduler.amazonaws.com)", "events:PutEvents", "its target bus",
		"role trusted by scheduler.amazonaws.com scoped by aws:SourceAccount, role policy", "bus policy admits the account; no Deny"},
	"endpoint-replication": {"global endpoint replication (events.amazonaws.com)", "events:PutEvents; events:PutRule/PutTargets/DeleteRule/RemoveTargets on GlobalEndpointManagedRule-*; iam:PassRole on itself",
		"both buses", "role trusted by events.amazonaws.com, role policy", "bus policies admit the account; no Deny"},
}

// processorTableActions are the DynamoDB calls internal/store makes.
var processorTableActions = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query"}

// mustBeCovered are the resource types that only exist to make or receive
// run-time calls: each one must take part in a call the walk checked.
var mustBeCovered = map[string]bool{
	"AWS::CloudWatch::Alarm": true, "AWS::SNS::Topic": true, "AWS::SNS::TopicPolicy": true, "AWS::KMS::Key": true,
	"AWS::SQS::Queue": true, "AWS::SQS::QueuePolicy": true, "AWS::Events::Rule": true, "AWS::Lambda::Permission": true,
	"AWS::Lambda::Function": true, "AWS::Lambda::EventInvokeConfig": true, "AWS::IAM::Role": true, "AWS::IAM::Policy": true,
	"AWS::Scheduler::Schedule": true, "AWS::Events::Endpoint": true, "AWS::Events::EventBus": true,
	"AWS::Events::EventBusPolicy": true, "AWS::DynamoDB::GlobalTable": true, "AWS::Logs::LogGroup": true,
}

// passive are resource types that make no run-time call of their own and
// receive none that needs a grant, each with the reason.
var passive = map[string]string{
	"AWS::Events::Archive":                        "EventBridge writes its own archive; no policy is involved",
	"AWS::CloudWatch::Dashboard":                  "read by people in the console",
	"AWS::SNS::Subscription":                      "email delivery is SNS's own; the recipient confirms it",
	"AWS::Route53::HealthCheck":                   "Route 53 reads the alarm state through its service-linked access",
	"AWS::CDK::Metadata":                          "CDK version reporting",
	"AWS::ApplicationAutoScaling::ScalableTarget": "uses the Application Auto Scaling service-linked role",
	"AWS::ApplicationAutoScaling::ScalingPolicy":  "uses the Application Auto Scaling service-linked role",
}

// checker walks the templates and records what it proved and what it could not.
type checker struct {
	m        *model
	covered  map[string]bool
	used     map[string]int
	problems []string
}

func newChecker(m *model) *checker {
	return &checker{m: m, covered: map[string]bool{}, used: map[string]int{}}
}

func (c *checker) errorf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// appTemplates returns the default app's four templates as JSON, by stack
// name, and each stack's region.
func appTemplates() (map[string]map[string]any, map[string]string) {
	templates, regions := map[string]map[string]any{}, map[string]string{}
	for _, s := range set.All() {
		templates[*s.StackName()] = *tpl[*s.StackName()].ToJSON()
		regions[*s.StackName()] = *s.Region()
	}
	return templates, regions
}

// check walks every interaction of the templates and checks coverage.
func (c *checker) check() {
	c.alarms()
	c.rules()
	c.functions()
	c.schedules()
	c.endpoints()
	for _, tm := range c.m.templates {
		for _, r := range tm.all() {
			typ := r.typ()
			if _, ok := passive[typ]; ok {
				continue
			}
			if !mustBeCovered[typ] {
				c.errorf("%s: resource type %s is neither in the interactions table nor listed as passive", r, typ)
			} else if !c.covered[r.String()] {
				c.errorf("%s (%s) takes part in no run-time call the test knows: add its row to the interactions table", r, typ)
			}
		}
	}
	for _, k := range sortedKinds() {
		if c.used[k] == 0 {
			c.errorf("interaction %q (%s → %s) was not found in any template: remove the row or fix the walk", k, interactions[k].caller, interactions[k].target)
		}
	}
}

func sortedKinds() []string {
	kinds := make([]string, 0, len(interactions))
	for k := range interactions {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

func (c *checker) cover(rs ...res) {
	for _, r := range rs {
		c.covered[r.String()] = true
	}
}

// serviceCall is the context a service principal's call carries.
func (c *checker) serviceCall(service, action, resource string, source res) request {
	return request{
		principal: "service:" + service, action: action, resource: resource,
		context: map[string]string{"aws:SourceArn": c.m.arn(source), "aws:SourceAccount": account, "aws:SecureTransport": "true"},
	}
}

// roleCall is a call made with a role of this account.
func roleCall(action, resource string, extra map[string]string) request {
	ctx := map[string]string{"aws:SecureTransport": "true"}
	for k, v := range extra {
		ctx[k] = v
	}
	return request{principal: "account:" + account, action: action, resource: resource, context: ctx}
}

// policiesOn returns the resource policies of typ that name target in their
// listProp (Topics, Queues) or, for bus policies, EventBusName.
func (c *checker) policiesOn(target res, typ, listProp, docProp string) ([]res, []stmt) {
	var rs []res
	var stmts []stmt
	for _, p := range c.m.ofType(typ) {
		for _, v := range list(p.props()[listProp]) {
			if got, ok := c.m.resolve(p.t, v); ok && got == target {
				rs = append(rs, p)
				stmts = append(stmts, policyStatements(p.t, p.props()[docProp])...)
			} else if !ok && typ == "AWS::Events::EventBusPolicy" && p.t == target.t && c.m.render(p.t, v) == c.m.name(target) {
				rs = append(rs, p)
				stmts = append(stmts, policyStatements(p.t, p.props()[docProp])...)
			}
		}
	}
	return rs, stmts
}

// targetSide proves the target's resource policy allows req (scoped when a
// service calls) and nothing in it denies req. requireAllow is false where
// the same account's identity policy suffices and the policy must only not deny.
func (c *checker) targetSide(kind string, caller, target res, stmts []stmt, req request, requireAllow bool) {
	d := c.m.evaluate(stmts, req, true)
	what := fmt.Sprintf("[%s] %s → %s %s on %s", kind, caller, req.principal, req.action, target)
	for _, s := range d.deny {
		c.errorf("%s: denied by the target's policy statement %v", what, s.body)
	}
	if !requireAllow {
		return
	}
	if len(d.allow) == 0 {
		c.errorf("%s: no statement of the target's policy allows it (%d statements: %v)", what, len(stmts), bodies(stmts))
		return
	}
	if strings.HasPrefix(req.principal, "service:") {
		for _, s := range d.allow {
			if scoped(s.body) {
				return
			}
		}
		c.errorf("%s: allowed only by statements without an aws:SourceArn/aws:SourceAccount condition: %v", what, bodies(d.allow))
	}
}

func bodies(ss []stmt) []map[string]any {
	out := make([]map[string]any, len(ss))
	for i, s := range ss {
		out[i] = s.body
	}
	return out
}

// identity returns the statements of a role's inline and attached policies.
func (c *checker) identity(role res) []stmt {
	var out []stmt
	for _, p := range list(role.props()["Policies"]) {
		out = append(out, policyStatements(role.t, p.(map[string]any)["PolicyDocument"])...)
	}
	for _, p := range c.attachedPolicies(role) {
		c.cover(p)
		out = append(out, policyStatements(p.t, p.props()["PolicyDocument"])...)
	}
	return out
}

// attachedPolicies are the AWS::IAM::Policy resources attached to role.
func (c *checker) attachedPolicies(role res) []res {
	var out []res
	for _, p := range c.m.ofType("AWS::IAM::Policy") {
		for _, r := range list(p.props()["Roles"]) {
			if got, ok := c.m.resolve(p.t, r); ok && got == role {
				out = append(out, p)
			}
		}
	}
	return out
}

// callerSide proves the role's policies allow req.
func (c *checker) callerSide(kind string, caller, role res, req request) {
	c.used[kind]++
	if d := c.m.evaluate(c.identity(role), req, false); !d.allowed() {
		c.errorf("[%s] %s: role %s may not %s on %s (allowed by %d, denied by %d statements)",
			kind, caller, role, req.action, req.resource, len(d.allow), len(d.deny))
	}
}

// role resolves a resource's role property and proves service may assume it
// (scoped to this account when mustScope).
func (c *checker) role(caller res, v any, service string, mustScope bool) (res, bool) {
	role, ok := c.m.resolve(caller.t, v)
	if !ok || role.typ() != "AWS::IAM::Role" {
		c.errorf("%s: role %v is not a role of this app", caller, v)
		return res{}, false
	}
	c.cover(role)
	req := c.serviceCall(service, "sts:AssumeRole", "", caller)
	d := c.m.evaluate(policyStatements(role.t, role.props()["AssumeRolePolicyDocument"]), req, true)
	switch {
	case !d.allowed():
		c.errorf("%s: %s may not assume role %s", caller, service, role)
	case mustScope && !scoped(d.allow[0].body):
		c.errorf("%s: role %s trusts %s without an aws:SourceAccount/aws:SourceArn condition", caller, role, service)
	}
	return role, true
}

func (c *checker) alarms() {
	for _, a := range c.m.ofType("AWS::CloudWatch::Alarm") {
		c.cover(a)
		actions := list(a.props()["AlarmActions"])
		if len(actions) == 0 {
			c.errorf("%s notifies nobody: it has no AlarmActions", a)
		}
		actions = append(actions, list(a.props()["OKActions"])...)
		actions = append(actions, list(a.props()["InsufficientDataActions"])...)
		for _, v := range actions {
			topic, ok := c.m.resolve(a.t, v)
			if !ok || topic.typ() != "AWS::SNS::Topic" {
				c.errorf("%s: action %s is no topic of this app; no interaction covers it", a, c.m.render(a.t, v))
				continue
			}
			if topic.t.region != a.t.region {
				c.errorf("%s: alarm in %s notifies %s in %s; CloudWatch notifies topics of its own region only", a, a.t.region, topic, topic.t.region)
			}
			c.used["alarm-publish"]++
			policies, stmts := c.policiesOn(topic, "AWS::SNS::TopicPolicy", "Topics", "PolicyDocument")
			c.cover(append(policies, topic)...)
			c.targetSide("alarm-publish", a, topic, stmts, c.serviceCall("cloudwatch.amazonaws.com", "sns:Publish", c.m.arn(topic), a), true)

			keyRef, encrypted := topic.props()["KmsMasterKeyId"]
			if !encrypted {
				continue
			}
			key, ok := c.m.resolve(topic.t, keyRef)
			if !ok || key.typ() != "AWS::KMS::Key" {
				c.errorf("%s: key %s is not a customer-managed key of this app (an AWS managed key's policy cannot admit CloudWatch)", topic, c.m.render(topic.t, keyRef))
				continue
			}
			c.cover(key)
			c.used["alarm-key"]++
			for _, action := range []string{"kms:Decrypt", "kms:GenerateDataKey"} {
				c.targetSide("alarm-key", a, key, policyStatements(key.t, key.props()["KeyPolicy"]),
					c.serviceCall("cloudwatch.amazonaws.com", action, c.m.arn(key), a), true)
			}
		}
	}
}

func (c *checker) rules() {
	for _, r := range c.m.ofType("AWS::Events::Rule") {
		c.cover(r)
		if bus, ok := c.m.resolve(r.t, r.props()["EventBusName"]); ok {
			c.cover(bus)
		}
		targets := list(r.props()["Targets"])
		if len(targets) == 0 {
			c.errorf("%s has no targets", r)
		}
		for _, v := range targets {
			tg := v.(map[string]any)
			dest, ok := c.m.resolve(r.t, tg["Arn"])
			if !ok || dest.typ() != "AWS::Lambda::Function" {
				c.errorf("%s: target %s is not a function of this app; no interaction covers it", r, c.m.render(r.t, tg["Arn"]))
			} else {
				c.used["rule-invoke"]++
				c.lambdaPermission(r, dest)
			}
			dlqConfig, _ := tg["DeadLetterConfig"].(map[string]any)
			if dlqConfig == nil {
				continue
			}
			q, ok := c.m.resolve(r.t, dlqConfig["Arn"])
			if !ok || q.typ() != "AWS::SQS::Queue" {
				c.errorf("%s: dead-letter queue %s is not a queue of this app", r, c.m.render(r.t, dlqConfig["Arn"]))
				continue
			}
			c.used["rule-dlq"]++
			policies, stmts := c.policiesOn(q, "AWS::SQS::QueuePolicy", "Queues", "PolicyDocument")
			c.cover(append(policies, q)...)
			c.targetSide("rule-dlq", r, q, stmts, c.serviceCall("events.amazonaws.com", "sqs:SendMessage", c.m.arn(q), r), true)
		}
	}
}

// lambdaPermission proves fn's resource policy lets rule (and only it) invoke fn.
func (c *checker) lambdaPermission(rule, fn res) {
	var unscoped []res
	for _, p := range c.m.ofType("AWS::Lambda::Permission") {
		props := p.props()
		if got, ok := c.m.resolve(p.t, props["FunctionName"]); !ok || got != fn ||
			props["Principal"] != "events.amazonaws.com" || props["Action"] != "lambda:InvokeFunction" {
			continue
		}
		if src, ok := props["SourceArn"]; ok && c.m.render(p.t, src) == c.m.arn(rule) {
			c.cover(p)
			return
		}
		if _, ok := props["SourceArn"]; !ok {
			unscoped = append(unscoped, p)
		}
	}
	if len(unscoped) > 0 {
		c.errorf("[rule-invoke] %s → %s: permissions %v admit events.amazonaws.com without a SourceArn", rule, fn, unscoped)
		return
	}
	c.errorf("[rule-invoke] %s → %s: no AWS::Lambda::Permission for events.amazonaws.com with SourceArn %s", rule, fn, c.m.arn(rule))
}

func (c *checker) functions() {
	for _, f := range c.m.ofType("AWS::Lambda::Function") {
		c.cover(f)
		props := f.props()
		role, ok := c.role(f, props["Role"], "lambda.amazonaws.com", false)
		if !ok {
			continue
		}
		call := func(kind, action, resource string) { c.callerSide(kind, f, role, roleCall(action, resource, nil)) }

		for _, eic := range c.m.ofType("AWS::Lambda::EventInvokeConfig") {
			if got, ok := c.m.resolve(eic.t, eic.props()["FunctionName"]); !ok || got != f {
				continue
			}
			c.cover(eic)
			dc, _ := eic.props()["DestinationConfig"].(map[string]any)
			for _, on := range []string{"OnFailure", "OnSuccess"} {
				d, ok := dc[on].(map[string]any)
				if !ok {
					continue
				}
				q, ok := c.m.resolve(eic.t, d["Destination"])
				if !ok || q.typ() != "AWS::SQS::Queue" {
					c.errorf("%s: %s destination %s is not a queue of this app; no interaction covers it", eic, on, c.m.render(eic.t, d["Destination"]))
					continue
				}
				call("async-destination", "sqs:SendMessage", c.m.arn(q))
				policies, stmts := c.policiesOn(q, "AWS::SQS::QueuePolicy", "Queues", "PolicyDocument")
				c.cover(append(policies, q)...)
				c.targetSide("async-destination", f, q, stmts, roleCall("sqs:SendMessage", c.m.arn(q), nil), false)
			}
		}

		env := map[string]any{}
		if e, ok := props["Environment"].(map[string]any); ok {
			env, _ = e["Variables"].(map[string]any)
		}
		if name, ok := env[processor.EnvTableName]; ok {
			arn := fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", f.t.region, account, c.m.render(f.t, name))
			table, ok := c.m.byArn[arn]
			if !ok {
				c.errorf("%s: %s names %s, which has no replica in %s", f, processor.EnvTableName, c.m.render(f.t, name), f.t.region)
			} else {
				c.cover(table)
			}
			for _, action := range processorTableActions {
				call("processor-table", action, arn)
			}
		}
		if url, ok := env[processor.EnvProcessingDLQURL]; ok {
			q, ok := c.m.resolve(f.t, url)
			if !ok || q.typ() != "AWS::SQS::Queue" {
				c.errorf("%s: %s %s is not a queue of this app", f, processor.EnvProcessingDLQURL, c.m.render(f.t, url))
			} else {
				call("processor-dlq", "sqs:SendMessage", c.m.arn(q))
				policies, stmts := c.policiesOn(q, "AWS::SQS::QueuePolicy", "Queues", "PolicyDocument")
				c.cover(append(policies, q)...)
				c.targetSide("processor-dlq", f, q, stmts, roleCall("sqs:SendMessage", c.m.arn(q), nil), false)
			}
		}

		// Lambda writes to the configured log group, else /aws/lambda/<name>.
		groupArn := fmt.Sprintf("arn:aws:logs:%s:%s:log-group:/aws/lambda/%s:*", f.t.region, account, c.m.name(f))
		if lc, ok := props["LoggingConfig"].(map[string]any); ok && lc["LogGroup"] != nil {
			groupArn = fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", f.t.region, account, c.m.render(f.t, lc["LogGroup"]))
		}
		if g, ok := c.m.byArn[groupArn]; ok {
			c.cover(g)
		}
		stream := strings.TrimSuffix(groupArn, "*") + "log-stream:2026/01/01/[$LATEST]0123456789abcdef"
		for _, action := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
			call("processor-logs", action, stream)
		}
		if tc, ok := props["TracingConfig"].(map[string]any); ok && tc["Mode"] == "Active" {
			for _, action := range []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"} {
				call("processor-xray", action, "*")
			}
		}
	}
}

// busTarget proves bus's policy admits this account's role and denies nothing.
func (c *checker) busTarget(kind string, caller, bus res) {
	policies, stmts := c.policiesOn(bus, "AWS::Events::EventBusPolicy", "EventBusName", "Statement")
	c.cover(append(policies, bus)...)
	c.targetSide(kind, caller, bus, stmts, roleCall("events:PutEvents", c.m.arn(bus), nil), true)
}

func (c *checker) schedules() {
	for _, s := range c.m.ofType("AWS::Scheduler::Schedule") {
		c.cover(s)
		tg, _ := s.props()["Target"].(map[string]any)
		role, ok := c.role(s, tg["RoleArn"], "scheduler.amazonaws.com", true)
		if !ok {
			continue
		}
		bus, ok := c.m.resolve(s.t, tg["Arn"])
		if !ok || bus.typ() != "AWS::Events::EventBus" {
			c.errorf("%s: target %s is not a bus of this app; no interaction covers it", s, c.m.render(s.t, tg["Arn"]))
			continue
		}
		c.callerSide("schedule-putevents", s, role, roleCall("events:PutEvents", c.m.arn(bus), nil))
		c.busTarget("schedule-putevents", s, bus)
	}
}

func (c *checker) endpoints() {
	for _, e := range c.m.ofType("AWS::Events::Endpoint") {
		c.cover(e)
		props := e.props()
		rc, _ := props["ReplicationConfig"].(map[string]any)
		if rc == nil || rc["State"] != "ENABLED" {
			continue
		}
		role, ok := c.role(e, props["RoleArn"], "events.amazonaws.com", false)
		if !ok {
			continue
		}
		call := func(action, resource string, ctx map[string]string) {
			c.callerSide("endpoint-replication", e, role, roleCall(action, resource, ctx))
		}
		call("iam:PassRole", c.m.arn(role), map[string]string{"iam:PassedToService": "events.amazonaws.com"})
		for _, v := range list(props["EventBuses"]) {
			arn := v.(map[string]any)["EventBusArn"]
			bus, ok := c.m.resolve(e.t, arn)
			if !ok || bus.typ() != "AWS::Events::EventBus" {
				c.errorf("%s: bus %s is not a bus of this app", e, c.m.render(e.t, arn))
				continue
			}
			call("events:PutEvents", c.m.arn(bus), nil)
			managed := fmt.Sprintf("arn:aws:events:%s:%s:rule/%s/GlobalEndpointManagedRule-0123abcd", bus.t.region, account, c.m.name(bus))
			for _, action := range []string{"events:PutRule", "events:PutTargets", "events:DeleteRule", "events:RemoveTargets"} {
				call(action, managed, nil)
			}
			c.busTarget("endpoint-replication", e, bus)
		}
	}
}

// TestEveryRuntimeCallIsAllowedOnBothSides walks the four templates from
// their resources and proves each run-time call of the interactions table is
// allowed by the caller's side and by the target's side, with the service
// principals' grants scoped to this account's resources; then that every
// resource taking part in calls was reached, and every row is still used.
//
// It runs on the strong app too, whose table and alarms differ.
func TestEveryRuntimeCallIsAllowedOnBothSides(t *testing.T) {
	strongTemplates, strongRegions := map[string]map[string]any{}, map[string]string{}
	for _, s := range strong.set.All() {
		strongTemplates[*s.StackName()], strongRegions[*s.StackName()] = strong.templates[*s.StackName()], *s.Region()
	}
	templates, regions := appTemplates()
	for _, a := range []struct {
		name      string
		templates map[string]map[string]any
		regions   map[string]string
	}{{"default", templates, regions}, {"strong", strongTemplates, strongRegions}} {
		t.Run(a.name, func(t *testing.T) {
			c := newChecker(newModel(a.templates, a.regions))
			c.check()
			for _, p := range c.problems {
				t.Error(p)
			}
			for _, k := range sortedKinds() {
				t.Logf("%-20s %3d calls checked: %s → %s on %s", k, c.used[k], interactions[k].caller, interactions[k].action, interactions[k].target)
			}
		})
	}
}

// TestInteractionWalkCatchesMissingSides guards the walk: on templates with
// one side of a call removed, or a resource no call uses, it must complain.
func TestInteractionWalkCatchesMissingSides(t *testing.T) {
	primary := cfg.Names().ProcessingStack(cfg.PrimaryRegion)
	for _, tc := range []struct {
		name, want string
		mutate     func(resources map[string]any)
	}{
		{"topic policy without the CloudWatch Allow", "[alarm-publish]", func(rs map[string]any) {
			for _, r := range ofType(rs, "AWS::SNS::TopicPolicy") {
				doc := r["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)
				var keep []any
				for _, s := range doc["Statement"].([]any) {
					if s.(map[string]any)["Effect"] == "Deny" {
						keep = append(keep, s)
					}
				}
				doc["Statement"] = keep
			}
		}},
		{"Lambda permission without SourceArn", "without a SourceArn", func(rs map[string]any) {
			for _, r := range ofType(rs, "AWS::Lambda::Permission") {
				delete(r["Properties"].(map[string]any), "SourceArn")
			}
		}},
		{"a queue nobody sends to", "takes part in no run-time call", func(rs map[string]any) {
			rs["Unused"] = map[string]any{"Type": "AWS::SQS::Queue", "Properties": map[string]any{"QueueName": "unused"}}
		}},
		{"an unknown resource type", "neither in the interactions table nor listed as passive", func(rs map[string]any) {
			rs["Pipe"] = map[string]any{"Type": "AWS::Pipes::Pipe", "Properties": map[string]any{}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			templates, regions := appTemplates()
			templates = deepCopy(t, templates)
			tc.mutate(templates[primary]["Resources"].(map[string]any))
			c := newChecker(newModel(templates, regions))
			c.check()
			for _, p := range c.problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("no problem mentions %q; got %d: %v", tc.want, len(c.problems), c.problems)
		})
	}
}

func ofType(resources map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, r := range resources {
		if r := r.(map[string]any); r["Type"] == typ {
			out = append(out, r)
		}
	}
	return out
}

func deepCopy(t *testing.T, v map[string]map[string]any) map[string]map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNoEmptyStringProperty: no template emits an empty string (an empty
// KmsKeyIdentifier on an archive can fail the deploy). The delimiter of
// Fn::Join is the one place "" is meaningful.
func TestNoEmptyStringProperty(t *testing.T) {
	for name, tp := range allTemplates() {
		for _, path := range emptyStrings(*tp.ToJSON(), "") {
			t.Errorf("%s: empty string at %s", name, path)
		}
	}
}

func emptyStrings(v any, path string) []string {
	var out []string
	switch v := v.(type) {
	case string:
		if v == "" {
			out = append(out, path)
		}
	case map[string]any:
		for k, child := range v {
			if j, ok := child.([]any); ok && k == "Fn::Join" && len(j) == 2 {
				out = append(out, emptyStrings(j[1], path+"/Fn::Join[1]")...)
				continue
			}
			out = append(out, emptyStrings(child, path+"/"+k)...)
		}
	case []any:
		for i, child := range v {
			out = append(out, emptyStrings(child, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

// TestRoleUsersDependOnTheirPolicies: a resource that hands a role to a
// service (a RoleArn) can be created before the role's separate
// AWS::IAM::Policy resources, since nothing references them; the service then
// starts without its permissions. Each such resource must DependsOn them.
func TestRoleUsersDependOnTheirPolicies(t *testing.T) {
	c := newChecker(newModel(appTemplates()))
	for _, tm := range c.m.templates {
		for _, r := range tm.all() {
			typ := r.typ()
			if typ == "AWS::IAM::Policy" || typ == "AWS::IAM::Role" {
				continue
			}
			deps := map[string]bool{}
			for _, d := range list(r.body()["DependsOn"]) {
				deps[d.(string)] = true
			}
			for _, role := range roleRefs(c.m, tm, r.props()) {
				for _, p := range c.attachedPolicies(role) {
					if p.t == tm && !deps[p.id] {
						t.Errorf("%s (%s) uses role %s but does not DependsOn its policy %s", r, typ, role.id, p.id)
					}
				}
			}
		}
	}
}

// roleRefs returns the roles v refers to anywhere in it.
func roleRefs(m *model, t *tmpl, v any) []res {
	var out []res
	switch v := v.(type) {
	case map[string]any:
		if r, ok := m.resolve(t, v); ok && r.typ() == "AWS::IAM::Role" {
			return []res{r}
		}
		for _, child := range v {
			out = append(out, roleRefs(m, t, child)...)
		}
	case []any:
		for _, child := range v {
			out = append(out, roleRefs(m, t, child)...)
		}
	}
	return out
}
