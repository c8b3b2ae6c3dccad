package stacks

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
)

// statement is one IAM statement found in a template, with where it was found.
type statement struct {
	path string
	body map[string]any
}

// statements walks the whole template and returns every policy statement in
// it — identity policies, role trust and inline policies, key, queue, topic
// and bus policies alike: anything with an Effect and an Action.
func statements(v any, path string) []statement {
	var out []statement
	switch v := v.(type) {
	case map[string]any:
		_, hasAction := v["Action"]
		_, hasNotAction := v["NotAction"]
		if _, ok := v["Effect"]; ok && (hasAction || hasNotAction) {
			out = append(out, statement{path, v})
		}
		for k, child := range v {
			out = append(out, statements(child, path+"/"+k)...)
		}
	case []any:
		for i, child := range v {
			out = append(out, statements(child, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func allTemplates() map[string]assertions.Template {
	all := map[string]assertions.Template{}
	for k, v := range nondefault.tpl {
		all["nondefault/"+k] = v
	}
	for k, v := range strong.tpl {
		all["strong/"+k] = v
	}
	for k, v := range tpl {
		all[k] = v
	}
	return all
}

// TestNoWildcardActions: no Allow statement in any stack grants an action with
// a wildcard (or uses NotAction). Deny statements may: the TLS-only policies
// deny "sqs:*" to non-TLS callers, which only narrows access, and cdk-nag
// (SQS4) requires exactly that form. One Allow may, in a KMS key policy only:
// keyPolicyWildcards, the form AWS documents for a service principal.
func TestNoWildcardActions(t *testing.T) {
	for name, tp := range allTemplates() {
		t.Run(name, func(t *testing.T) {
			for _, s := range statements(*tp.ToJSON(), "") {
				if s.body["Effect"] != "Allow" {
					continue
				}
				if _, ok := s.body["NotAction"]; ok {
					t.Errorf("%s: Allow with NotAction grants everything else", s.path)
				}
				for _, a := range asList(s.body["Action"]) {
					str, ok := a.(string)
					if ok && documentedKeyPolicyWildcard(s, str) {
						continue
					}
					if !ok || strings.Contains(str, "*") {
						t.Errorf("%s: Allow statement action %v has a wildcard", s.path, a)
					}
				}
			}
		})
	}
}

// keyPolicyWildcards are the wildcard actions a key policy may grant a
// service principal, with the reason: AWS documents the statement that lets
// CloudWatch alarms publish to an SNS topic encrypted with a customer managed
// key as kms:Decrypt plus kms:GenerateDataKey* ("Enable compatibility between
// event sources from AWS services and encrypted topics", SNS developer guide).
var keyPolicyWildcards = map[string]string{
	"kms:GenerateDataKey*": "cloudwatch.amazonaws.com",
}

// documentedKeyPolicyWildcard reports whether action is one of
// keyPolicyWildcards, granted in a key policy to the service it is documented for.
func documentedKeyPolicyWildcard(s statement, action string) bool {
	service, ok := keyPolicyWildcards[action]
	if !ok || !strings.Contains(s.path, "/Properties/KeyPolicy/") {
		return false
	}
	p, _ := s.body["Principal"].(map[string]any)
	return len(p) == 1 && p["Service"] == service
}

// TestWalkCoversEveryPolicyKind guards TestNoWildcardActions: it must see the
// statements of key, queue, topic, bus and identity policies and role trusts.
func TestWalkCoversEveryPolicyKind(t *testing.T) {
	tp := processingTemplate(cfg.PrimaryRegion)
	seen := map[string]bool{}
	for _, s := range statements(*tp.ToJSON(), "") {
		id := strings.Split(strings.TrimPrefix(s.path, "/Resources/"), "/")[0]
		r := (*tp.ToJSON())["Resources"].(map[string]any)[id].(map[string]any)
		seen[r["Type"].(string)] = true
	}
	for _, typ := range []string{"AWS::KMS::Key", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::Events::EventBusPolicy", "AWS::IAM::Policy", "AWS::IAM::Role"} {
		if !seen[typ] {
			t.Errorf("statement walk found no statement in any %s", typ)
		}
	}
}

// TestProcessorRoleTouchesOnlyItsRegion: the processor may write only this
// region's table replica, send only to its processing DLQ, write only its log
// group, and put X-Ray segments (no resource-level permissions exist for those).
func TestProcessorRoleTouchesOnlyItsRegion(t *testing.T) {
	n := cfg.Names()
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			tp := processingTemplate(region)
			id := processingIDs(t, tp)
			table := map[string]any{"Fn::Join": []any{"", []any{
				"arn:aws:dynamodb:" + region + ":", ref("AWS::AccountId"), ":table/" + n.Table(),
			}}}
			allowed := map[string]struct {
				resource any
				actions  []string
			}{
				"dynamodb": {table, []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}},
				"sqs":      {arnOf(id.processingDLQ), []string{"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}},
				"logs":     {arnOf(id.logGroup), []string{"logs:CreateLogStream", "logs:PutLogEvents"}},
				"xray":     {"*", []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}},
			}

			var found []statement
			for pid, p := range resources(t, tp, "AWS::IAM::Policy") {
				props := p["Properties"].(map[string]any)
				if reflect.DeepEqual(props["Roles"], []any{ref(id.role)}) {
					found = append(found, statements(props["PolicyDocument"], pid)...)
				}
			}
			role := resources(t, tp, "AWS::IAM::Role")[id.role]["Properties"].(map[string]any)
			found = append(found, statements(role["Policies"], id.role)...)
			if _, ok := role["ManagedPolicyArns"]; ok {
				t.Errorf("processor role has managed policies %v, want inline least-privilege only", role["ManagedPolicyArns"])
			}
			if len(found) == 0 {
				t.Fatal("found no statements attached to the processor role")
			}

			for _, s := range found {
				for _, a := range asList(s.body["Action"]) {
					action := a.(string)
					service, _, _ := strings.Cut(action, ":")
					rule, ok := allowed[service]
					if !ok || !contains(rule.actions, action) {
						t.Errorf("%s: processor may %s; allowed are %v", s.path, action, allowed)
						continue
					}
					for _, r := range asList(s.body["Resource"]) {
						if !reflect.DeepEqual(r, rule.resource) {
							got, _ := json.Marshal(r)
							want, _ := json.Marshal(rule.resource)
							t.Errorf("%s: %s on %s, want only %s", s.path, action, got, want)
						}
					}
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
