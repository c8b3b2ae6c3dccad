package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/spf13/cobra"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
	"github.com/tap-trading/tap/producer"
)

// loadReport is what load reports.
type loadReport struct {
	Destination string  `json:"destination"`
	Seed        uint64  `json:"seed"`
	TargetRate  float64 `json:"targetRate"`
	Events      int     `json:"events"`
	Accepted    int     `json:"accepted"`
	NotAccepted int     `json:"notAccepted"`
	// AchievedRate is accepted events per second of publishing.
	AchievedRate float64 `json:"achievedRate"`
	PublishTime  string  `json:"publishTime"`
	// Orders sampled for latency, and how many reached their last event.
	Orders  int `json:"orders"`
	Sampled int `json:"sampled"`
	Reached int `json:"reached"`
	// Publish-to-state latency: the state's updatedAt minus the publish time.
	LatencyP50 string   `json:"latencyP50"`
	LatencyP90 string   `json:"latencyP90"`
	LatencyP99 string   `json:"latencyP99"`
	LatencyMax string   `json:"latencyMax"`
	NotReached []string `json:"notReached,omitempty"`
}

func (a *app) loadCmd() *cobra.Command {
	var pf publishFlags
	var rate float64
	var duration, settle time.Duration
	var seed uint64
	var sample int
	cmd := &cobra.Command{
		Use:   "load --rate R --duration D",
		Short: "Publish realistic order lifecycles at a target rate and measure publish-to-state latency",
		Long: `Generate realistic order lifecycles (the local demo's generator: NEW, partial
fills, replaces, fills, cancels) and publish them in transactTime order at
--rate events per second for --duration, through the global endpoint (or
--bus, or --local), with a progress bar. Then read order state back: for a
sample of orders, wait until the state shows the order's last event and take
the state's updatedAt minus the publish time as the publish-to-state latency.
The latency compares this machine's clock with the processor's; both should
be NTP-synchronised.`,
		Example: `  tapctl load --env dev --rate 50 --duration 2m
  tapctl load --bus tap-dev-trading --region us-west-2 --rate 10 --duration 30s --sample 50
  tapctl load --local --rate 20 --duration 10s`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			total := int(rate * duration.Seconds())
			if rate <= 0 || duration <= 0 || total < 1 {
				return usagef("--rate and --duration must be positive and give at least one event (got %g/s for %s)", rate, duration)
			}
			if sample < 0 || settle <= 0 {
				return usagef("--sample must not be negative and --settle must be positive")
			}
			pub, err := pf.publisher(cmd.Context(), a)
			if err != nil {
				return err
			}
			if seed == 0 {
				seed = uint64(a.env.Now().UnixNano())
			}
			rep, err := a.runLoad(cmd.Context(), pub, loadPlan{seed: seed, rate: rate, total: total, sample: sample, settle: settle, concurrency: pf.concurrency})
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(a.env.Stdout, rep); err != nil {
					return err
				}
			} else {
				writeLoad(a.env.Stdout, rep)
			}
			if rep.NotAccepted > 0 || rep.Reached < rep.Sampled {
				return failed()
			}
			return nil
		},
	}
	cmd.Flags().Float64Var(&rate, "rate", 0, "events per second to publish")
	cmd.Flags().DurationVar(&duration, "duration", 0, "how long to publish (e.g. 30s, 5m)")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "generator seed, to repeat a run (default: from the clock)")
	cmd.Flags().IntVar(&sample, "sample", 200, "orders whose latency is measured (0: all)")
	cmd.Flags().DurationVar(&settle, "settle", 2*time.Minute, "how long to wait for the sampled orders' state after publishing")
	pf.register(cmd, 4)
	return cmd
}

// loadPlan is one load run's parameters.
type loadPlan struct {
	seed        uint64
	rate        float64
	total       int
	sample      int
	settle      time.Duration
	concurrency int
}

// loadEvents generates at least total events in transactTime order.
func loadEvents(seed uint64, total int, start time.Time) []event.ExecutionReport {
	for orders := total/3 + 1; ; orders *= 2 {
		ls := gen.Lifecycles(seed, orders, gen.Options{Start: start})
		stream := gen.Stream(ls, gen.StreamOptions{Seed: seed})
		if len(stream) >= total {
			out := make([]event.ExecutionReport, total)
			for i := range out {
				out[i] = stream[i].Report
			}
			return out
		}
	}
}

func (a *app) runLoad(ctx context.Context, pub publisher, plan loadPlan) (loadReport, error) {
	// transactTimes ten minutes back: valid for the whole run, never "future".
	events := loadEvents(plan.seed, plan.total, a.env.Now().Add(-10*time.Minute).UTC().Truncate(time.Millisecond))
	entries := make([]ebtypes.PutEventsRequestEntry, len(events))
	for i := range events {
		entries[i] = ebtypes.PutEventsRequestEntry{
			EventBusName: aws.String(pub.bus),
			Source:       aws.String(schema.Source),
			DetailType:   aws.String(schema.DetailTypeExecutionReport),
			Detail:       aws.String(string(event.EncodeDetail(&events[i]))),
		}
	}
	rep := loadReport{Destination: pub.where, Seed: plan.seed, TargetRate: plan.rate, Events: len(events),
		LatencyP50: "-", LatencyP90: "-", LatencyP99: "-", LatencyMax: "-"}
	sentAt := make([]time.Time, len(events))
	accepted := make([]bool, len(events))

	bar := local.NewProgress(a.env.Stderr, len(events), "publishing")
	var mu sync.Mutex
	start := a.env.Now()
	err := pace(ctx, len(entries), plan.rate, plan.concurrency, func(ctx context.Context, lo, hi int) error {
		sum, err := pub.Publish(ctx, entries[lo:hi], func(r producer.EntryResult) {
			mu.Lock()
			defer mu.Unlock()
			_ = bar.Add(1)
			if r.Accepted() {
				accepted[lo+r.Index], sentAt[lo+r.Index] = true, r.SentAt
			}
		})
		mu.Lock()
		rep.Accepted += sum.Accepted
		mu.Unlock()
		return err
	})
	_ = bar.Finish()
	elapsed := a.env.Now().Sub(start)
	rep.NotAccepted = rep.Events - rep.Accepted
	rep.PublishTime = elapsed.Round(time.Millisecond).String()
	if elapsed > 0 {
		rep.AchievedRate = float64(rep.Accepted) / elapsed.Seconds()
	}
	if err != nil {
		return rep, err
	}

	// Each order's last accepted event is what its state must come to show.
	last := map[string]int{}
	var orders []string
	for i, e := range events {
		if !accepted[i] {
			continue
		}
		if _, ok := last[e.OrderID]; !ok {
			orders = append(orders, e.OrderID)
		}
		if j, ok := last[e.OrderID]; !ok || e.Seq > events[j].Seq {
			last[e.OrderID] = i
		}
	}
	rep.Orders = len(orders)
	if plan.sample > 0 && len(orders) > plan.sample {
		orders = spread(orders, plan.sample)
	}
	rep.Sampled = len(orders)
	lat, notReached, err := a.readBack(ctx, pub.target.store(), orders, func(id string) (event.ExecutionReport, time.Time) {
		i := last[id]
		return events[i], sentAt[i]
	}, plan.settle)
	if err != nil {
		return rep, err
	}
	rep.Reached = len(lat)
	rep.NotReached = notReached
	if len(lat) > 0 {
		slices.Sort(lat)
		rep.LatencyP50 = local.Percentile(lat, 50).Round(time.Millisecond).String()
		rep.LatencyP90 = local.Percentile(lat, 90).Round(time.Millisecond).String()
		rep.LatencyP99 = local.Percentile(lat, 99).Round(time.Millisecond).String()
		rep.LatencyMax = lat[len(lat)-1].Round(time.Millisecond).String()
	}
	return rep, nil
}

// pace calls send for consecutive batches of at most 10 of n entries, each
// no earlier than its due time at rate entries per second, at most
// concurrency at a time. It stops at the first error.
func pace(ctx context.Context, n int, rate float64, concurrency int, send func(ctx context.Context, lo, hi int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	slots := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	batch := producer.MaxBatchEntries
	if rate < float64(batch) {
		batch = max(1, int(rate)) // small rates: smaller batches, so pacing stays smooth
	}
	for lo := 0; lo < n; lo += batch {
		due := start.Add(time.Duration(float64(lo) / rate * float64(time.Second)))
		select {
		case <-time.After(time.Until(due)):
		case <-ctx.Done():
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		hi := min(lo+batch, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if err := send(ctx, lo, hi); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// spread picks n of ids evenly, so a sample covers the whole run.
func spread(ids []string, n int) []string {
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, ids[i*len(ids)/n])
	}
	return out
}

// readBack polls the orders' state until each shows its expected last event
// or settle has passed; it returns the latencies of those reached and the
// IDs of those not.
func (a *app) readBack(ctx context.Context, st *store.Store, orders []string, expect func(string) (event.ExecutionReport, time.Time), settle time.Duration) ([]time.Duration, []string, error) {
	deadline := a.env.Now().Add(settle)
	var lat []time.Duration
	pending := orders
	for len(pending) > 0 {
		var next []string
		for _, id := range pending {
			want, sent := expect(id)
			o, err := st.GetOrder(ctx, id)
			switch {
			case errors.Is(err, store.ErrNotFound):
				next = append(next, id)
			case err != nil:
				return nil, nil, err
			case o.LastSeq < want.Seq:
				next = append(next, id)
			case o.LastEventID == want.EventID:
				lat = append(lat, max(0, o.UpdatedAt.Sub(sent)))
			default:
				// Past the expected event (another run's?): reached, latency unknown.
				lat = append(lat, 0)
			}
		}
		pending = next
		if len(pending) == 0 || a.env.Now().After(deadline) {
			break
		}
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			return lat, pending, ctx.Err()
		}
	}
	return lat, pending, nil
}

func writeLoad(w io.Writer, r loadReport) {
	tw := newTable(w)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	row("destination", "%s", r.Destination)
	row("published", "%d of %d events accepted in %s: %.1f events/s (target %g; seed %d)", r.Accepted, r.Events, r.PublishTime, r.AchievedRate, r.TargetRate, r.Seed)
	row("orders", "%d; %d sampled, %d reached their last event", r.Orders, r.Sampled, r.Reached)
	row("latency", "publish→state p50 %s, p90 %s, p99 %s, max %s", r.LatencyP50, r.LatencyP90, r.LatencyP99, r.LatencyMax)
	tw.Flush()
	if r.NotAccepted > 0 {
		fmt.Fprintf(w, "FAIL: %d events not accepted by PutEvents\n", r.NotAccepted)
	}
	if len(r.NotReached) > 0 {
		fmt.Fprintf(w, "FAIL: %d sampled orders did not reach their last event, e.g. %s\n", len(r.NotReached), r.NotReached[0])
	}
}
