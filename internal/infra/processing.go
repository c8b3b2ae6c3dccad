package infra

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/metrics"
	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/schema"
)

// DLQAgeThreshold is how old the oldest dead-lettered message may get before
// the age alarm says nobody is looking at the queue.
const DLQAgeThreshold = time.Hour

// ReplicationLatencyThreshold is the average replication latency (over three
// 5-minute periods) above which the pair of regions is drifting apart. MREC
// only: an MRSC table publishes no ReplicationLatency, and has no alarm on it.
const ReplicationLatencyThreshold = 30 * time.Second

// PipelineLatencyThreshold is the p99 of the processor's PipelineLatency
// (from EventBridge receiving an event to its outcome: applied, found or
// dead-lettered) over 5 minutes above which events take too long from
// publish to applied. A minute is beyond any healthy path (EventBridge
// delivers in well under a second) and about what one asynchronous retry of
// Lambda adds, so it fires when more than 1 % of events wait for retries.
const PipelineLatencyThreshold = time.Minute

// ProcessingProps configure one region's processing path. The construct is
// identical in both regions; only Region differs.
type ProcessingProps struct {
	// Spec is the environment's deployed behaviour: names, regions, rule,
	// target retry policy, function, dead-letter queues and heartbeat.
	// Required: deployspec.For(cfg).
	Spec deployspec.Spec
	// Region is the stack's region, one of Spec.Regions(); the other one is
	// its peer (for the replication metric). Required.
	Region string
	// AlertEmail is subscribed to the alert topic. Required.
	AlertEmail string
	// AssetDir holds the prebuilt processor `bootstrap`. Required.
	AssetDir string
	// ArchiveRetentionDays of the bus archive; 0 keeps events forever. Default 0.
	ArchiveRetentionDays int
	// Processor configures the function; its Function (from Spec), table,
	// queue and label fields are filled in by NewProcessing.
	Processor ProcessorProps
}

// Processing is everything one region runs.
type Processing struct {
	constructs.Construct
	Bus           *TradingBus
	Rule          awsevents.Rule
	DeliveryDLQ   awssqs.Queue
	ProcessingDLQ awssqs.Queue
	Processor     *Processor
	Heartbeat     *Heartbeat
	Alerts        *AlertTopic
	Alarms        []awscloudwatch.Alarm
	Dashboard     awscloudwatch.Dashboard
}

// NewProcessing creates the region's bus, archive, rule, processor, both
// dead-letter queues, heartbeat, alert topic, alarms and dashboard.
func NewProcessing(scope constructs.Construct, id string, p ProcessingProps) *Processing {
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	spec := p.Spec
	n := spec.Names
	if p.Region != spec.Primary && p.Region != spec.Secondary {
		panic(fmt.Sprintf("infra: processing region %s is neither of the spec's %v", p.Region, spec.Regions()))
	}
	out := &Processing{Construct: c}

	out.Bus = NewTradingBus(c, "TradingBus", TradingBusProps{
		BusName: n.Bus(), ArchiveName: n.Archive(), ArchiveRetentionDays: p.ArchiveRetentionDays,
	})
	out.DeliveryDLQ = NewDeadLetterQueue(c, "DeliveryDLQ", DeadLetterQueueProps{QueueName: n.DeliveryDLQ(), DLQ: spec.DLQ})
	out.ProcessingDLQ = NewDeadLetterQueue(c, "ProcessingDLQ", DeadLetterQueueProps{QueueName: n.ProcessingDLQ(), DLQ: spec.DLQ})

	pp := p.Processor
	pp.Function = spec.Function
	pp.AssetDir = p.AssetDir
	pp.TableName = spec.Table.Name
	pp.TableArn = TableArn(stack, p.Region, spec.Table.Name)
	pp.TableConsistency = spec.Table.Consistency
	pp.ProcessingDLQ = out.ProcessingDLQ
	pp.ServiceName = n.ServiceName()
	pp.MetricsNamespace = n.MetricsNamespace()
	out.Processor = NewProcessor(c, "Processor", pp)

	out.Rule = NewProcessorRule(c, "ProcessorRule", ProcessorRuleProps{
		Rule:        spec.Rule,
		Target:      spec.Target,
		Bus:         out.Bus.Bus,
		Function:    out.Processor.Function,
		DeliveryDLQ: out.DeliveryDLQ,
	})
	out.Heartbeat = NewHeartbeat(c, "Heartbeat", HeartbeatProps{
		Heartbeat: spec.Heartbeat, BusArn: out.Bus.Bus.EventBusArn(), Region: p.Region,
	})
	out.Alerts = NewAlertTopic(c, "Alerts", AlertTopicProps{
		TopicName: n.AlertTopic(), Email: p.AlertEmail,
		// This region's alarms, and the failover health alarm in the primary.
		AlarmNames: []string{n.Alarm(p.Region, "*"), spec.HealthAlarm.Name},
	})

	timeout := out.Processor.Function.Timeout()
	specs := processingAlarms(n, p, out, timeout)
	out.Alarms = make([]awscloudwatch.Alarm, 0, len(specs))
	for _, a := range specs {
		out.Alarms = append(out.Alarms, NewAlarm(c, a.id, a.spec, out.Alerts.Topic))
	}
	out.Dashboard = newDashboard(c, n.Dashboard(p.Region), out.Alarms)
	return out
}

type namedAlarm struct {
	id   string
	spec AlarmSpec
}

// processingAlarms are the alarms of DESIGN §5 for one region.
func processingAlarms(n names.Names, p ProcessingProps, out *Processing, timeout awscdk.Duration) []namedAlarm {
	peer := p.Spec.Peer(p.Region)
	minute, fiveMinutes := awscdk.Duration_Minutes(jsii.Number(1)), awscdk.Duration_Minutes(jsii.Number(5))
	max := func(o *awscloudwatch.MetricOptions) *awscloudwatch.MetricOptions {
		o.Statistic, o.Period = jsii.String("Maximum"), minute
		return o
	}
	sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: fiveMinutes}
	ruleDims := map[string]*string{"EventBusName": jsii.String(n.Bus()), "RuleName": jsii.String(p.Spec.Rule.Name)}
	fn := out.Processor.Function
	timeoutMs := *timeout.ToMilliseconds(nil)

	var alarms []namedAlarm
	for _, q := range []struct {
		id, what, name string
		queue          awssqs.Queue
		meaning        string
	}{
		{"DeliveryDLQ", "delivery-dlq", n.DeliveryDLQ(), out.DeliveryDLQ, "EventBridge could not deliver events to the processor"},
		{"ProcessingDLQ", "processing-dlq", n.ProcessingDLQ(), out.ProcessingDLQ, "the processor failed or rejected events"},
	} {
		alarms = append(alarms,
			namedAlarm{q.id + "DepthAlarm", AlarmSpec{
				Name:        n.Alarm(p.Region, q.what+"-depth"),
				Description: fmt.Sprintf("%s has messages: %s. Inspect with `tapctl dlq list`, fix, then `tapctl dlq redrive`.", q.name, q.meaning),
				Metric:      q.queue.MetricApproximateNumberOfMessagesVisible(max(&awscloudwatch.MetricOptions{})),
				Threshold:   1,
			}},
			namedAlarm{q.id + "AgeAlarm", AlarmSpec{
				Name:        n.Alarm(p.Region, q.what+"-age"),
				Description: fmt.Sprintf("The oldest message in %s is over %s old: dead-lettered events are not being handled.", q.name, DLQAgeThreshold),
				Metric:      q.queue.MetricApproximateAgeOfOldestMessage(max(&awscloudwatch.MetricOptions{})),
				Threshold:   DLQAgeThreshold.Seconds(),
			}},
		)
	}
	alarms = append(alarms,
		namedAlarm{"ProcessorErrorsAlarm", AlarmSpec{
			Name:        n.Alarm(p.Region, "processor-errors"),
			Description: "The processor returned errors (Lambda retries them, then sends them to the processing DLQ).",
			Metric:      fn.MetricErrors(sum),
			Threshold:   1,
		}},
		namedAlarm{"ProcessorThrottlesAlarm", AlarmSpec{
			Name:        n.Alarm(p.Region, "processor-throttles"),
			Description: "The processor was throttled: raise its reserved concurrency or the account limit.",
			Metric:      fn.MetricThrottles(sum),
			Threshold:   1,
		}},
		namedAlarm{"ProcessorDurationAlarm", AlarmSpec{
			Name:              n.Alarm(p.Region, "processor-duration-p99"),
			Description:       "Processor p99 duration is above 80% of its timeout for 15 minutes: invocations are close to timing out.",
			Metric:            fn.MetricDuration(&awscloudwatch.MetricOptions{Statistic: jsii.String("p99"), Period: fiveMinutes}),
			Threshold:         0.8 * timeoutMs,
			Comparison:        awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods: 3,
		}},
		namedAlarm{"RuleFailedInvocationsAlarm", AlarmSpec{
			Name:        n.Alarm(p.Region, "rule-failed-invocations"),
			Description: "EventBridge failed permanently to invoke the processor for some events.",
			Metric:      metric("AWS/Events", "FailedInvocations", "Sum", fiveMinutes, ruleDims),
			Threshold:   1,
		}},
		namedAlarm{"RuleInvocationsSentToDlqAlarm", AlarmSpec{
			Name:        n.Alarm(p.Region, "rule-invocations-sent-to-dlq"),
			Description: "EventBridge sent events to the delivery DLQ after exhausting its retry policy.",
			Metric:      metric("AWS/Events", "InvocationsSentToDlq", "Sum", fiveMinutes, ruleDims),
			Threshold:   1,
		}},
		// The processor's own EMF metric (DESIGN §5), in its namespace and
		// service dimension. Silence is not breaching: no events means no
		// values, and a silent pipeline is what the heartbeat's health alarm
		// and the DLQ alarms watch.
		namedAlarm{"PipelineLatencyAlarm", AlarmSpec{
			Name: n.Alarm(p.Region, "pipeline-latency-p99"),
			Description: fmt.Sprintf("p99 of %s over 5 minutes is above %s: events take too long from publish (EventBridge's time) to applied. "+
				"Look at the processor's throttles, errors and duration, and at the rule's retries.", metrics.PipelineLatency, PipelineLatencyThreshold),
			Metric: metric(n.MetricsNamespace(), metrics.PipelineLatency, "p99", fiveMinutes, map[string]*string{
				metrics.ServiceDimension: jsii.String(n.ServiceName()),
			}),
			Threshold:        float64(PipelineLatencyThreshold.Milliseconds()),
			Comparison:       awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
		}},
	)
	// MRSC global tables publish no ReplicationLatency
	// (V2globaltables_HowItWorks.html, "Monitoring global tables"): writes
	// replicate before they return, so an alarm on it would only sit in
	// INSUFFICIENT_DATA. A replica that cannot reach the others fails its
	// writes instead, which the processor-errors alarm and the DLQs see.
	if p.Spec.Table.Consistency != schema.Strong {
		// DynamoDB publishes ReplicationLatency in the region a write comes
		// from, one series per receiving region: this region's alarm watches
		// what its replica sends to the peer, and the peer's alarm the reverse.
		alarms = append(alarms, namedAlarm{"ReplicationLatencyAlarm", AlarmSpec{
			Name:        n.Alarm(p.Region, "replication-latency"),
			Description: fmt.Sprintf("Replication of %s from %s to %s averages over %s.", p.Spec.Table.Name, p.Region, peer, ReplicationLatencyThreshold),
			Metric: metric("AWS/DynamoDB", "ReplicationLatency", "Average", fiveMinutes, map[string]*string{
				"TableName": jsii.String(p.Spec.Table.Name), "ReceivingRegion": jsii.String(peer),
			}),
			Threshold:         float64(ReplicationLatencyThreshold.Milliseconds()),
			Comparison:        awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods: 3,
		}})
	}
	return alarms
}
