package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/spf13/cobra"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/store"
)

// Routing says where the global endpoint sends events.
const (
	RoutePrimary   = "primary"
	RouteSecondary = "secondary"
	RouteUnknown   = "unknown"
)

// healthyFraction is Route 53's rule: an endpoint is healthy when more than
// 18% of its health checkers report it healthy.
const healthyFraction = 0.18

func (a *app) failoverCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "Show and drill the global endpoint's regional failover",
		Long: `The global endpoint routes events to the primary region while its Route 53
health check is healthy, and to the secondary region when it is not. The health
check follows the CloudWatch alarm tap-<env>-primary-health. Both commands run
against the primary region (--region, default us-east-1).`,
		Example: `  tapctl failover status --env dev
  tapctl failover drill --env dev --yes`,
		Args: usageArgs(cobra.ArbitraryArgs),
		RunE: needSubcommand,
	}
	cmd.AddCommand(a.failoverStatusCmd(), a.failoverDrillCmd())
	return cmd
}

// endpointView is the global endpoint as DescribeEndpoint shows it.
type endpointView struct {
	Name            string   `json:"name"`
	ID              string   `json:"id"`
	URL             string   `json:"url"`
	State           string   `json:"state"`
	StateReason     string   `json:"stateReason,omitempty"`
	HealthCheckARN  string   `json:"healthCheckArn"`
	SecondaryRegion string   `json:"secondaryRegion"`
	Replication     string   `json:"replication"`
	EventBuses      []string `json:"eventBuses"`
}

// healthView is the health check's status.
type healthView struct {
	HealthCheckID string `json:"healthCheckId"`
	Checkers      int    `json:"checkers"`
	Healthy       int    `json:"healthyCheckers"`
	// Routing is primary while the check is healthy, secondary when not.
	Routing string `json:"routing"`
	// Sample is one checker's last report.
	Sample string `json:"sample,omitempty"`
}

// alarmView is the health alarm's state.
type alarmView struct {
	Name    string    `json:"name"`
	State   string    `json:"state"`
	Reason  string    `json:"reason"`
	Updated time.Time `json:"updated"`
}

// heartbeatView is one region's heartbeat, as its own replica and the other
// region's replica have it.
type heartbeatView struct {
	Region          string    `json:"region"`
	SentAt          time.Time `json:"sentAt"`
	Age             string    `json:"age"`
	ProcessedRegion string    `json:"processedRegion"`
	ProcessedAt     time.Time `json:"processedAt"`
	// PeerRegion's replica shows the heartbeat processed at PeerProcessedAt;
	// ReplicationLag is how far that is behind (0 when caught up).
	PeerRegion      string    `json:"peerRegion"`
	PeerProcessedAt time.Time `json:"peerProcessedAt,omitzero"`
	ReplicationLag  string    `json:"replicationLag"`
	Error           string    `json:"error,omitempty"`
}

// failoverStatus is what failover status reports; a part that could not be
// read has its error instead.
type failoverStatus struct {
	Env             string          `json:"env"`
	PrimaryRegion   string          `json:"primaryRegion"`
	SecondaryRegion string          `json:"secondaryRegion"`
	Endpoint        *endpointView   `json:"endpoint,omitempty"`
	Health          *healthView     `json:"health,omitempty"`
	Alarm           *alarmView      `json:"alarm,omitempty"`
	Heartbeats      []heartbeatView `json:"heartbeats"`
	Errors          []string        `json:"errors,omitempty"`
}

func (a *app) failoverStatusCmd() *cobra.Command {
	var secondary string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the endpoint's state and routing, the health alarm, heartbeats and replication lag",
		Long: `Show the global endpoint (DescribeEndpoint: state, health check, secondary
region), where it routes now (the Route 53 health check's status), the health
alarm's state, and each region's heartbeat: its age and which region processed
it, read from both replicas of the table; the difference of their processedAt
is the replication lag.`,
		Example: `  tapctl failover status --env dev
  tapctl failover status --env prod --region eu-west-1 --secondary-region eu-central-1 --output json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			t, err := a.aws(cmd.Context(), a.region())
			if err != nil {
				return err
			}
			st := a.failoverStatus(cmd.Context(), t, secondary)
			if asJSON {
				if err := writeJSON(a.env.Stdout, st); err != nil {
					return err
				}
			} else {
				writeFailoverStatus(a.env.Stdout, st)
			}
			if len(st.Errors) > 0 {
				for _, e := range st.Errors {
					fmt.Fprintf(a.env.Stderr, "tapctl: %s\n", e)
				}
				return failed()
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&secondary, "secondary-region", "", "the secondary region (env TAP_SECONDARY_REGION; default the endpoint's, else us-west-2)")
	return cmd
}

// failoverStatus gathers every part of the status it can.
func (a *app) failoverStatus(ctx context.Context, t target, secondaryFlag string) failoverStatus {
	st := failoverStatus{Env: t.names.Env, PrimaryRegion: t.region, Heartbeats: []heartbeatView{}}
	ep, err := describeEndpoint(ctx, t)
	if err != nil {
		st.Errors = append(st.Errors, explain(err).Error())
	} else {
		st.Endpoint = ep
		if h, err := healthOf(ctx, t, ep.HealthCheckARN); err != nil {
			st.Errors = append(st.Errors, explain(err).Error())
		} else {
			st.Health = &h
		}
	}
	endpointSecondary := ""
	if ep != nil {
		endpointSecondary = ep.SecondaryRegion
	}
	st.SecondaryRegion = first(secondaryFlag, a.env.Getenv(EnvSecondaryRegion), endpointSecondary, config.Defaults().SecondaryRegion)
	if al, err := alarmOf(ctx, t); err != nil {
		st.Errors = append(st.Errors, explain(err).Error())
	} else {
		st.Alarm = &al
	}
	st.Heartbeats, err = a.heartbeats(ctx, t, st.SecondaryRegion)
	if err != nil {
		st.Errors = append(st.Errors, explain(err).Error())
	}
	return st
}

// describeEndpoint reads the environment's global endpoint.
func describeEndpoint(ctx context.Context, t target) (*endpointView, error) {
	name := t.names.Endpoint()
	out, err := t.eventbridge().DescribeEndpoint(ctx, &eventbridge.DescribeEndpointInput{Name: &name})
	if err != nil {
		return nil, fmt.Errorf("describe global endpoint %s in %s: %w", name, t.region, err)
	}
	ep := &endpointView{
		Name: aws.ToString(out.Name), ID: aws.ToString(out.EndpointId), URL: aws.ToString(out.EndpointUrl),
		State: string(out.State), StateReason: aws.ToString(out.StateReason),
	}
	if rc := out.RoutingConfig; rc != nil && rc.FailoverConfig != nil {
		if p := rc.FailoverConfig.Primary; p != nil {
			ep.HealthCheckARN = aws.ToString(p.HealthCheck)
		}
		if s := rc.FailoverConfig.Secondary; s != nil {
			ep.SecondaryRegion = aws.ToString(s.Route)
		}
	}
	if out.ReplicationConfig != nil {
		ep.Replication = string(out.ReplicationConfig.State)
	}
	for _, b := range out.EventBuses {
		ep.EventBuses = append(ep.EventBuses, aws.ToString(b.EventBusArn))
	}
	if ep.HealthCheckARN == "" {
		return ep, fmt.Errorf("global endpoint %s has no primary health check", name)
	}
	return ep, nil
}

// healthOf reads the health check's status from its checkers.
func healthOf(ctx context.Context, t target, healthCheckARN string) (healthView, error) {
	id := healthCheckARN[strings.LastIndex(healthCheckARN, "/")+1:]
	out, err := t.route53().GetHealthCheckStatus(ctx, &route53.GetHealthCheckStatusInput{HealthCheckId: &id})
	if err != nil {
		return healthView{}, fmt.Errorf("health check %s status: %w", id, err)
	}
	h := healthView{HealthCheckID: id, Checkers: len(out.HealthCheckObservations), Routing: RouteUnknown}
	for _, o := range out.HealthCheckObservations {
		if o.StatusReport == nil {
			continue
		}
		status := aws.ToString(o.StatusReport.Status)
		if strings.HasPrefix(status, "Success") {
			h.Healthy++
		}
		if h.Sample == "" {
			h.Sample = status
		}
	}
	if h.Checkers > 0 {
		h.Routing = RouteSecondary
		if float64(h.Healthy) > healthyFraction*float64(h.Checkers) {
			h.Routing = RoutePrimary
		}
	}
	return h, nil
}

// alarmOf reads the health alarm.
func alarmOf(ctx context.Context, t target) (alarmView, error) {
	name := t.names.HealthAlarm()
	out, err := t.cloudwatch().DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
	if err != nil {
		return alarmView{}, fmt.Errorf("describe alarm %s: %w", name, err)
	}
	if len(out.MetricAlarms) == 0 {
		return alarmView{}, fmt.Errorf("alarm %s does not exist in %s: is %s deployed? (check --env and --region)", name, t.region, t.names.FailoverStack())
	}
	al := out.MetricAlarms[0]
	return alarmView{Name: name, State: string(al.StateValue), Reason: aws.ToString(al.StateReason), Updated: aws.ToTime(al.StateUpdatedTimestamp)}, nil
}

// heartbeats reads each region's heartbeat from its own replica and the
// other's.
func (a *app) heartbeats(ctx context.Context, primary target, secondaryRegion string) ([]heartbeatView, error) {
	sec, err := a.aws(ctx, secondaryRegion)
	if err != nil {
		return nil, err
	}
	stores := map[string]*store.Store{primary.region: primary.store(), secondaryRegion: sec.store()}
	pairs := [][2]string{{primary.region, secondaryRegion}, {secondaryRegion, primary.region}}
	now := a.env.Now()
	var views []heartbeatView
	var errs []error
	for _, p := range pairs {
		region, peer := p[0], p[1]
		v := heartbeatView{Region: region, PeerRegion: peer, Age: "-", ReplicationLag: "-"}
		home, err := stores[region].GetHeartbeat(ctx, region)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, err)
			}
			v.Error = err.Error()
			views = append(views, v)
			continue
		}
		v.SentAt, v.ProcessedRegion, v.ProcessedAt = home.SentAt, home.ProcessedRegion, home.ProcessedAt
		v.Age = age(now, home.SentAt)
		remote, err := stores[peer].GetHeartbeat(ctx, region)
		switch {
		case err == nil:
			v.PeerProcessedAt = remote.ProcessedAt
			v.ReplicationLag = max(0, home.ProcessedAt.Sub(remote.ProcessedAt)).String()
		case errors.Is(err, store.ErrNotFound):
			v.ReplicationLag = "not replicated yet"
		default:
			errs = append(errs, err)
			v.Error = err.Error()
		}
		views = append(views, v)
	}
	return views, errors.Join(errs...)
}

func writeFailoverStatus(w io.Writer, st failoverStatus) {
	tw := newTable(w)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	row("env", "%s (primary %s, secondary %s)", st.Env, st.PrimaryRegion, st.SecondaryRegion)
	if ep := st.Endpoint; ep != nil {
		row("endpoint", "%s %s, state %s%s", ep.Name, ep.ID, ep.State, paren(ep.StateReason))
		row("endpoint url", "%s", orDash(ep.URL))
		row("replication", "%s", orDash(ep.Replication))
	}
	if h := st.Health; h != nil {
		target := st.PrimaryRegion
		if h.Routing == RouteSecondary {
			target = st.SecondaryRegion
		}
		row("routing", "%s (%s): health check %s, %d of %d checkers healthy", strings.ToUpper(h.Routing), target, h.HealthCheckID, h.Healthy, h.Checkers)
		if h.Sample != "" {
			row("", "%s", truncate(h.Sample, 100))
		}
	}
	if al := st.Alarm; al != nil {
		row("health alarm", "%s %s since %s", al.Name, al.State, timestamp(al.Updated))
	}
	tw.Flush()
	if len(st.Heartbeats) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "HEARTBEAT OF\tSENT\tAGE\tPROCESSED IN\tPROCESSED AT\tREPLICATED TO\tREPLICATION LAG")
	for _, h := range st.Heartbeats {
		if h.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t%s\t%s\n", h.Region, h.PeerRegion, h.Error)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Region, timestamp(h.SentAt), h.Age, h.ProcessedRegion,
			timestamp(h.ProcessedAt), h.PeerRegion, h.ReplicationLag)
	}
	tw.Flush()
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// drillReport is what failover drill reports.
type drillReport struct {
	Alarm            string    `json:"alarm"`
	HealthCheckID    string    `json:"healthCheckId"`
	Secondary        string    `json:"secondaryRegion"`
	AlarmSetAt       time.Time `json:"alarmSetAt"`
	FailedOverAt     time.Time `json:"failedOverAt,omitzero"`
	RestoredAt       time.Time `json:"restoredAt,omitzero"`
	FailedBackAt     time.Time `json:"failedBackAt,omitzero"`
	TimeToFailover   string    `json:"timeToFailover"`
	TimeToFailback   string    `json:"timeToFailback"`
	AlarmReasserted  int       `json:"alarmReasserted"`
	Completed        bool      `json:"completed"`
	Problem          string    `json:"problem,omitempty"`
	restoreAttempted bool
}

// drillReason is the state reason the drill sets; it names the operator's tool.
const drillReason = "tapctl failover drill: forced to test regional failover"

func (a *app) failoverDrillCmd() *cobra.Command {
	var yes bool
	var timeout, poll, hold time.Duration
	cmd := &cobra.Command{
		Use:   "drill --yes",
		Short: "Force the health alarm to ALARM, watch routing move to the secondary, restore",
		Long: `Drill the regional failover for real: set the health alarm to ALARM with
SetAlarmState, watch the Route 53 health check turn unhealthy (the global
endpoint then routes events to the secondary region), hold for --hold, set
the alarm back to OK, and watch routing return to the primary. Reports the
time each move took. While forced, the alarm is set to ALARM again whenever
CloudWatch's own evaluation returns it to OK.

Live traffic moves to the secondary region during the drill, so --yes is
required. The alarm is restored to OK however the drill ends (timeout,
error, Ctrl-C).`,
		Example: `  tapctl failover drill --env dev --yes
  tapctl failover drill --env dev --yes --hold 5m --timeout 20m`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			if !yes {
				return usagef("failover drill moves live traffic of env %s to the secondary region: re-run with --yes", a.envName())
			}
			if poll <= 0 || timeout <= 0 || hold < 0 {
				return usagef("--poll and --timeout must be positive, --hold not negative")
			}
			t, err := a.aws(cmd.Context(), a.region())
			if err != nil {
				return err
			}
			rep, derr := a.drill(cmd.Context(), t, timeout, poll, hold)
			if asJSON {
				if err := writeJSON(a.env.Stdout, rep); err != nil {
					return err
				}
			} else {
				writeDrill(a.env.Stdout, rep)
			}
			if derr != nil {
				return derr
			}
			if !rep.Completed {
				return failed()
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm that traffic may move to the secondary region")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Minute, "how long to wait for each routing change")
	cmd.Flags().DurationVar(&poll, "poll", 10*time.Second, "how often to read the health check")
	cmd.Flags().DurationVar(&hold, "hold", 0, "how long to stay failed over before restoring")
	return cmd
}

// drill runs the failover drill against t (the primary region).
func (a *app) drill(ctx context.Context, t target, timeout, poll, hold time.Duration) (rep drillReport, err error) {
	alarm := t.names.HealthAlarm()
	rep = drillReport{Alarm: alarm, TimeToFailover: "-", TimeToFailback: "-"}
	ep, err := describeEndpoint(ctx, t)
	if err != nil {
		return rep, err
	}
	rep.Secondary = ep.SecondaryRegion
	h, err := healthOf(ctx, t, ep.HealthCheckARN)
	if err != nil {
		return rep, err
	}
	rep.HealthCheckID = h.HealthCheckID
	if h.Routing != RoutePrimary {
		rep.Problem = fmt.Sprintf("the endpoint does not route to the primary now (routing %s): nothing to drill; see tapctl failover status", h.Routing)
		return rep, nil
	}
	cw := t.cloudwatch()
	set := func(ctx context.Context, state cwtypes.StateValue) error {
		_, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{
			AlarmName: &alarm, StateValue: state, StateReason: aws.String(drillReason),
		})
		if err != nil {
			return fmt.Errorf("set alarm %s to %s: %w", alarm, state, err)
		}
		return nil
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(a.env.Stderr, "%s  %s\n", a.env.Now().UTC().Format(time.TimeOnly), fmt.Sprintf(format, args...))
	}

	rep.AlarmSetAt = a.env.Now()
	if err := set(ctx, cwtypes.StateValueAlarm); err != nil {
		return rep, err
	}
	logf("alarm %s set to ALARM; waiting for health check %s to fail", alarm, rep.HealthCheckID)
	defer func() {
		if rep.restoreAttempted {
			return
		}
		// However the drill ended, the alarm must not stay forced.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if rerr := set(rctx, cwtypes.StateValueOk); rerr != nil {
			err = errors.Join(err, fmt.Errorf("RESTORE FAILED, set it to OK by hand: %w", rerr))
			return
		}
		logf("alarm %s restored to OK", alarm)
	}()

	at, err := a.waitRouting(ctx, t, ep.HealthCheckARN, RouteSecondary, timeout, poll, func() error {
		al, err := alarmOf(ctx, t)
		if err == nil && al.State != string(cwtypes.StateValueAlarm) {
			rep.AlarmReasserted++
			return set(ctx, cwtypes.StateValueAlarm)
		}
		return err
	})
	if err != nil {
		return rep, err
	}
	if at.IsZero() {
		rep.Problem = fmt.Sprintf("the health check did not fail within %s; the endpoint kept routing to the primary", timeout)
		return rep, nil
	}
	rep.FailedOverAt, rep.TimeToFailover = at, at.Sub(rep.AlarmSetAt).Round(time.Second).String()
	logf("routing moved to the secondary (%s) after %s", rep.Secondary, rep.TimeToFailover)

	if hold > 0 {
		logf("holding for %s", hold)
		select {
		case <-time.After(hold):
		case <-ctx.Done():
			return rep, ctx.Err()
		}
	}
	rep.restoreAttempted = true
	rep.RestoredAt = a.env.Now()
	if err := set(ctx, cwtypes.StateValueOk); err != nil {
		return rep, fmt.Errorf("%w: set it to OK by hand", err)
	}
	logf("alarm %s set to OK; waiting for routing to return to the primary", alarm)
	at, err = a.waitRouting(ctx, t, ep.HealthCheckARN, RoutePrimary, timeout, poll, nil)
	if err != nil {
		return rep, err
	}
	if at.IsZero() {
		rep.Problem = fmt.Sprintf("routing did not return to the primary within %s of restoring the alarm", timeout)
		return rep, nil
	}
	rep.FailedBackAt, rep.TimeToFailback = at, at.Sub(rep.RestoredAt).Round(time.Second).String()
	logf("routing back on the primary after %s", rep.TimeToFailback)
	rep.Completed = true
	return rep, nil
}

// waitRouting polls the health check until it routes to want, and returns
// when it first saw it (zero after timeout). each, if not nil, runs every poll.
func (a *app) waitRouting(ctx context.Context, t target, healthCheckARN, want string, timeout, poll time.Duration, each func() error) (time.Time, error) {
	deadline := a.env.Now().Add(timeout)
	for {
		h, err := healthOf(ctx, t, healthCheckARN)
		if err != nil {
			return time.Time{}, err
		}
		if h.Routing == want {
			return a.env.Now(), nil
		}
		if a.env.Now().After(deadline) {
			return time.Time{}, nil
		}
		if each != nil {
			if err := each(); err != nil {
				return time.Time{}, err
			}
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

func writeDrill(w io.Writer, rep drillReport) {
	tw := newTable(w)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("alarm", rep.Alarm)
	row("health check", orDash(rep.HealthCheckID))
	row("alarm set", timestamp(rep.AlarmSetAt))
	row("failed over", fmt.Sprintf("%s (after %s) to %s", timestamp(rep.FailedOverAt), rep.TimeToFailover, orDash(rep.Secondary)))
	row("alarm restored", timestamp(rep.RestoredAt))
	row("failed back", fmt.Sprintf("%s (after %s)", timestamp(rep.FailedBackAt), rep.TimeToFailback))
	if rep.AlarmReasserted > 0 {
		row("alarm re-forced", plural(rep.AlarmReasserted, "time"))
	}
	tw.Flush()
	if rep.Completed {
		fmt.Fprintln(w, "drill: PASS")
	} else {
		fmt.Fprintf(w, "drill: FAIL: %s\n", orDash(rep.Problem))
	}
}
