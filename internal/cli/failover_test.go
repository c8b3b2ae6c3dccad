package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/store"
)

// failoverEnv is a deployed failover path: the health alarm (moto), a
// health check (moto's Route 53, or a fake), and a fake EventBridge that
// answers DescribeEndpoint, which moto lacks.
type failoverEnv struct {
	healthCheckID string
	events        *fakeAWS
	cw            *cloudwatch.Client
}

func (f *fixture) deployFailover(t *testing.T) failoverEnv {
	t.Helper()
	ctx := context.Background()
	cfg := f.cfg(primary)
	fe := failoverEnv{cw: cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801) // moto speaks Query only
	})}
	if _, err := fe.cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(f.names.HealthAlarm()), Namespace: aws.String("AWS/Events"),
		MetricName: aws.String("IngestionToInvocationStartLatency"), Statistic: cwtypes.StatisticAverage,
		Period: aws.Int32(60), EvaluationPeriods: aws.Int32(5), Threshold: aws.Float64(30000),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
	}); err != nil {
		t.Fatal(err)
	}
	hc, err := route53.NewFromConfig(cfg).CreateHealthCheck(ctx, &route53.CreateHealthCheckInput{
		CallerReference: aws.String(f.names.Env),
		HealthCheckConfig: &r53types.HealthCheckConfig{
			Type:                         r53types.HealthCheckTypeCloudwatchMetric,
			AlarmIdentifier:              &r53types.AlarmIdentifier{Name: aws.String(f.names.HealthAlarm()), Region: r53types.CloudWatchRegionUsEast1},
			InsufficientDataHealthStatus: r53types.InsufficientDataHealthStatusHealthy,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	fe.healthCheckID = aws.ToString(hc.HealthCheck.Id)
	fe.events = newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		if r.Target != "AWSEvents.DescribeEndpoint" {
			awsError(w, 400, "UnknownOperationException", r.Target)
			return
		}
		var in struct{ Name string }
		_ = json.Unmarshal(r.Body, &in)
		if in.Name != f.names.Endpoint() {
			awsError(w, 400, "ResourceNotFoundException", "no endpoint "+in.Name)
			return
		}
		awsJSON(w, 200, fmt.Sprintf(`{"Name":%q,"EndpointId":"abcde.veo","EndpointUrl":"https://abcde.veo.endpoint.events.amazonaws.com",
			"State":"ACTIVE","ReplicationConfig":{"State":"ENABLED"},
			"RoutingConfig":{"FailoverConfig":{"Primary":{"HealthCheck":"arn:aws:route53:::healthcheck/%s"},"Secondary":{"Route":%q}}},
			"EventBuses":[{"EventBusArn":"arn:aws:events:us-east-1:123456789012:event-bus/%s"},{"EventBusArn":"arn:aws:events:us-west-2:123456789012:event-bus/%s"}]}`,
			f.names.Endpoint(), fe.healthCheckID, secondary, f.names.Bus(), f.names.Bus()))
	})
	f.env.Endpoints[eventbridge.ServiceID] = fe.events.URL
	return fe
}

// alarmState reads the health alarm's state from moto.
func (fe failoverEnv) alarmState(t *testing.T, name string) string {
	t.Helper()
	out, err := fe.cw.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
	if err != nil || len(out.MetricAlarms) != 1 {
		t.Fatalf("describe alarm %s: %v", name, err)
	}
	return string(out.MetricAlarms[0].StateValue)
}

func TestFailoverStatus(t *testing.T) {
	f := newFixture(t)
	fe := f.deployFailover(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	f.env.Now = func() time.Time { return now }
	at := func(d time.Duration) func() time.Time { return func() time.Time { return now.Add(d) } }
	ctx := context.Background()

	// us-east-1's heartbeat: 30 s old at home; the us-west-2 replica still
	// has the one before, processed 60 s earlier (the replication lag).
	f.table(primary)
	f.table(secondary)
	for _, hb := range []struct {
		table, region, processedIn string
		sent, processed            time.Duration
	}{
		{primary, primary, primary, -30 * time.Second, -29 * time.Second},
		{secondary, primary, primary, -90 * time.Second, -89 * time.Second},
		// us-west-2's heartbeat, only at home so far.
		{secondary, secondary, secondary, -11 * time.Second, -10 * time.Second},
	} {
		st := store.New(dynamodb.NewFromConfig(f.cfg(hb.table)), f.names.Table(), hb.processedIn, at(hb.processed))
		if _, err := st.RecordHeartbeat(ctx, event.Heartbeat{Region: hb.region, SentAt: now.Add(hb.sent)}); err != nil {
			t.Fatal(err)
		}
	}

	var st failoverStatus
	f.run("", "failover", "status", "-o", "json").want(t, ExitOK).decode(t, &st)
	if st.Endpoint == nil || st.Endpoint.ID != "abcde.veo" || st.Endpoint.State != "ACTIVE" || st.SecondaryRegion != secondary {
		t.Errorf("endpoint = %+v secondary %s, want abcde.veo ACTIVE and %s", st.Endpoint, st.SecondaryRegion, secondary)
	}
	if st.Health == nil || st.Health.Routing != RoutePrimary || st.Health.HealthCheckID != fe.healthCheckID {
		t.Errorf("health = %+v, want routing primary on %s", st.Health, fe.healthCheckID)
	}
	if st.Alarm == nil || st.Alarm.State != "OK" || st.Alarm.Name != f.names.HealthAlarm() {
		t.Errorf("alarm = %+v, want %s OK", st.Alarm, f.names.HealthAlarm())
	}
	if len(st.Heartbeats) != 2 {
		t.Fatalf("heartbeats = %+v, want 2", st.Heartbeats)
	}
	east, w := st.Heartbeats[0], st.Heartbeats[1]
	if east.Region != primary || east.Age != "30s" || east.ProcessedRegion != primary || east.ReplicationLag != "1m0s" {
		t.Errorf("us-east-1 heartbeat = %+v, want age 30s, processed in us-east-1, replication lag 1m0s", east)
	}
	if w.Region != secondary || w.Age != "11s" || w.ReplicationLag != "not replicated yet" {
		t.Errorf("us-west-2 heartbeat = %+v, want age 11s, not replicated yet", w)
	}

	// The one request to the fake: DescribeEndpoint by name, signed SigV4.
	reqs := fe.events.calls()
	if len(reqs) != 1 || reqs[0].Target != "AWSEvents.DescribeEndpoint" || authAlgorithm(reqs[0].Auth) != "AWS4-HMAC-SHA256" {
		t.Errorf("EventBridge requests = %+v, want one SigV4-signed DescribeEndpoint", reqs)
	}

	text := f.run("", "failover", "status").want(t, ExitOK)
	if !contains(text.stdout, "PRIMARY (us-east-1)", "abcde.veo", f.names.HealthAlarm()+" OK", "HEARTBEAT OF", "1m0s") {
		t.Errorf("text status:\n%s", text.stdout)
	}
}

func TestFailoverStatusReportsWhatItCannotRead(t *testing.T) {
	f := newFixture(t)
	fake := newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		awsError(w, 400, "AccessDeniedException", "not authorized to perform events:DescribeEndpoint")
	})
	f.env.Endpoints[eventbridge.ServiceID] = fake.URL
	r := f.run("", "failover", "status").want(t, ExitFailure)
	if !contains(r.stderr, "describe global endpoint "+f.names.Endpoint(), "AccessDenied", "IAM permissions") ||
		!contains(r.stderr, "alarm "+f.names.HealthAlarm()+" does not exist") {
		t.Errorf("stderr = %q", r.stderr)
	}
}

// fakeHealthCheck is a Route 53 stand-in whose CLOUDWATCH_METRIC health
// check follows the alarm in moto, as Route 53's does.
func fakeHealthCheck(t *testing.T, fe failoverEnv, alarm string) *fakeAWS {
	t.Helper()
	return newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		if !strings.HasSuffix(r.Path, "/healthcheck/"+fe.healthCheckID+"/status") {
			w.WriteHeader(404)
			return
		}
		status := "Success: CloudWatch alarm state is OK"
		if fe.alarmState(t, alarm) == "ALARM" {
			status = "Failure: CloudWatch alarm state is ALARM"
		}
		var obs strings.Builder
		for _, region := range []string{"us-east-1", "us-west-1", "eu-west-1"} {
			fmt.Fprintf(&obs, `<HealthCheckObservation><Region>%s</Region><IPAddress>192.0.2.1</IPAddress><StatusReport><Status>%s</Status><CheckedTime>2026-01-05T14:30:00Z</CheckedTime></StatusReport></HealthCheckObservation>`, region, status)
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><GetHealthCheckStatusResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><HealthCheckObservations>%s</HealthCheckObservations></GetHealthCheckStatusResponse>`, obs.String())
	})
}

func TestFailoverDrill(t *testing.T) {
	f := newFixture(t)
	fe := f.deployFailover(t)
	r53 := fakeHealthCheck(t, fe, f.names.HealthAlarm())
	f.env.Endpoints[route53.ServiceID] = r53.URL

	var rep drillReport
	r := f.run("", "failover", "drill", "--yes", "--poll", "20ms", "--timeout", "10s", "-o", "json").want(t, ExitOK)
	r.decode(t, &rep)
	if !rep.Completed || rep.Secondary != secondary || rep.FailedOverAt.IsZero() || rep.FailedBackAt.IsZero() {
		t.Errorf("drill = %+v, want completed with failover and failback times", rep)
	}
	if !rep.AlarmSetAt.Before(rep.FailedOverAt) && !rep.AlarmSetAt.Equal(rep.FailedOverAt) || rep.RestoredAt.Before(rep.FailedOverAt) {
		t.Errorf("drill times out of order: %+v", rep)
	}
	if got := fe.alarmState(t, f.names.HealthAlarm()); got != "OK" {
		t.Errorf("alarm after drill = %s, want OK", got)
	}
	if !contains(r.stderr, "set to ALARM", "routing moved to the secondary", "set to OK", "routing back on the primary") {
		t.Errorf("drill progress on stderr:\n%s", r.stderr)
	}
}

// TestFailoverDrillTimesOutAndRestores uses moto's Route 53, whose health
// checks never fail: the drill times out, exits 1, and restores the alarm.
func TestFailoverDrillTimesOutAndRestores(t *testing.T) {
	f := newFixture(t)
	fe := f.deployFailover(t)
	r := f.run("", "failover", "drill", "--yes", "--poll", "20ms", "--timeout", "300ms").want(t, ExitFailure)
	if !contains(r.stdout, "drill: FAIL", "did not fail within 300ms") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if got := fe.alarmState(t, f.names.HealthAlarm()); got != "OK" {
		t.Errorf("alarm after a timed-out drill = %s, want OK (restored)", got)
	}
	if !contains(r.stderr, "restored to OK") {
		t.Errorf("stderr lacks the restore: %s", r.stderr)
	}
}

func TestFailoverDrillNeedsYes(t *testing.T) {
	f := newFixture(t)
	r := f.run("", "failover", "drill").want(t, ExitUsage)
	if !contains(r.stderr, "moves live traffic", "--yes") {
		t.Errorf("stderr = %q", r.stderr)
	}
}

// TestFailoverStatusWithoutCredentials runs the real SDK default chain in an
// environment stripped of credentials: one error, one hint, exit 1, no SDK
// warnings and nothing half-filled on stdout. Every endpoint is a dead
// loopback port, so nothing could reach AWS even if a call were made.
func TestFailoverStatusWithoutCredentials(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_DEFAULT_PROFILE": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
	} {
		t.Setenv(k, v)
	}
	var stdout, stderr syncBuffer
	code := Main(context.Background(), []string{"failover", "status", "--env", "dev"}, Env{Stdout: &stdout, Stderr: &stderr})
	if code != ExitFailure {
		t.Errorf("exit %d, want %d", code, ExitFailure)
	}
	errText := stderr.String()
	if strings.Count(errText, "tapctl:") != 1 || strings.Count(errText, "what to do:") != 1 ||
		!contains(errText, "no AWS credentials found", "AWS_PROFILE") || strings.Contains(errText, "IMDS") || strings.Contains(errText, "SDK ") {
		t.Errorf("stderr is not one clear error with one hint:\n%s", errText)
	}
	if stdout.String() != "" {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
}
