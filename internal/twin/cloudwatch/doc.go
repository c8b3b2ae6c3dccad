// Package cloudwatch is a CloudWatch metric alarm for the two-region twin
// (DESIGN §8.1): the alarm's configuration, the documented decision that
// turns the datapoints of an evaluation range into OK, ALARM or
// INSUFFICIENT_DATA (Evaluate), and an Alarm that aggregates timestamped
// samples into periods and evaluates them on an injected clock. It makes no
// AWS call.
//
// # What it follows
//
// Alarm states, settings and evaluation cadence — CloudWatch User Guide,
// "Alarm evaluation",
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html:
//   - OK, ALARM, and INSUFFICIENT_DATA ("the alarm has just started, the
//     metric is not available, or not enough data is available"): a new
//     Alarm starts INSUFFICIENT_DATA.
//   - Period, Evaluation Periods (N) and Datapoints to Alarm (M): the
//     breaching datapoints need not be consecutive but must lie within the
//     last N. With every datapoint present, the alarm is ALARM when at least
//     M of the last N breach and OK otherwise; the guide's figure (M = N = 3)
//     goes back to OK at the first period that does not breach, so a 5-of-5
//     alarm returns to OK on one good datapoint.
//   - "For any period of one minute or longer, an alarm is evaluated every
//     minute" (AWSEvaluationInterval); data from before the alarm was created
//     is used if the metric was reported then.
//
// Missing data — CloudWatch User Guide, "Configuring how CloudWatch alarms
// treat missing data",
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html:
//   - TreatMissingData breaching, notBreaching, ignore (keep the current
//     state) or missing (the default).
//   - At each evaluation CloudWatch retrieves more datapoints than N: the
//     evaluation range. If at least N of them exist, the most recent N real
//     ones decide and the missing-data setting is not used. If fewer exist,
//     every real one in the range is used and the missing ones are filled
//     "only as few times as possible" by the setting, so that N are
//     evaluated.
//   - Its two example tables (N = 3, range 5; M = 3 and M = 2) are encoded
//     row by row in evaluate_test.go, including the "premature alarm state"
//     rule: with missing data treated as missing, an alarm whose real
//     datapoints all breach but are fewer than M still goes to ALARM when
//     the oldest breaching one is at least M periods old.
//   - The archived edition of the same section,
//     github.com/awsdocs/amazon-cloudwatch-user-guide, doc_source/AlarmThatSendsEmail.md
//     at commit 05fd32f63861ca6646c8aa5c94334fd6e0dfdbf5, had two more rows that settle what the current page leaves open: with
//     `missing`, `- - - - X` (too recent for the premature rule) is
//     INSUFFICIENT_DATA, and `X - - - -` is ALARM "because the oldest
//     evaluated data point is breaching and there aren't any non-breaching
//     data points" — the premature rule applies only when no real datapoint
//     in the range is non-breaching, which is what reconciles the current
//     page's rule with its own M = 2 row `0 - X - -` (OK).
//   - Knowledge Center, "Why did my CloudWatch alarm send me a notification
//     after a single breached data point?",
//     https://aws.amazon.com/premiumsupport/knowledge-center/cloudwatch-alarm-single-data-point/,
//     states the same premature rule over the evaluation range.
//
// Late data — Knowledge Center, "Why did my CloudWatch alarm trigger when its
// metric doesn't have any breaching data points?",
// https://aws.amazon.com/premiumsupport/knowledge-center/cloudwatch-trigger-metric/: alarms
// evaluate the datapoints available at that moment; data that has not
// flowed in yet is not seen. EventBridge User Guide, "Monitoring Amazon
// EventBridge",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html:
// EventBridge sends its metrics every minute, best effort, and "a data point
// for a given minute might be delayed before being available through
// CloudWatch" — no figure is given, so DeliveryDelay is a parameter.
//
// # ASSUMED where no page says
//
//   - The evaluation range: the guide says its length "depends on the length
//     of the alarm period and whether it is based on a metric with standard
//     resolution or high resolution" and gives one example, 5 for N = 3.
//     EvaluationRange assumes N + 2 for every N (LocalStack's emulator makes
//     the same choice); AlarmConfig.Range overrides it.
//   - Delivery: a period's datapoint becomes visible as a whole at its end
//     plus DeliveryDelay; until then the period counts as missing.
//   - The range is anchored on the evaluation time: it is the Range most
//     recent complete periods before now, visible or not. So silence makes
//     a breaching M = N alarm go to ALARM only when the last real datapoint
//     has left the range — Range periods after it, not N — exactly as the
//     guide's second-row note describes ("the next time … it will go to
//     ALARM, as that non-breaching data point will no longer be in the
//     evaluation range").
//   - Periods are aligned as time.Time.Truncate(Period) aligns them (whole
//     minutes for 60 s, as CloudWatch aligns standard periods), or to
//     AlarmConfig.Epoch when set. The guide's sliding window for periods
//     longer than the one-minute evaluation cadence is not modelled: the
//     deployed alarm's period is 60 s.
//   - When a new alarm is first evaluated is not documented: the caller
//     decides by calling Evaluate.
//   - A sample that is NaN or infinite is dropped (PutMetricData rejects
//     such values).
package cloudwatch
