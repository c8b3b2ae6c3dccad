package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// newDashboard shows the state of every alarm, then each alarm's metric
// against its threshold, two graphs a row.
func newDashboard(scope constructs.Construct, name string, alarms []awscloudwatch.Alarm) awscloudwatch.Dashboard {
	refs := make([]interfacesawscloudwatch.IAlarmRef, len(alarms))
	for i, a := range alarms {
		refs[i] = a
	}
	rows := []*[]awscloudwatch.IWidget{{
		awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title: jsii.String("Alarms"), Alarms: &refs, Width: jsii.Number(24),
		}),
	}}
	for i := 0; i < len(alarms); i += 2 {
		var row []awscloudwatch.IWidget
		for _, a := range alarms[i:min(i+2, len(alarms))] {
			row = append(row, awscloudwatch.NewAlarmWidget(&awscloudwatch.AlarmWidgetProps{
				Title: a.AlarmName(), Alarm: a, Width: jsii.Number(12),
			}))
		}
		rows = append(rows, &row)
	}
	return awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(name),
		Widgets:       &rows,
	})
}
