package stacks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/tap-trading/tap/internal/infra"
	"github.com/tap-trading/tap/internal/metrics"
	"github.com/tap-trading/tap/internal/processor"
)

// TestRegionAlarms: each region has the alarms of DESIGN §5, on the right metric.
func TestRegionAlarms(t *testing.T) {
	n := cfg.Names()
	tests := []struct {
		what       string
		namespace  string
		metric     string
		dimensions any
	}{
		{"delivery-dlq-depth", "AWS/SQS", "ApproximateNumberOfMessagesVisible", nil},
		{"delivery-dlq-age", "AWS/SQS", "ApproximateAgeOfOldestMessage", nil},
		{"processing-dlq-depth", "AWS/SQS", "ApproximateNumberOfMessagesVisible", nil},
		{"processing-dlq-age", "AWS/SQS", "ApproximateAgeOfOldestMessage", nil},
		{"processor-errors", "AWS/Lambda", "Errors", nil},
		{"processor-throttles", "AWS/Lambda", "Throttles", nil},
		{"processor-duration-p99", "AWS/Lambda", "Duration", nil},
		{"rule-failed-invocations", "AWS/Events", "FailedInvocations", assertions.Match_ArrayWith(&[]any{
			map[string]any{"Name": "EventBusName", "Value": n.Bus()},
			map[string]any{"Name": "RuleName", "Value": n.ProcessorRule()},
		})},
		{"rule-invocations-sent-to-dlq", "AWS/Events", "InvocationsSentToDlq", nil},
		{"replication-latency", "AWS/DynamoDB", "ReplicationLatency", nil},
		{"pipeline-latency-p99", n.MetricsNamespace(), metrics.PipelineLatency, nil},
	}
	for _, region := range cfg.Regions() {
		tp := processingTemplate(region)
		for _, tt := range tests {
			t.Run(region+"/"+tt.what, func(t *testing.T) {
				props := map[string]any{
					"AlarmName":  n.Alarm(region, tt.what),
					"Namespace":  tt.namespace,
					"MetricName": tt.metric,
				}
				if tt.dimensions != nil {
					props["Dimensions"] = tt.dimensions
				}
				hasResource(t, tp, "AWS::CloudWatch::Alarm", props)
			})
		}
	}
}

func TestDurationAlarmIsP99(t *testing.T) {
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			hasResource(t, processingTemplate(region), "AWS::CloudWatch::Alarm", map[string]any{
				"AlarmName":         cfg.Names().Alarm(region, "processor-duration-p99"),
				"ExtendedStatistic": "p99",
				"Threshold":         0.8 * float64(cfg.ProcessorTimeout.Milliseconds()),
			})
		})
	}
}

// TestPipelineLatencyAlarm: each region alarms when the p99 of the
// processor's PipelineLatency over 5 minutes exceeds the threshold, on the
// very series the processor writes: its EMF namespace and metric name, the
// service dimension alone with the processor's service name.
func TestPipelineLatencyAlarm(t *testing.T) {
	n := cfg.Names()
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			hasResource(t, processingTemplate(region), "AWS::CloudWatch::Alarm", map[string]any{
				"AlarmName":  n.Alarm(region, "pipeline-latency-p99"),
				"Namespace":  n.MetricsNamespace(),
				"MetricName": metrics.PipelineLatency,
				"Dimensions": assertions.Match_Exact([]any{
					map[string]any{"Name": metrics.ServiceDimension, "Value": n.ServiceName()},
				}),
				"ExtendedStatistic":  "p99",
				"Period":             300,
				"EvaluationPeriods":  1,
				"Threshold":          float64(infra.PipelineLatencyThreshold.Milliseconds()),
				"ComparisonOperator": "GreaterThanThreshold",
				"TreatMissingData":   "notBreaching",
			})
			// The processor writes to the namespace and service the alarm reads.
			hasResource(t, processingTemplate(region), "AWS::Lambda::Function", map[string]any{
				"FunctionName": n.Processor(),
				"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
					processor.EnvMetricsNamespace: n.MetricsNamespace(),
					processor.EnvServiceName:      n.ServiceName(),
				})},
			})
		})
	}
}

// TestReplicationAlarmWatchesThisRegionsReplica: the ReplicationLatency series
// in a region is the one its replica sends to the peer.
func TestReplicationAlarmWatchesThisRegionsReplica(t *testing.T) {
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			hasResource(t, processingTemplate(region), "AWS::CloudWatch::Alarm", map[string]any{
				"MetricName": "ReplicationLatency",
				"Dimensions": assertions.Match_Exact([]any{
					map[string]any{"Name": "ReceivingRegion", "Value": cfg.Peer(region)},
					map[string]any{"Name": "TableName", "Value": cfg.Names().Table()},
				}),
			})
		})
	}
}

// TestNoReplicationLatencyAlarmUnderMRSC: an MRSC table publishes no
// ReplicationLatency (V2globaltables_HowItWorks.html, "Monitoring global
// tables"), so strong mode has no alarm on it; every other alarm of the
// region stays.
func TestNoReplicationLatencyAlarmUnderMRSC(t *testing.T) {
	for _, a := range []struct {
		name string
		app  app
	}{{"strong", strong}, {"nondefault", nondefault}} {
		for _, region := range a.app.cfg.Regions() {
			t.Run(a.name+"/"+region, func(t *testing.T) {
				tp := a.app.tpl[a.app.cfg.Names().ProcessingStack(region)]
				alarms := resources(t, tp, "AWS::CloudWatch::Alarm")
				for id, al := range alarms {
					if al["Properties"].(map[string]any)["MetricName"] == "ReplicationLatency" {
						t.Errorf("alarm %s watches ReplicationLatency, which an MRSC table does not publish", id)
					}
				}
				eventual := resources(t, processingTemplate(cfg.PrimaryRegion), "AWS::CloudWatch::Alarm")
				if len(alarms) != len(eventual)-1 {
					t.Errorf("%d alarms, want the %d of an eventual table but replication-latency", len(alarms), len(eventual)-1)
				}
			})
		}
	}
}

// TestEveryAlarmNotifiesAlertTopic walks every alarm of every stack.
func TestEveryAlarmNotifiesAlertTopic(t *testing.T) {
	for name, tp := range tpl {
		t.Run(name, func(t *testing.T) {
			alarms := resources(t, tp, "AWS::CloudWatch::Alarm")
			if len(alarms) == 0 && name != cfg.Names().DataStack() {
				t.Fatalf("stack %s has no alarms", name)
			}
			for id, a := range alarms {
				actions, _ := a["Properties"].(map[string]any)["AlarmActions"].([]any)
				if len(actions) != 1 || !isAlertTopic(actions[0]) {
					b, _ := json.Marshal(actions)
					t.Errorf("alarm %s AlarmActions = %s, want exactly the %s topic", id, b, cfg.Names().AlertTopic())
				}
			}
		})
	}
}

// isAlertTopic reports whether v refers to the alert topic: a Ref to the
// topic in a processing stack, or its ARN built from the name elsewhere.
func isAlertTopic(v any) bool {
	b, _ := json.Marshal(v)
	s := string(b)
	if strings.Contains(s, ":"+cfg.Names().AlertTopic()+`"`) {
		return true
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	id, ok := m["Ref"].(string)
	if !ok {
		return false
	}
	for _, tp := range tpl {
		if r, ok := (*tp.ToJSON())["Resources"].(map[string]any)[id].(map[string]any); ok {
			p, _ := r["Properties"].(map[string]any)
			return r["Type"] == "AWS::SNS::Topic" && p["TopicName"] == cfg.Names().AlertTopic()
		}
	}
	return false
}

func TestDashboardShowsEveryAlarm(t *testing.T) {
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			tp := processingTemplate(region)
			dashboards := resources(t, tp, "AWS::CloudWatch::Dashboard")
			if len(dashboards) != 1 {
				t.Fatalf("found %d dashboards, want 1", len(dashboards))
			}
			for _, d := range dashboards {
				p := d["Properties"].(map[string]any)
				if p["DashboardName"] != cfg.Names().Dashboard(region) {
					t.Errorf("DashboardName = %v, want %s", p["DashboardName"], cfg.Names().Dashboard(region))
				}
				body, _ := json.Marshal(p["DashboardBody"])
				for id := range resources(t, tp, "AWS::CloudWatch::Alarm") {
					if !strings.Contains(string(body), `"`+id+`"`) {
						t.Errorf("dashboard does not show alarm %s", id)
					}
				}
			}
		})
	}
}
