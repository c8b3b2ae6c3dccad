package stacks

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// A small model of the synthesized templates, enough to decide whether a
// run-time call is allowed: intrinsics rendered to the ARNs they resolve to,
// resources found by ARN across stacks and regions, and IAM statements
// evaluated against a request (principal, action, resource, context keys).

// account stands for the deploying account: the default app leaves it to the
// credentials, so templates spell it {"Ref": "AWS::AccountId"}.
const account = "${AWS::AccountId}"

// tmpl is one stack's template and the region it deploys to.
type tmpl struct {
	stack, region string
	resources     map[string]map[string]any
}

// res is one resource of one template.
type res struct {
	t  *tmpl
	id string
}

func (r res) String() string { return r.t.stack + "/" + r.id }
func (r res) typ() string    { return r.body()["Type"].(string) }
func (r res) body() map[string]any {
	return r.t.resources[r.id]
}
func (r res) props() map[string]any {
	p, _ := r.body()["Properties"].(map[string]any)
	if p == nil {
		return map[string]any{}
	}
	return p
}

// model is every template of the app, with an index of resources by ARN.
type model struct {
	templates []*tmpl
	byArn     map[string]res
}

// newModel indexes templates (template JSON by stack name) deployed to regions.
func newModel(templates map[string]map[string]any, regions map[string]string) *model {
	m := &model{byArn: map[string]res{}}
	names := make([]string, 0, len(templates))
	for name := range templates {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		rs := map[string]map[string]any{}
		for id, r := range templates[name]["Resources"].(map[string]any) {
			rs[id] = r.(map[string]any)
		}
		m.templates = append(m.templates, &tmpl{stack: name, region: regions[name], resources: rs})
	}
	for _, t := range m.templates {
		for _, r := range t.all() {
			m.byArn[m.arn(r)] = r
			// A global table is one resource with a replica (and an ARN) per region.
			if r.typ() == "AWS::DynamoDB::GlobalTable" {
				for _, rep := range list(r.props()["Replicas"]) {
					region := m.render(t, rep.(map[string]any)["Region"])
					m.byArn[fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", region, account, m.name(r))] = r
				}
			}
		}
	}
	return m
}

// all returns the template's resources sorted by logical ID.
func (t *tmpl) all() []res {
	out := make([]res, 0, len(t.resources))
	for id := range t.resources {
		out = append(out, res{t, id})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (m *model) ofType(typ string) []res {
	var out []res
	for _, t := range m.templates {
		for _, r := range t.all() {
			if r.typ() == typ {
				out = append(out, r)
			}
		}
	}
	return out
}

// nameProps is the physical-name property of each resource type TAP names.
var nameProps = map[string]string{
	"AWS::SNS::Topic": "TopicName", "AWS::SQS::Queue": "QueueName", "AWS::Events::EventBus": "Name",
	"AWS::Events::Rule": "Name", "AWS::Lambda::Function": "FunctionName", "AWS::Logs::LogGroup": "LogGroupName",
	"AWS::CloudWatch::Alarm": "AlarmName", "AWS::DynamoDB::GlobalTable": "TableName", "AWS::IAM::Role": "RoleName",
	"AWS::Scheduler::Schedule": "Name", "AWS::Events::Endpoint": "Name",
}

// name is the resource's physical name, or a stand-in unique to it when
// CloudFormation generates one.
func (m *model) name(r res) string {
	if p, ok := nameProps[r.typ()]; ok {
		if v, ok := r.props()[p]; ok {
			return m.render(r.t, v)
		}
	}
	return r.t.stack + "." + r.id
}

// arnFormats spell the ARN of each resource type from its region (%[1]s),
// the account (%[2]s) and its name (%[3]s).
var arnFormats = map[string]string{
	"AWS::SNS::Topic":            "arn:aws:sns:%[1]s:%[2]s:%[3]s",
	"AWS::SQS::Queue":            "arn:aws:sqs:%[1]s:%[2]s:%[3]s",
	"AWS::Events::EventBus":      "arn:aws:events:%[1]s:%[2]s:event-bus/%[3]s",
	"AWS::Events::Endpoint":      "arn:aws:events:%[1]s:%[2]s:endpoint/%[3]s",
	"AWS::Lambda::Function":      "arn:aws:lambda:%[1]s:%[2]s:function:%[3]s",
	"AWS::Logs::LogGroup":        "arn:aws:logs:%[1]s:%[2]s:log-group:%[3]s:*",
	"AWS::CloudWatch::Alarm":     "arn:aws:cloudwatch:%[1]s:%[2]s:alarm:%[3]s",
	"AWS::DynamoDB::GlobalTable": "arn:aws:dynamodb:%[1]s:%[2]s:table/%[3]s",
	"AWS::IAM::Role":             "arn:aws:iam::%[2]s:role/%[3]s",
	"AWS::KMS::Key":              "arn:aws:kms:%[1]s:%[2]s:key/%[3]s",
	"AWS::Scheduler::Schedule":   "arn:aws:scheduler:%[1]s:%[2]s:schedule/default/%[3]s",
}

// arn is the ARN CloudFormation's Fn::GetAtt [id, Arn] resolves to.
func (m *model) arn(r res) string {
	n := m.name(r)
	if r.typ() == "AWS::Events::Rule" {
		// A rule on a custom bus has the bus's name in its ARN.
		if bus, ok := r.props()["EventBusName"]; ok && m.render(r.t, bus) != "default" {
			n = m.render(r.t, bus) + "/" + n
		}
		return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", r.t.region, account, n)
	}
	if f, ok := arnFormats[r.typ()]; ok {
		return fmt.Sprintf(f, r.t.region, account, n)
	}
	return "arn:?:" + r.String()
}

// refValue is what {"Ref": id} resolves to for the resource.
func (m *model) refValue(r res) string {
	switch r.typ() {
	case "AWS::SNS::Topic":
		return m.arn(r)
	case "AWS::SQS::Queue":
		return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", r.t.region, account, m.name(r))
	case "AWS::KMS::Key":
		return r.t.stack + "." + r.id
	}
	if _, ok := nameProps[r.typ()]; ok {
		return m.name(r)
	}
	return "ref:" + r.String()
}

// render resolves the intrinsics TAP's templates use to a string.
func (m *model) render(t *tmpl, v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if id, ok := v["Ref"].(string); ok {
			switch id {
			case "AWS::AccountId":
				return account
			case "AWS::Partition":
				return "aws"
			case "AWS::Region":
				return t.region
			case "AWS::URLSuffix":
				return "amazonaws.com"
			}
			if _, ok := t.resources[id]; ok {
				return m.refValue(res{t, id})
			}
		}
		if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			id, attr := ga[0].(string), ga[1].(string)
			if _, ok := t.resources[id]; ok && attr == "Arn" {
				return m.arn(res{t, id})
			}
			return fmt.Sprintf("getatt:%s/%s.%s", t.stack, id, attr)
		}
		if j, ok := v["Fn::Join"].([]any); ok && len(j) == 2 {
			var parts []string
			for _, p := range asList(j[1]) {
				parts = append(parts, m.render(t, p))
			}
			return strings.Join(parts, j[0].(string))
		}
	}
	return fmt.Sprint(v)
}

// resolve finds the resource a value refers to: a Ref or GetAtt in the same
// template, or an ARN (spelled from names) of a resource in any template.
func (m *model) resolve(t *tmpl, v any) (res, bool) {
	if mv, ok := v.(map[string]any); ok {
		if id, ok := mv["Ref"].(string); ok {
			if _, ok := t.resources[id]; ok {
				return res{t, id}, true
			}
		}
		if ga, ok := mv["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			if _, ok := t.resources[ga[0].(string)]; ok {
				return res{t, ga[0].(string)}, true
			}
		}
	}
	r, ok := m.byArn[m.render(t, v)]
	return r, ok
}

// request is one run-time call as IAM evaluates it.
type request struct {
	// principal is "service:<name>" for a service principal, or
	// "account:<id>" for an identity (a role) of that account.
	principal string
	action    string
	resource  string
	context   map[string]string
}

// stmt is one IAM statement and the template it is written in.
type stmt struct {
	t    *tmpl
	body map[string]any
}

// policyStatements returns the statements of a policy document (or of a
// single statement, as AWS::Events::EventBusPolicy holds).
func policyStatements(t *tmpl, doc any) []stmt {
	d, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	if _, ok := d["Effect"]; ok {
		return []stmt{{t, d}}
	}
	var out []stmt
	for _, s := range list(d["Statement"]) {
		if s, ok := s.(map[string]any); ok {
			out = append(out, stmt{t, s})
		}
	}
	return out
}

// list is asList without inventing an element for an absent value.
func list(v any) []any {
	if v == nil {
		return nil
	}
	return asList(v)
}

// decision is the outcome of evaluating statements for a request.
type decision struct {
	allow, deny []stmt
}

func (d decision) allowed() bool { return len(d.allow) > 0 && len(d.deny) == 0 }

// evaluate matches request against statements. withPrincipal is set for
// resource policies (key, topic, queue, bus, trust), whose statements name
// principals; identity policies apply to their role and name none.
func (m *model) evaluate(stmts []stmt, req request, withPrincipal bool) decision {
	var d decision
	for _, st := range stmts {
		t, s := st.t, st.body
		if !m.matchAny(t, s["Action"], req.action, true) {
			continue
		}
		if r, ok := s["Resource"]; ok && !m.matchAny(t, r, req.resource, false) {
			continue
		}
		if withPrincipal && !m.principalMatches(t, s["Principal"], req.principal) {
			continue
		}
		deny := s["Effect"] == "Deny"
		if !m.conditionsHold(t, s["Condition"], req.context, deny) {
			continue
		}
		if deny {
			d.deny = append(d.deny, st)
		} else {
			d.allow = append(d.allow, st)
		}
	}
	return d
}

func (m *model) matchAny(t *tmpl, patterns any, value string, fold bool) bool {
	for _, p := range asList(patterns) {
		if glob(m.render(t, p), value, fold) {
			return true
		}
	}
	return false
}

func (m *model) principalMatches(t *tmpl, p any, principal string) bool {
	if p == "*" {
		return true
	}
	pm, ok := p.(map[string]any)
	if !ok {
		return false
	}
	for _, s := range asList(pm["Service"]) {
		if "service:"+m.render(t, s) == principal {
			return true
		}
	}
	for _, a := range asList(pm["AWS"]) {
		v := m.render(t, a)
		if v == "*" || ("account:"+strings.TrimSuffix(strings.TrimPrefix(v, "arn:aws:iam::"), ":root")) == principal {
			return true
		}
	}
	return false
}

// conditionsHold evaluates the operators TAP uses. An operator it does not
// know counts as failing for an Allow and holding for a Deny, so an unknown
// condition can only make the test stricter.
func (m *model) conditionsHold(t *tmpl, c any, ctx map[string]string, deny bool) bool {
	cm, _ := c.(map[string]any)
	for op, kv := range cm {
		for key, want := range kv.(map[string]any) {
			got, present := ctx[key]
			ok := false
			for _, w := range asList(want) {
				w := m.render(t, w)
				switch op {
				case "StringEquals", "ArnEquals":
					ok = ok || (present && got == w)
				case "StringLike", "ArnLike":
					ok = ok || (present && glob(w, got, false))
				case "Bool":
					ok = ok || (present && strings.EqualFold(got, w))
				default:
					return deny
				}
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// scoped reports whether a statement limits a service principal to calls on
// behalf of this account's resources.
func scoped(s map[string]any) bool {
	cm, _ := s["Condition"].(map[string]any)
	for _, kv := range cm {
		for key := range kv.(map[string]any) {
			if strings.EqualFold(key, "aws:SourceArn") || strings.EqualFold(key, "aws:SourceAccount") {
				return true
			}
		}
	}
	return false
}

// glob matches IAM's wildcards: * any run of characters, ? one character.
func glob(pattern, value string, fold bool) bool {
	expr := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	if fold {
		expr = "(?i)" + expr
	}
	return regexp.MustCompile(expr).MatchString(value)
}
