package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// AlarmSpec describes one alarm; every alarm TAP creates goes through NewAlarm
// so none can be created without the alert action.
type AlarmSpec struct {
	// Name is the physical alarm name (names.Alarm / names.HealthAlarm). Required.
	Name string
	// Description says what fired and what to do. Required.
	Description string
	// Metric is what the alarm watches, with its statistic and period. Required.
	Metric awscloudwatch.IMetric
	// Threshold is compared with the metric. Required.
	Threshold float64
	// Comparison defaults to GreaterThanOrEqualToThreshold.
	Comparison awscloudwatch.ComparisonOperator
	// EvaluationPeriods defaults to 1.
	EvaluationPeriods int
	// TreatMissingData defaults to NOT_BREACHING: most of these metrics are
	// only published when something happens.
	TreatMissingData awscloudwatch.TreatMissingData
}

// NewAlarm creates the alarm and makes it notify topic.
func NewAlarm(scope constructs.Construct, id string, s AlarmSpec, topic awssns.ITopic) awscloudwatch.Alarm {
	if s.Comparison == "" {
		s.Comparison = awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD
	}
	if s.EvaluationPeriods == 0 {
		s.EvaluationPeriods = 1
	}
	if s.TreatMissingData == "" {
		s.TreatMissingData = awscloudwatch.TreatMissingData_NOT_BREACHING
	}
	a := awscloudwatch.NewAlarm(scope, jsii.String(id), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(s.Name),
		AlarmDescription:   jsii.String(s.Description),
		Metric:             s.Metric,
		Threshold:          jsii.Number(s.Threshold),
		ComparisonOperator: s.Comparison,
		EvaluationPeriods:  jsii.Number(s.EvaluationPeriods),
		TreatMissingData:   s.TreatMissingData,
	})
	a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
	return a
}

// metric builds a metric with explicit dimensions, statistic and period.
func metric(namespace, name, statistic string, period awscdk.Duration, dims map[string]*string) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String(namespace),
		MetricName:    jsii.String(name),
		Statistic:     jsii.String(statistic),
		Period:        period,
		DimensionsMap: &dims,
	})
}
