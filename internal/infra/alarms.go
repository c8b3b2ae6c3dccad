package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tap-trading/tap/internal/deployspec"
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
	// DatapointsToAlarm of the EvaluationPeriods must breach. Default unset,
	// which CloudWatch reads as all of them.
	DatapointsToAlarm int
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
		DatapointsToAlarm:  optionalNumber(s.DatapointsToAlarm),
		TreatMissingData:   s.TreatMissingData,
	})
	a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
	return a
}

// specAlarm is the AlarmSpec of a deployspec alarm: every parameter from the
// spec, the metric with no dimensions. Only the description is the caller's.
func specAlarm(a deployspec.Alarm, description string) AlarmSpec {
	return AlarmSpec{
		Name:        a.Name,
		Description: description,
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String(a.Namespace),
			MetricName: jsii.String(a.MetricName),
			Statistic:  jsii.String(a.Statistic),
			Period:     awscdk.Duration_Seconds(jsii.Number(a.Period.Seconds())),
		}),
		Threshold:         a.Threshold,
		Comparison:        lookup("ComparisonOperator", comparisonOperators, a.ComparisonOperator),
		EvaluationPeriods: a.EvaluationPeriods,
		DatapointsToAlarm: a.DatapointsToAlarm,
		TreatMissingData:  lookup("TreatMissingData", treatMissingData, a.TreatMissingData),
	}
}

// The CDK's Go enums are named by their members (GREATER_THAN_THRESHOLD),
// not by the CloudFormation values a Spec holds (GreaterThanThreshold), so
// each is looked up rather than converted.
var (
	comparisonOperators = map[string]awscloudwatch.ComparisonOperator{
		"GreaterThanOrEqualToThreshold":            awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		"GreaterThanThreshold":                     awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		"LessThanThreshold":                        awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		"LessThanOrEqualToThreshold":               awscloudwatch.ComparisonOperator_LESS_THAN_OR_EQUAL_TO_THRESHOLD,
		"LessThanLowerOrGreaterThanUpperThreshold": awscloudwatch.ComparisonOperator_LESS_THAN_LOWER_OR_GREATER_THAN_UPPER_THRESHOLD,
		"GreaterThanUpperThreshold":                awscloudwatch.ComparisonOperator_GREATER_THAN_UPPER_THRESHOLD,
		"LessThanLowerThreshold":                   awscloudwatch.ComparisonOperator_LESS_THAN_LOWER_THRESHOLD,
	}
	treatMissingData = map[string]awscloudwatch.TreatMissingData{
		"breaching":    awscloudwatch.TreatMissingData_BREACHING,
		"notBreaching": awscloudwatch.TreatMissingData_NOT_BREACHING,
		"ignore":       awscloudwatch.TreatMissingData_IGNORE,
		"missing":      awscloudwatch.TreatMissingData_MISSING,
	}
)

// lookup returns the CDK enum member for a CloudFormation value, and panics
// (stopping synthesis) on a value the CDK has no member for.
func lookup[E any](what string, members map[string]E, value string) E {
	e, ok := members[value]
	if !ok {
		panic(fmt.Sprintf("infra: %s %q is not a CloudFormation value the CDK knows", what, value))
	}
	return e
}

// optionalNumber is nil for 0 (the property is left out), else n.
func optionalNumber(n int) *float64 {
	if n == 0 {
		return nil
	}
	return jsii.Number(n)
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
