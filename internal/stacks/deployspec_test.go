package stacks

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/schema"
)

// The two-region twin runs on deployspec.For(cfg); these tests hold every
// value of that Spec equal to the synthesized templates, for the default
// configuration and for one that overrides each setting a Spec value comes
// from, so the twin rehearses what deploys (DESIGN §8.1).

// TestTemplatesEqualDeploySpec: no difference between the Spec and the
// templates, in the default app and in the nondefault one.
func TestTemplatesEqualDeploySpec(t *testing.T) {
	defaults, _ := appTemplates()
	for _, app := range []struct {
		name      string
		set       Set
		spec      deployspec.Spec
		templates map[string]map[string]any
	}{
		{"default", set, deployspec.For(cfg), defaults},
		{"nondefault", nondefault.set, deployspec.For(nondefault.cfg), nondefault.templates},
		{"strong", strong.set, deployspec.For(strong.cfg), strong.templates},
	} {
		t.Run(app.name, func(t *testing.T) {
			// The stacks are built from the very Spec the twin computes.
			if !reflect.DeepEqual(app.set.Spec, app.spec) {
				t.Errorf("stacks built from spec %+v, deployspec.For(cfg) = %+v", app.set.Spec, app.spec)
			}
			for _, d := range checkTemplates(app.spec, app.templates) {
				t.Error(d)
			}
		})
	}
}

// TestNondefaultAppOverridesEverySpecSetting: the nondefault app covers the
// twin's scenario overrides only if each configured Spec value differs from
// the default one.
func TestNondefaultAppOverridesEverySpecSetting(t *testing.T) {
	def, alt := deployspec.For(cfg), deployspec.For(nondefault.cfg)
	for _, v := range []struct {
		what     string
		def, alt any
		want     any // the value nondefaultContext asks for, if any
	}{
		{"Names", def.Names, alt.Names, nil},
		{"Primary", def.Primary, alt.Primary, nil},
		{"Secondary", def.Secondary, alt.Secondary, nil},
		{"Table.Billing", def.Table.Billing, alt.Table.Billing, deployspec.BillingProvisioned},
		{"Target.MaximumRetryAttempts", def.Target.MaximumRetryAttempts, alt.Target.MaximumRetryAttempts, 3},
		{"Target.MaximumEventAge", def.Target.MaximumEventAge, alt.Target.MaximumEventAge, 60 * time.Second},
		{"Function.Timeout", def.Function.Timeout, alt.Function.Timeout, 10 * time.Second},
		{"Function.AsyncRetryAttempts", def.Function.AsyncRetryAttempts, alt.Function.AsyncRetryAttempts, 0},
		{"Function.AsyncMaxEventAge", def.Function.AsyncMaxEventAge, alt.Function.AsyncMaxEventAge, 2 * time.Minute},
		{"DLQ.Retention", def.DLQ.Retention, alt.DLQ.Retention, 4 * 24 * time.Hour},
		{"HealthCheck.InsufficientDataHealthStatus", def.HealthCheck.InsufficientDataHealthStatus, alt.HealthCheck.InsufficientDataHealthStatus, "LastKnownStatus"},
		{"Table.Consistency", def.Table.Consistency, alt.Table.Consistency, schema.Strong},
		{"Table.StreamViewType", def.Table.StreamViewType, alt.Table.StreamViewType, ""},
		{"Table.ThirdRegion", def.Table.ThirdRegion, alt.Table.ThirdRegion, "eu-west-3"},
		{"Table.ThirdRegionRole", def.Table.ThirdRegionRole, alt.Table.ThirdRegionRole, config.ThirdReplica},
	} {
		if reflect.DeepEqual(v.def, v.alt) {
			t.Errorf("%s is %v in both apps; the nondefault app must override it", v.what, v.def)
		}
		if v.want != nil && !reflect.DeepEqual(v.alt, v.want) {
			t.Errorf("nondefault %s = %v, want %v", v.what, v.alt, v.want)
		}
	}
}

// TestContextOverridesReachTheSpec: tapcdk reads the context through
// config.FromCDK (the keys config.Keys lists), not config.Load on the whole
// map as the apps above do; an override the twin's scenario uses (-c) must
// reach the deployed Spec that way too, or cdk deploy silently ignores it.
func TestContextOverridesReachTheSpec(t *testing.T) {
	ctx := map[string]any{}
	for k, v := range nondefaultContext {
		ctx[k] = v
	}
	env := map[string]string{config.EnvAlertEmail: "ops@example.com"}
	viaCDK, err := config.FromCDK(mapContext(ctx), nil)
	if err != nil {
		t.Fatal(err)
	}
	viaCDK.AlertEmail, viaCDK.Warnings = env[config.EnvAlertEmail], nil
	want, err := config.Load(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := deployspec.For(viaCDK), deployspec.For(want); !reflect.DeepEqual(got, want) {
		t.Errorf("through config.FromCDK the Spec differs from the context's:\n got %+v\nwant %+v", got, want)
		keys := map[string]bool{}
		for _, k := range config.Keys() {
			keys[k] = true
		}
		for k := range ctx {
			if !keys[k] {
				t.Errorf("config.Keys() does not list %s: -c %s=%v is ignored by tapcdk", k, k, ctx[k])
			}
		}
	}
}

// mapContext is a config.ContextReader over a map (as the CDK holds -c values).
type mapContext map[string]any

func (m mapContext) TryGetContext(key *string) any { return m[*key] }

// TestCheckTemplatesReportsEachDifference proves the check can fail: each
// change to a deep copy of the default templates (or to the Spec) must be
// reported on a line naming the stack and the property.
func TestCheckTemplatesReportsEachDifference(t *testing.T) {
	spec := deployspec.For(cfg)
	n := spec.Names
	data, failover := n.DataStack(), n.FailoverStack()
	primary, secondary := n.ProcessingStack(spec.Primary), n.ProcessingStack(spec.Secondary)

	// props returns the properties of the one resource of typ in stack
	// whose name property is name ("" for the only one of its type).
	props := func(t *testing.T, templates map[string]map[string]any, stack, typ, name string) map[string]any {
		t.Helper()
		var found []map[string]any
		for _, r := range ofType(templates[stack]["Resources"].(map[string]any), typ) {
			p := r["Properties"].(map[string]any)
			if name == "" || p[nameProps[typ]] == name {
				found = append(found, p)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%s has %d %s named %q, want 1", stack, len(found), typ, name)
		}
		return found[0]
	}
	alarm := func(t *testing.T, ts map[string]map[string]any) map[string]any {
		return props(t, ts, failover, "AWS::CloudWatch::Alarm", n.HealthAlarm())
	}
	healthCheck := func(t *testing.T, ts map[string]map[string]any) map[string]any {
		return props(t, ts, failover, "AWS::Route53::HealthCheck", "")["HealthCheckConfig"].(map[string]any)
	}
	rule := func(t *testing.T, ts map[string]map[string]any, stack string) map[string]any {
		return props(t, ts, stack, "AWS::Events::Rule", spec.Rule.Name)
	}
	target := func(t *testing.T, ts map[string]map[string]any, stack string) map[string]any {
		return rule(t, ts, stack)["Targets"].([]any)[0].(map[string]any)
	}
	table := func(t *testing.T, ts map[string]map[string]any) map[string]any {
		return props(t, ts, data, "AWS::DynamoDB::GlobalTable", spec.Table.Name)
	}
	invokeConfig := func(t *testing.T, ts map[string]map[string]any, stack string) map[string]any {
		return props(t, ts, stack, "AWS::Lambda::EventInvokeConfig", "")
	}

	for _, tc := range []struct {
		name string
		// base is the app whose templates and Spec are changed: "" for the
		// default app, "strong" for the strong one.
		base string
		// One reported line must be of stack and name property.
		stack, property string
		mutate          func(t *testing.T, ts map[string]map[string]any)
		mutateSpec      func(s *deployspec.Spec)
	}{
		{name: "health alarm EvaluationPeriods 5 -> 4", stack: failover, property: "EvaluationPeriods",
			mutate: func(t *testing.T, ts map[string]map[string]any) { alarm(t, ts)["EvaluationPeriods"] = 4.0 }},
		{name: "health alarm without DatapointsToAlarm", stack: failover, property: "DatapointsToAlarm",
			mutate: func(t *testing.T, ts map[string]map[string]any) { delete(alarm(t, ts), "DatapointsToAlarm") }},
		{name: "health alarm TreatMissingData notBreaching", stack: failover, property: "TreatMissingData",
			mutate: func(t *testing.T, ts map[string]map[string]any) { alarm(t, ts)["TreatMissingData"] = "notBreaching" }},
		{name: "health alarm Threshold", stack: failover, property: "Threshold",
			mutate: func(t *testing.T, ts map[string]map[string]any) { alarm(t, ts)["Threshold"] = 60000.0 }},
		{name: "health alarm Period", stack: failover, property: "Period",
			mutate: func(t *testing.T, ts map[string]map[string]any) { alarm(t, ts)["Period"] = 300.0 }},
		{name: "health alarm Statistic", stack: failover, property: "Statistic",
			mutate: func(t *testing.T, ts map[string]map[string]any) { alarm(t, ts)["Statistic"] = "Maximum" }},
		{name: "health alarm ComparisonOperator", stack: failover, property: "ComparisonOperator",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				alarm(t, ts)["ComparisonOperator"] = "GreaterThanOrEqualToThreshold"
			}},
		{name: "health alarm on one rule (Dimensions)", stack: failover, property: "Dimensions",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				alarm(t, ts)["Dimensions"] = []any{map[string]any{"Name": "RuleName", "Value": spec.Rule.Name}}
			}},
		{name: "health check InsufficientDataHealthStatus", stack: failover, property: "HealthCheckConfig.InsufficientDataHealthStatus",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				healthCheck(t, ts)["InsufficientDataHealthStatus"] = "LastKnownStatus"
			}},
		{name: "health check on an alarm in the secondary", stack: failover, property: "HealthCheckConfig.AlarmIdentifier.Region",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				healthCheck(t, ts)["AlarmIdentifier"].(map[string]any)["Region"] = spec.Secondary
			}},
		{name: "health check on another alarm", stack: failover, property: "HealthCheckConfig.AlarmIdentifier.Name",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				healthCheck(t, ts)["AlarmIdentifier"].(map[string]any)["Name"] = "some-other-alarm"
			}},
		{name: "rule pattern with an extra key", stack: primary, property: "EventPattern",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				rule(t, ts, primary)["EventPattern"].(map[string]any)["account"] = []any{"123456789012"}
			}},
		{name: "rule pattern without a detail-type", stack: secondary, property: "EventPattern",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				rule(t, ts, secondary)["EventPattern"].(map[string]any)["detail-type"] = []any{schema.DetailTypeExecutionReport}
			}},
		{name: "target MaximumRetryAttempts", stack: primary, property: "RetryPolicy.MaximumRetryAttempts",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				target(t, ts, primary)["RetryPolicy"].(map[string]any)["MaximumRetryAttempts"] = 184.0
			}},
		{name: "target MaximumEventAgeInSeconds", stack: secondary, property: "RetryPolicy.MaximumEventAgeInSeconds",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				target(t, ts, secondary)["RetryPolicy"].(map[string]any)["MaximumEventAgeInSeconds"] = 3600.0
			}},
		{name: "target without its DLQ", stack: primary, property: "DeadLetterConfig.Arn",
			mutate: func(t *testing.T, ts map[string]map[string]any) { delete(target(t, ts, primary), "DeadLetterConfig") }},
		{name: "rule missing", stack: secondary, property: "AWS::Events::Rule",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				rs := ts[secondary]["Resources"].(map[string]any)
				for id, r := range rs {
					if r.(map[string]any)["Type"] == "AWS::Events::Rule" {
						delete(rs, id)
					}
				}
			}},
		{name: "function Timeout", stack: secondary, property: "Timeout",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				props(t, ts, secondary, "AWS::Lambda::Function", spec.Function.Name)["Timeout"] = 29.0
			}},
		{name: "async MaximumRetryAttempts", stack: primary, property: "MaximumRetryAttempts",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				invokeConfig(t, ts, primary)["MaximumRetryAttempts"] = 1.0
			}},
		{name: "async MaximumEventAgeInSeconds", stack: secondary, property: "MaximumEventAgeInSeconds",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				invokeConfig(t, ts, secondary)["MaximumEventAgeInSeconds"] = 60.0
			}},
		{name: "processing DLQ retention", stack: secondary, property: "MessageRetentionPeriod",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				props(t, ts, secondary, "AWS::SQS::Queue", n.ProcessingDLQ())["MessageRetentionPeriod"] = 345600.0
			}},
		{name: "delivery DLQ retention absent", stack: primary, property: "MessageRetentionPeriod",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				delete(props(t, ts, primary, "AWS::SQS::Queue", n.DeliveryDLQ()), "MessageRetentionPeriod")
			}},
		{name: "table without a stream", stack: data, property: "StreamSpecification.StreamViewType",
			mutate: func(t *testing.T, ts map[string]map[string]any) { delete(table(t, ts), "StreamSpecification") }},
		{name: "table stream NEW_IMAGE", stack: data, property: "StreamSpecification.StreamViewType",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				table(t, ts)["StreamSpecification"] = map[string]any{"StreamViewType": "NEW_IMAGE"}
			}},
		{name: "table BillingMode", stack: data, property: "BillingMode",
			mutate: func(t *testing.T, ts map[string]map[string]any) { table(t, ts)["BillingMode"] = "PROVISIONED" }},
		{name: "table KeySchema swapped", stack: data, property: "KeySchema",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				ks := table(t, ts)["KeySchema"].([]any)
				ks[0], ks[1] = ks[1], ks[0]
			}},
		{name: "table attribute type", stack: data, property: "AttributeDefinitions",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				table(t, ts)["AttributeDefinitions"].([]any)[0].(map[string]any)["AttributeType"] = "N"
			}},
		{name: "index projection ALL", stack: data, property: "GlobalSecondaryIndexes[" + schema.IndexByAccount + "].Projection",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				table(t, ts)["GlobalSecondaryIndexes"].([]any)[0].(map[string]any)["Projection"] = map[string]any{"ProjectionType": "ALL"}
			}},
		{name: "index renamed", stack: data, property: "GlobalSecondaryIndexes[" + schema.IndexByAccount + "]",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				table(t, ts)["GlobalSecondaryIndexes"].([]any)[0].(map[string]any)["IndexName"] = "byOther"
			}},
		{name: "table MultiRegionConsistency STRONG", stack: data, property: "MultiRegionConsistency",
			mutate: func(t *testing.T, ts map[string]map[string]any) { table(t, ts)["MultiRegionConsistency"] = "STRONG" }},
		{name: "table with a witness", stack: data, property: "GlobalTableWitnesses[].Region",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				table(t, ts)["GlobalTableWitnesses"] = []any{map[string]any{"Region": "us-east-2"}}
			}},
		{name: "function TABLE_CONSISTENCY strong", stack: primary, property: "Environment.Variables." + processor.EnvTableConsistency,
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				fn := props(t, ts, primary, "AWS::Lambda::Function", spec.Function.Name)
				fn["Environment"].(map[string]any)["Variables"].(map[string]any)[processor.EnvTableConsistency] = "strong"
			}},
		// The strong app's templates (two replicas and a witness).
		{name: "strong: witness in us-west-1", base: "strong", stack: data, property: "GlobalTableWitnesses[].Region",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				table(t, ts)["GlobalTableWitnesses"] = []any{map[string]any{"Region": "us-west-1"}}
			}},
		{name: "strong: witness as a third replica", base: "strong", stack: data, property: "Replicas[].Region",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				tb := table(t, ts)
				delete(tb, "GlobalTableWitnesses")
				tb["Replicas"] = append(tb["Replicas"].([]any), map[string]any{"Region": "us-east-2"})
			}},
		{name: "strong: MultiRegionConsistency absent", base: "strong", stack: data, property: "MultiRegionConsistency",
			mutate: func(t *testing.T, ts map[string]map[string]any) { delete(table(t, ts), "MultiRegionConsistency") }},
		{name: "strong: stream added", base: "strong", stack: data, property: "StreamSpecification.StreamViewType",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				table(t, ts)["StreamSpecification"] = map[string]any{"StreamViewType": "NEW_AND_OLD_IMAGES"}
			}},
		{name: "strong: function TABLE_CONSISTENCY absent", base: "strong", stack: secondary, property: "Environment.Variables." + processor.EnvTableConsistency,
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				fn := props(t, ts, secondary, "AWS::Lambda::Function", spec.Function.Name)
				delete(fn["Environment"].(map[string]any)["Variables"].(map[string]any), processor.EnvTableConsistency)
			}},
		{name: "heartbeat every 5 minutes", stack: primary, property: "ScheduleExpression",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				props(t, ts, primary, "AWS::Scheduler::Schedule", spec.Heartbeat.Name)["ScheduleExpression"] = "rate(5 minutes)"
			}},
		{name: "heartbeat retry policy", stack: secondary, property: "Target.RetryPolicy.MaximumEventAgeInSeconds",
			mutate: func(t *testing.T, ts map[string]map[string]any) {
				s := props(t, ts, secondary, "AWS::Scheduler::Schedule", spec.Heartbeat.Name)
				s["Target"].(map[string]any)["RetryPolicy"].(map[string]any)["MaximumEventAgeInSeconds"] = 120.0
			}},
		// The Spec side: a value the twin would run with but the stacks do not deploy.
		{name: "spec: target retries 3", stack: primary, property: "RetryPolicy.MaximumRetryAttempts",
			mutateSpec: func(s *deployspec.Spec) { s.Target.MaximumRetryAttempts = 3 }},
		{name: "spec: insufficient data LastKnownStatus", stack: failover, property: "HealthCheckConfig.InsufficientDataHealthStatus",
			mutateSpec: func(s *deployspec.Spec) { s.HealthCheck.InsufficientDataHealthStatus = "LastKnownStatus" }},
		{name: "spec: DLQ retention 4 days", stack: secondary, property: "MessageRetentionPeriod",
			mutateSpec: func(s *deployspec.Spec) { s.DLQ.Retention = 4 * 24 * time.Hour }},
		{name: "spec: health alarm 3 of 5", stack: failover, property: "DatapointsToAlarm",
			mutateSpec: func(s *deployspec.Spec) { s.HealthAlarm.DatapointsToAlarm = 3 }},
		{name: "spec: pattern with an extra key", stack: primary, property: "EventPattern",
			mutateSpec: func(s *deployspec.Spec) {
				s.Rule.Pattern = map[string][]string{"source": {schema.Source}, "detail-type": {schema.DetailTypeHeartbeat}, "region": {s.Primary}}
			}},
		{name: "spec: heartbeat every 2 minutes", stack: secondary, property: "ScheduleExpression",
			mutateSpec: func(s *deployspec.Spec) { s.Heartbeat.Rate = 2 * time.Minute }},
		{name: "spec: strong consistency", stack: data, property: "MultiRegionConsistency",
			mutateSpec: func(s *deployspec.Spec) {
				s.Table.Consistency, s.Table.ThirdRegion, s.Table.ThirdRegionRole = schema.Strong, "us-east-2", config.Witness
			}},
		{name: "spec: strong consistency reaches the function", stack: primary, property: "Environment.Variables." + processor.EnvTableConsistency,
			mutateSpec: func(s *deployspec.Spec) { s.Table.Consistency = schema.Strong }},
		{name: "spec: third replica", base: "strong", stack: data, property: "Replicas[].Region",
			mutateSpec: func(s *deployspec.Spec) { s.Table.ThirdRegionRole = config.ThirdReplica }},
		{name: "spec: no stream", stack: data, property: "StreamSpecification.StreamViewType",
			mutateSpec: func(s *deployspec.Spec) { s.Table.StreamViewType = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			templates, _ := appTemplates()
			s := deployspec.For(cfg)
			if tc.base == "strong" {
				templates, s = strong.templates, deployspec.For(strong.cfg)
			}
			templates = deepCopy(t, templates)
			if tc.mutate != nil {
				tc.mutate(t, templates)
			}
			if tc.mutateSpec != nil {
				tc.mutateSpec(&s)
			}
			diffs := checkTemplates(s, templates)
			for _, d := range diffs {
				// "<stack>/<id> (<type>) <property>: template …", or
				// "<stack>/: 0 <type> named …" for a missing resource.
				named := strings.Contains(d, " "+tc.property+":") || strings.Contains(d, " "+tc.property+" named")
				if strings.HasPrefix(d, tc.stack+"/") && named {
					t.Logf("reported: %s", d)
					return
				}
			}
			t.Errorf("no difference names %s and %s; got %d:\n%s", tc.stack, tc.property, len(diffs), strings.Join(diffs, "\n"))
		})
	}
}

// checkTemplates compares every value of spec with the synthesized templates
// (template JSON by stack name) and returns the differences, one line each,
// naming the stack and resource, the property, the template's value and the
// spec's. It walks:
//
//   - Data: the AWS::DynamoDB::GlobalTable named Table.Name — KeySchema,
//     AttributeDefinitions, GlobalSecondaryIndexes (name, keys,
//     Projection.ProjectionType), BillingMode, StreamSpecification (absent
//     under MRSC), MultiRegionConsistency (absent under MREC), a replica in
//     each region of TableReplicas and nowhere else, and the witness
//     (GlobalTableWitnesses) exactly when the Table has one;
//   - Processing, per region: the AWS::Events::Rule named Rule.Name — its
//     bus, EventPattern whole-equal to Rule.Pattern, one target (the
//     function) with RetryPolicy and the delivery DLQ as DeadLetterConfig;
//     the AWS::Lambda::Function's Timeout and TABLE_CONSISTENCY (the table's
//     mode); its AWS::Lambda::EventInvokeConfig
//     (retries, maximum event age, on-failure the processing DLQ); both
//     AWS::SQS::Queue DLQs' MessageRetentionPeriod; the
//     AWS::Scheduler::Schedule's rate and target retry policy;
//   - Failover: the health AWS::CloudWatch::Alarm (every parameter, no
//     dimensions: every rule of the region), the AWS::Route53::HealthCheck
//     (Type, AlarmIdentifier = that alarm in the primary,
//     InsufficientDataHealthStatus), and the endpoint's primary using that
//     health check and its secondary route.
func checkTemplates(spec deployspec.Spec, templates map[string]map[string]any) []string {
	c := &specChecker{spec: spec, templates: templates}
	n := spec.Names
	walk := func(stack string, check func(string)) {
		if _, ok := templates[stack]["Resources"].(map[string]any); !ok {
			c.diffs = append(c.diffs, fmt.Sprintf("%s/: stack missing from the templates", stack))
			return
		}
		check(stack)
	}
	walk(n.DataStack(), c.table)
	for _, region := range spec.Regions() {
		walk(n.ProcessingStack(region), c.processing)
	}
	walk(n.FailoverStack(), c.failover)
	return c.diffs
}

type specChecker struct {
	spec      deployspec.Spec
	templates map[string]map[string]any
	diffs     []string
}

// at is one resource of one stack, as diffs name it.
type at struct {
	stack, id, typ string
	props          map[string]any
}

func (r at) String() string { return fmt.Sprintf("%s/%s (%s)", r.stack, r.id, r.typ) }

func (c *specChecker) diff(r fmt.Stringer, property string, template, spec any) {
	c.diffs = append(c.diffs, fmt.Sprintf("%s %s: template %s, spec %s", r, property, show(template), show(spec)))
}

// show renders a value for a diff line: JSON, "absent" for nil.
func show(v any) string {
	if v == nil {
		return "absent"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func (c *specChecker) resources(stack string) map[string]any {
	rs, _ := c.templates[stack]["Resources"].(map[string]any)
	return rs
}

// find returns the one resource of typ in stack whose name property is name,
// or, with name "", the only resource of typ.
func (c *specChecker) find(stack, typ, name string) (at, bool) {
	var found []at
	rs := c.resources(stack)
	ids := make([]string, 0, len(rs))
	for id := range rs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r, _ := rs[id].(map[string]any)
		if r["Type"] != typ {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		if name == "" || props[nameProps[typ]] == name {
			found = append(found, at{stack, id, typ, props})
		}
	}
	if len(found) != 1 {
		what := typ
		if name != "" {
			what += " named " + name
		}
		c.diffs = append(c.diffs, fmt.Sprintf("%s/: %d %s, spec 1", stack, len(found), what))
		return at{}, false
	}
	return found[0], true
}

// refName is the physical name of the resource of typ that v refers to (by
// Ref or Fn::GetAtt), or v itself when it is a literal string.
func (c *specChecker) refName(stack string, v any, typ string) (string, bool) {
	if s, ok := v.(string); ok {
		return s, true
	}
	m, _ := v.(map[string]any)
	id, _ := m["Ref"].(string)
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
		id, _ = ga[0].(string)
	}
	r, _ := c.resources(stack)[id].(map[string]any)
	if r == nil || r["Type"] != typ {
		return "", false
	}
	props, _ := r["Properties"].(map[string]any)
	name, ok := props[nameProps[typ]].(string)
	return name, ok
}

// get follows a dotted path of object keys.
func get(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func (c *specChecker) str(r at, path, want string) {
	if got := get(r.props, path); got != want {
		c.diff(r, path, got, want)
	}
}

func (c *specChecker) num(r at, path string, want float64) {
	got := get(r.props, path)
	if f, ok := got.(float64); !ok || f != want {
		c.diff(r, path, got, want)
	}
}

func (c *specChecker) refersTo(r at, path string, typ, name string) {
	got := get(r.props, path)
	if n, ok := c.refName(r.stack, got, typ); !ok || n != name {
		c.diff(r, path, got, typ+" "+name)
	}
}

func (c *specChecker) table(stack string) {
	ts := c.spec.Table
	r, ok := c.find(stack, "AWS::DynamoDB::GlobalTable", ts.Name)
	if !ok {
		return
	}
	keySchema := func(p, s schema.Key) []any {
		return []any{
			map[string]any{"AttributeName": p.Name, "KeyType": "HASH"},
			map[string]any{"AttributeName": s.Name, "KeyType": "RANGE"},
		}
	}
	if want := keySchema(ts.Keys.Partition, ts.Keys.Sort); !reflect.DeepEqual(r.props["KeySchema"], want) {
		c.diff(r, "KeySchema", r.props["KeySchema"], want)
	}

	types := map[string]string{}
	for _, k := range []schema.Key{ts.Keys.Partition, ts.Keys.Sort} {
		types[k.Name] = string(k.Type)
	}
	wantIndexes := map[string]any{}
	for _, ix := range ts.Keys.Indexes {
		types[ix.Partition.Name], types[ix.Sort.Name] = string(ix.Partition.Type), string(ix.Sort.Type)
		wantIndexes[ix.Name] = map[string]any{
			"KeySchema":  keySchema(ix.Partition, ix.Sort),
			"Projection": map[string]any{"ProjectionType": string(ix.Projection)},
		}
	}
	gotTypes := map[string]string{}
	for _, d := range list(r.props["AttributeDefinitions"]) {
		d, _ := d.(map[string]any)
		name, _ := d["AttributeName"].(string)
		typ, _ := d["AttributeType"].(string)
		gotTypes[name] = typ
	}
	if !reflect.DeepEqual(gotTypes, types) || len(list(r.props["AttributeDefinitions"])) != len(types) {
		c.diff(r, "AttributeDefinitions", r.props["AttributeDefinitions"], types)
	}

	gotIndexes := map[string]any{}
	for _, g := range list(r.props["GlobalSecondaryIndexes"]) {
		g, _ := g.(map[string]any)
		name, _ := g["IndexName"].(string)
		gotIndexes[name] = map[string]any{"KeySchema": g["KeySchema"], "Projection": g["Projection"]}
	}
	if len(gotIndexes) != len(wantIndexes) || len(gotIndexes) != len(list(r.props["GlobalSecondaryIndexes"])) {
		c.diff(r, "GlobalSecondaryIndexes", r.props["GlobalSecondaryIndexes"], wantIndexes)
	}
	for name, want := range wantIndexes {
		got, ok := gotIndexes[name]
		switch {
		case !ok:
			c.diff(r, "GlobalSecondaryIndexes["+name+"]", nil, want)
		case !reflect.DeepEqual(get(got, "KeySchema"), get(want, "KeySchema")):
			c.diff(r, "GlobalSecondaryIndexes["+name+"].KeySchema", get(got, "KeySchema"), get(want, "KeySchema"))
		case !reflect.DeepEqual(get(got, "Projection"), get(want, "Projection")):
			// Also fails on NonKeyAttributes beside the projection type.
			c.diff(r, "GlobalSecondaryIndexes["+name+"].Projection", get(got, "Projection"), get(want, "Projection"))
		}
	}

	c.str(r, "BillingMode", ts.Billing)
	// An MREC table has a stream (it replicates through it); an MRSC table none.
	c.strOrAbsent(r, "StreamSpecification", "StreamSpecification.StreamViewType", ts.StreamViewType)
	// MREC leaves the property out (CloudFormation's default is EVENTUAL).
	c.strOrAbsent(r, "MultiRegionConsistency", "MultiRegionConsistency", ts.MultiRegionConsistency())

	var regions []string
	for _, rep := range list(r.props["Replicas"]) {
		region, _ := get(rep, "Region").(string)
		regions = append(regions, region)
	}
	sort.Strings(regions)
	if want := slices.Sorted(slices.Values(c.spec.TableReplicas())); !slices.Equal(regions, want) {
		c.diff(r, "Replicas[].Region", regions, want)
	}
	witnesses := []string{}
	for _, w := range list(r.props["GlobalTableWitnesses"]) {
		region, _ := get(w, "Region").(string)
		witnesses = append(witnesses, region)
	}
	want := []string{}
	if w := ts.Witness(); w != "" {
		want = append(want, w)
	}
	if !slices.Equal(witnesses, want) {
		c.diff(r, "GlobalTableWitnesses[].Region", witnesses, want)
	}
}

// strOrAbsent checks that path holds want, or, when want is "", that the
// property prop is absent.
func (c *specChecker) strOrAbsent(r at, prop, path, want string) {
	if want != "" {
		c.str(r, path, want)
		return
	}
	if _, present := r.props[prop]; present {
		c.diff(r, path, get(r.props, path), nil)
	}
}

func (c *specChecker) processing(stack string) {
	s, n := c.spec, c.spec.Names
	if rule, ok := c.find(stack, "AWS::Events::Rule", s.Rule.Name); ok {
		c.refersTo(rule, "EventBusName", "AWS::Events::EventBus", n.Bus())
		if got, ok := patternOf(rule.props["EventPattern"]); !ok || !samePattern(got, s.Rule.Pattern) {
			c.diff(rule, "EventPattern", rule.props["EventPattern"], s.Rule.Pattern)
		}
		targets := list(rule.props["Targets"])
		if len(targets) != 1 {
			c.diff(rule, "Targets", targets, "one target, the function "+s.Function.Name)
		} else {
			t := at{rule.stack, rule.id + ".Targets[0]", rule.typ, targets[0].(map[string]any)}
			c.refersTo(t, "Arn", "AWS::Lambda::Function", s.Function.Name)
			c.num(t, "RetryPolicy.MaximumRetryAttempts", float64(s.Target.MaximumRetryAttempts))
			c.num(t, "RetryPolicy.MaximumEventAgeInSeconds", s.Target.MaximumEventAge.Seconds())
			c.refersTo(t, "DeadLetterConfig.Arn", "AWS::SQS::Queue", n.DeliveryDLQ())
		}
	}

	if fn, ok := c.find(stack, "AWS::Lambda::Function", s.Function.Name); ok {
		c.num(fn, "Timeout", s.Function.Timeout.Seconds())
		c.str(fn, "Environment.Variables."+processor.EnvTableConsistency, string(s.Table.Consistency))
		var configs []at
		for id, r := range c.resources(stack) {
			r, _ := r.(map[string]any)
			props, _ := r["Properties"].(map[string]any)
			if r["Type"] == "AWS::Lambda::EventInvokeConfig" && reflect.DeepEqual(props["FunctionName"], map[string]any{"Ref": fn.id}) {
				configs = append(configs, at{stack, id, "AWS::Lambda::EventInvokeConfig", props})
			}
		}
		if len(configs) != 1 {
			c.diff(fn, "(its AWS::Lambda::EventInvokeConfig count)", len(configs), 1)
		} else {
			ic := configs[0]
			c.num(ic, "MaximumRetryAttempts", float64(s.Function.AsyncRetryAttempts))
			c.num(ic, "MaximumEventAgeInSeconds", s.Function.AsyncMaxEventAge.Seconds())
			c.refersTo(ic, "DestinationConfig.OnFailure.Destination", "AWS::SQS::Queue", n.ProcessingDLQ())
		}
	}

	for _, queue := range []string{n.DeliveryDLQ(), n.ProcessingDLQ()} {
		if q, ok := c.find(stack, "AWS::SQS::Queue", queue); ok {
			c.num(q, "MessageRetentionPeriod", s.DLQ.Retention.Seconds())
		}
	}

	if hb, ok := c.find(stack, "AWS::Scheduler::Schedule", s.Heartbeat.Name); ok {
		expr, _ := hb.props["ScheduleExpression"].(string)
		if rate, ok := parseRate(expr); !ok || rate != s.Heartbeat.Rate {
			c.diff(hb, "ScheduleExpression", hb.props["ScheduleExpression"], s.Heartbeat.Rate.String())
		}
		c.num(hb, "Target.RetryPolicy.MaximumRetryAttempts", float64(s.Heartbeat.RetryAttempts))
		c.num(hb, "Target.RetryPolicy.MaximumEventAgeInSeconds", s.Heartbeat.MaxEventAge.Seconds())
	}
}

func (c *specChecker) failover(stack string) {
	s := c.spec
	a := s.HealthAlarm
	alarm, ok := c.find(stack, "AWS::CloudWatch::Alarm", a.Name)
	if ok {
		c.str(alarm, "Namespace", a.Namespace)
		c.str(alarm, "MetricName", a.MetricName)
		c.str(alarm, "Statistic", a.Statistic)
		c.num(alarm, "Period", a.Period.Seconds())
		c.num(alarm, "EvaluationPeriods", float64(a.EvaluationPeriods))
		c.num(alarm, "DatapointsToAlarm", float64(a.DatapointsToAlarm))
		c.num(alarm, "Threshold", a.Threshold)
		c.str(alarm, "ComparisonOperator", a.ComparisonOperator)
		c.str(alarm, "TreatMissingData", a.TreatMissingData)
		// No dimensions: the latency of every rule of the region. Nor a
		// metric math or percentile form that would replace the above.
		if d := alarm.props["Dimensions"]; len(list(d)) != 0 {
			c.diff(alarm, "Dimensions", d, nil)
		}
		for _, p := range []string{"Metrics", "ExtendedStatistic", "Unit"} {
			if v, present := alarm.props[p]; present {
				c.diff(alarm, p, v, nil)
			}
		}
	}

	hc, ok := c.find(stack, "AWS::Route53::HealthCheck", "")
	if !ok {
		return
	}
	c.str(hc, "HealthCheckConfig.Type", s.HealthCheck.Type)
	c.refersTo(hc, "HealthCheckConfig.AlarmIdentifier.Name", "AWS::CloudWatch::Alarm", a.Name)
	c.str(hc, "HealthCheckConfig.AlarmIdentifier.Region", s.Primary)
	c.str(hc, "HealthCheckConfig.InsufficientDataHealthStatus", s.HealthCheck.InsufficientDataHealthStatus)

	if ep, ok := c.find(stack, "AWS::Events::Endpoint", s.Names.Endpoint()); ok {
		primary := get(ep.props, "RoutingConfig.FailoverConfig.Primary.HealthCheck")
		if !strings.Contains(show(primary), show(map[string]any{"Fn::GetAtt": []any{hc.id, "HealthCheckId"}})) {
			c.diff(ep, "RoutingConfig.FailoverConfig.Primary.HealthCheck", primary, "the ARN of "+hc.String())
		}
		c.str(ep, "RoutingConfig.FailoverConfig.Secondary.Route", s.Secondary)
	}
}

// patternOf reads a template's event pattern as key → values; false when a
// value is not an array of strings (a nested or content-filter pattern,
// which the Spec does not have).
func patternOf(v any) (map[string][]string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	out := map[string][]string{}
	for k, vs := range m {
		l, ok := vs.([]any)
		if !ok {
			return nil, false
		}
		for _, v := range l {
			s, ok := v.(string)
			if !ok {
				return nil, false
			}
			out[k] = append(out[k], s)
		}
	}
	return out, true
}

// samePattern: the same keys, each with the same values (EventBridge reads
// the values as a set, so their order does not matter; duplicates do).
func samePattern(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok || !slices.Equal(slices.Sorted(slices.Values(av)), slices.Sorted(slices.Values(bv))) {
			return false
		}
	}
	return true
}

var rateRE = regexp.MustCompile(`^rate\((\d+) (minute|hour|day)s?\)$`)

// parseRate reads a Scheduler rate expression, e.g. "rate(5 minutes)".
func parseRate(expr string) (time.Duration, bool) {
	m := rateRE.FindStringSubmatch(expr)
	if m == nil {
		return 0, false
	}
	v, err := strconv.Atoi(m[1])
	if err != nil || v <= 0 {
		return 0, false
	}
	unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[m[2]]
	return time.Duration(v) * unit, true
}
