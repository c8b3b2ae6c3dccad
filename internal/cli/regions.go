package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/partition"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/twin"
)

// runRegions is tapctl local --regions: two regions, interactively, until
// Ctrl-C (or the end of stdin's commands).
func (a *app) runRegions(ctx context.Context, f drillFlags, concurrency int, procLog string) error {
	dc, err := f.config(f.regions)
	if err != nil {
		return err
	}
	cfg := dc.Twin()
	cfg.Concurrency = concurrency
	// The processors' logs and the SDK's warnings of a cut region go to a
	// file the banner names, opened once the state is recorded.
	out := &pendingLog{}
	cfg.ProcessorOutput = out
	// Errors a cut region's pollers survive are expected: counted by
	// region, summed on the state-change lines and by status, their raw
	// lines in the log; never streamed.
	survived := &survivedTally{total: twin.SurvivedCounts{}, since: twin.SurvivedCounts{}}
	cfg.Observer.Survived = func(source string, _ error) { survived.add(source) }

	fmt.Fprintf(a.env.Stderr, "starting two regions (%s primary, %s secondary), then the failover path...\n", dc.Primary, dc.Secondary)
	e, err := twin.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		e.Close()
		fmt.Fprintln(a.env.Stderr, "stopped: both regions, the global endpoint and their local AWS")
	}()

	// tapctl send --local publishes through the global endpoint.
	regions := e.Regions()
	statePath := local.StatePath(a.env.Getenv)
	st := local.State{
		Resources: local.Resources{Endpoint: e.EndpointURL(), Region: dc.Primary, Env: twin.DefaultEnv, Bus: regions[0].Bus, Table: regions[0].Table},
		PID:       os.Getpid(), StartedAt: a.env.Now().UTC(),
	}
	// Reads (order get, dlq list) go to a region's own local AWS.
	for _, r := range regions {
		st.Regions = append(st.Regions, local.Resources{
			Endpoint: r.Endpoint, Region: r.Name, Env: twin.DefaultEnv, Bus: r.Bus, Table: r.Table,
			ProcessingDLQURL: r.ProcessingDLQURL, DeliveryDLQURL: r.DeliveryDLQURL,
		})
	}
	if err := local.WriteState(statePath, st); err != nil {
		return err
	}
	defer local.RemoveState(statePath, st.PID)
	logName, closeLog, err := a.processorLog(procLog, statePath, out)
	if err != nil {
		return err
	}
	defer closeLog()

	w := a.env.Stderr
	tw := newTable(w)
	fmt.Fprintf(tw, "global endpoint\t%s (PutEvents; routes to the healthy region, replicates to the other)\n", e.EndpointURL())
	for _, r := range regions {
		fmt.Fprintf(tw, "region %s\tAWS %s, bus %s, table %s\n", r.Name, r.Endpoint, r.Bus, r.Table)
	}
	fmt.Fprintf(tw, "log\t%s: the processors' logs, and the errors a cut region causes (counted by region on each state change and by status, not shown here)\n", logName)
	a2 := e.Spec().HealthAlarm
	fmt.Fprintf(tw, "health\t%s %s %s over %s (scaled) in %d of %d periods of %s (AWS %s), missing data %s; health check on insufficient data: %s\n",
		a2.Namespace, a2.MetricName, a2.Statistic, e.Scale().Local(time.Duration(a2.Threshold*float64(time.Millisecond))),
		a2.DatapointsToAlarm, a2.EvaluationPeriods, e.Scale().Local(a2.Period), a2.Period, a2.TreatMissingData, e.Spec().HealthCheck.InsufficientDataHealthStatus)
	tw.Flush()
	entries, sample, err := writeRegionsEntries(statePath, regions[0].Bus, a.env.Now())
	if err != nil {
		return err
	}
	defer os.Remove(entries)
	fmt.Fprintf(w, `
Publish through the global endpoint (any SDK, or the AWS CLI):
  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s aws events put-events --endpoint-url %s --region %s --entries file://%s
  tapctl send --local --file %s
Read a region's table and queues (the primary by default):
  tapctl order get %s --local --executions
  tapctl order get %s --local --region %s
  tapctl dlq list --queue processing --local --region %s
Commands on stdin: cut REGION [hang] | slow REGION DURATION | link cut|heal | monitoring REGION (lose it)
  | refuse REGION (Lambda refuses invocations) | fail REGION (its processor's DynamoDB calls) | heal REGION | status
Ctrl-C stops both regions.

`, awslocal.AccessKeyID, awslocal.SecretAccessKey, e.EndpointURL(), dc.Primary, entries, entries,
		sample, sample, dc.Secondary, dc.Secondary)

	cmds := make(chan string)
	go func() {
		sc := bufio.NewScanner(a.env.Stdin)
		for sc.Scan() {
			cmds <- strings.TrimSpace(sc.Text())
		}
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			// The last state, if it changed or errors were survived since
			// the last line: a heal just before Ctrl-C is not lost.
			p := e.Status()
			since := survived.take()
			if routeState(p) != last || len(since) > 0 {
				fmt.Fprintf(a.env.Stdout, "%s  %s\n", a.env.Now().UTC().Format("15:04:05.000"), stateLine(p, since))
			}
			fmt.Fprintln(w, "\nstopping: healing both regions, stopping every process started...")
			return nil
		case line := <-cmds:
			if err := a.regionCommand(e, line, survived); err != nil {
				fmt.Fprintf(w, "%v\n", err)
			}
		case <-tick.C:
			p := e.Status()
			// Print routing, alarm, health and failure changes as they
			// happen, with the errors survived since the previous line.
			if s := routeState(p); s != last {
				fmt.Fprintf(a.env.Stdout, "%s  %s\n", a.env.Now().UTC().Format("15:04:05.000"), stateLine(p, survived.take()))
				last = s
			}
		}
	}
}

// stateLine is the status line with the errors survived since the last.
func stateLine(p twin.Status, since twin.SurvivedCounts) string {
	if len(since) == 0 {
		return p.Line()
	}
	return p.Line() + " | survived since the last line: " + since.String()
}

// routeState is the part of the status worth a line when it changes.
func routeState(p twin.Status) string {
	st := fmt.Sprintf("%s %v", p.Route, p.Healthy)
	for _, r := range slices.Sorted(maps.Keys(p.Regions)) {
		st += fmt.Sprintf(" %s %s %v", r, p.Regions[r].Alarm, p.Regions[r].Failures)
	}
	return st
}

// survivedTally counts the errors the twin survived by source: in all (for
// status) and since the last state-change line.
type survivedTally struct {
	mu           sync.Mutex
	total, since twin.SurvivedCounts
}

func (t *survivedTally) add(source string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total[source]++
	t.since[source]++
}

// take returns the counts since the last take and starts them again.
func (t *survivedTally) take() twin.SurvivedCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	since := t.since
	t.since = twin.SurvivedCounts{}
	return since
}

func (t *survivedTally) totals() twin.SurvivedCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.total)
}

func (a *app) regionCommand(e *twin.Env, line string, survived *survivedTally) error {
	f := strings.Fields(line)
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	switch arg(0) {
	case "":
		return nil
	case "cut":
		mode := partition.Refuse
		if arg(2) != "" {
			m, err := partition.ParseMode(arg(2))
			if err != nil {
				return err
			}
			mode = m
		}
		return e.Cut(arg(1), mode)
	case "slow":
		d, err := time.ParseDuration(arg(2))
		if err != nil || d <= 0 {
			return fmt.Errorf("slow %s %q: want a positive duration such as 1.5s", arg(1), arg(2))
		}
		return e.Slow(arg(1), d)
	case "link":
		switch arg(1) {
		case "cut":
			return e.CutLink(partition.Hang)
		case "heal":
			for _, r := range e.Regions() {
				if err := e.Heal(r.Name); err != nil {
					return err
				}
			}
			return nil
		}
		return fmt.Errorf("link %q: want link cut or link heal", arg(1))
	case "monitoring":
		return e.LoseMonitoring(arg(1))
	case "refuse":
		return e.RefuseInvocations(arg(1))
	case "fail":
		return e.FailProcessor(arg(1))
	case "heal":
		return e.Heal(arg(1))
	case "status":
		fmt.Fprintf(a.env.Stdout, "%s | errors survived: %s\n", e.Status().Line(), survived.totals())
		return nil
	}
	return fmt.Errorf("unknown command %q: want cut REGION [hang], slow REGION DURATION, link cut|heal, monitoring REGION, refuse REGION, fail REGION, heal REGION or status", line)
}

// writeRegionsEntries writes, beside the state file, a PutEvents entry list
// the banner's commands send: one order's NEW, traded now, addressed to bus.
// It returns the file and the order's ID.
func writeRegionsEntries(statePath, bus string, now time.Time) (path, orderID string, err error) {
	l := gen.Lifecycles(uint64(now.UnixNano()), 1, gen.Options{Start: now.Add(-time.Second)})[0]
	entries := []map[string]string{{
		"EventBusName": bus, "Source": schema.Source, "DetailType": schema.DetailTypeExecutionReport,
		"Detail": string(event.EncodeDetail(&l.Events[0])),
	}}
	b, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return "", "", err
	}
	path = filepath.Join(filepath.Dir(statePath), "tapctl-regions-put-events.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return "", "", fmt.Errorf("write the banner's example entries: %w", err)
	}
	return path, l.OrderID, nil
}
