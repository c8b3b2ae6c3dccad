package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/drill"
	"github.com/tap-trading/tap/internal/local"
)

// runRegions is tapctl local --regions: two regions, interactively, until
// Ctrl-C (or the end of stdin's commands).
func (a *app) runRegions(ctx context.Context, f drillFlags, concurrency int, procLog string) error {
	cfg, err := f.config(f.regions)
	if err != nil {
		return err
	}
	cfg.Concurrency = concurrency
	out, closeLog, err := a.drillProcessorLog(procLog)
	if err != nil {
		return err
	}
	defer closeLog()
	cfg.ProcessorOutput = out
	cfg.OnError = func(err error) { fmt.Fprintf(a.env.Stderr, "survived: %v\n", err) }

	fmt.Fprintf(a.env.Stderr, "starting two regions (%s primary, %s secondary)...\n", cfg.Primary, cfg.Secondary)
	e, err := drill.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer e.Close()

	// tapctl send --local publishes through the global endpoint.
	regions := e.Regions()
	statePath := local.StatePath(a.env.Getenv)
	st := local.State{
		Resources: local.Resources{Endpoint: e.EndpointURL(), Region: cfg.Primary, Env: drill.DefaultEnv, Bus: regions[0].Bus, Table: regions[0].Table},
		PID:       os.Getpid(), StartedAt: a.env.Now().UTC(),
	}
	if err := local.WriteState(statePath, st); err != nil {
		return err
	}
	defer local.RemoveState(statePath, st.PID)

	w := a.env.Stderr
	tw := newTable(w)
	fmt.Fprintf(tw, "global endpoint\t%s (PutEvents; routes to the healthy region, replicates to the other)\n", e.EndpointURL())
	for _, r := range regions {
		fmt.Fprintf(tw, "region %s\tAWS %s, bus %s, table %s\n", r.Name, r.Endpoint, r.Bus, r.Table)
	}
	fmt.Fprintf(tw, "health\t%s periods, unhealthy after %d breaching (latency over %s or no data)\n", cfg.Period, cfg.Periods, cfg.Threshold)
	tw.Flush()
	fmt.Fprintf(w, `
Publish through the global endpoint:
  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s aws events put-events \
    --endpoint-url %s --region %s \
    --entries '[{"EventBusName":"%s","Source":"tap.trading","DetailType":"ExecutionReport","Detail":"{…}"}]'
or:  tapctl send --local --file events.jsonl
Commands on stdin: cut REGION | heal REGION | fail REGION (its processor's DynamoDB calls) | status
Ctrl-C stops both regions.

`, awslocal.AccessKeyID, awslocal.SecretAccessKey, e.EndpointURL(), cfg.Primary, regions[0].Bus)

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
			fmt.Fprintln(w, "\nstopping: healing both regions, stopping every process started...")
			return nil
		case line := <-cmds:
			if err := a.regionCommand(e, line); err != nil {
				fmt.Fprintf(w, "%v\n", err)
			}
		case <-tick.C:
			p := e.Progress()
			// Print routing and health changes as they happen.
			if s := routeState(p); s != last {
				fmt.Fprintf(a.env.Stdout, "%s  %s\n", a.env.Now().UTC().Format("15:04:05.000"), p.Line())
				last = s
			}
		}
	}
}

// routeState is the part of the progress worth a line when it changes.
func routeState(p drill.Progress) string {
	return fmt.Sprintf("%s %v %v", p.Route, p.Healthy, p.Cut)
}

func (a *app) regionCommand(e *drill.Env, line string) error {
	verb, region, _ := strings.Cut(line, " ")
	region = strings.TrimSpace(region)
	switch verb {
	case "":
		return nil
	case "cut":
		return e.Cut(region)
	case "heal":
		return e.Heal(region)
	case "fail":
		return e.FailProcessor(region)
	case "status":
		fmt.Fprintln(a.env.Stdout, e.Progress().Line())
		return nil
	}
	return fmt.Errorf("unknown command %q: want cut REGION, heal REGION, fail REGION or status", line)
}
