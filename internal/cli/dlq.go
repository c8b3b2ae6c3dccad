package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/spf13/cobra"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/producer"
)

// dlqFlags select a dead-letter queue.
type dlqFlags struct {
	queue    string
	useLocal bool
	max      int
}

func (f *dlqFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.queue, "queue", "q", "", "which dead-letter queue: processing (events the processor failed or rejected) or delivery (events EventBridge could not deliver)")
	cmd.Flags().BoolVar(&f.useLocal, "local", false, "use the running local pipeline's queues (tapctl local; with --regions, the primary region's, or the one --region names)")
	cmd.Flags().IntVar(&f.max, "max", 0, "examine at most this many messages (0: all)")
}

// dlqQueue is a resolved dead-letter queue.
type dlqQueue struct {
	name, url string
	t         target
}

func (f *dlqFlags) resolve(ctx context.Context, a *app) (dlqQueue, error) {
	if f.max < 0 {
		return dlqQueue{}, usagef("--max must not be negative")
	}
	if f.queue == "" {
		return dlqQueue{}, usagef("--queue is required: processing or delivery")
	}
	if f.queue != "processing" && f.queue != "delivery" {
		return dlqQueue{}, usagef("--queue %q: want processing or delivery", f.queue)
	}
	t, err := a.target(ctx, f.useLocal)
	if err != nil {
		return dlqQueue{}, err
	}
	q := dlqQueue{t: t, name: t.names.ProcessingDLQ()}
	if f.queue == "delivery" {
		q.name = t.names.DeliveryDLQ()
	}
	if t.local != nil {
		q.url = t.local.ProcessingDLQURL
		if f.queue == "delivery" {
			q.url = t.local.DeliveryDLQURL
		}
		return q, nil
	}
	out, err := t.sqs().GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &q.name})
	if err != nil {
		var missing *sqstypes.QueueDoesNotExist
		if errors.As(err, &missing) {
			return dlqQueue{}, fmt.Errorf("queue %s does not exist in %s: is env %s deployed there? (check --env and --region)", q.name, t.region, t.names.Env)
		}
		return dlqQueue{}, fmt.Errorf("find queue %s: %w", q.name, err)
	}
	q.url = aws.ToString(out.QueueUrl)
	return q, nil
}

func (a *app) dlqCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect and redrive the dead-letter queues",
		Long: `Each region has two dead-letter queues: the processing DLQ holds events the
processor rejected (invalid, or a seq conflict: with a reason attribute) and
events whose invocations all failed (Lambda's on-failure record); the delivery
DLQ holds events EventBridge could not deliver to the processor. Both kinds
are read, listed and redriven alike.`,
		Example: `  tapctl dlq list --queue processing --env dev
  tapctl dlq redrive --queue delivery --region us-west-2`,
		Args: usageArgs(cobra.ArbitraryArgs),
		RunE: needSubcommand,
	}
	cmd.AddCommand(a.dlqListCmd(), a.dlqRedriveCmd())
	return cmd
}

// dlqListing is what dlq list reports.
type dlqListing struct {
	Queue    string       `json:"queue"`
	QueueURL string       `json:"queueUrl"`
	Region   string       `json:"region"`
	Depth    dlq.Depth    `json:"depth"`
	Records  []dlq.Record `json:"records"`
}

func (a *app) dlqListCmd() *cobra.Command {
	var f dlqFlags
	cmd := &cobra.Command{
		Use:   "list --queue processing|delivery",
		Short: "List dead-lettered events with their reason and age",
		Long: `List the messages of a dead-letter queue without consuming them (each is
received and released again): the reason code and message, the event and
order IDs, where and when it failed, and how long it has been queued.`,
		Example: `  tapctl dlq list --queue processing --env dev --region us-west-2
  tapctl dlq list --queue delivery --output json
  tapctl dlq list --queue processing --local`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			q, err := f.resolve(cmd.Context(), a)
			if err != nil {
				return err
			}
			api := q.t.sqs()
			depth, err := dlq.QueueDepth(cmd.Context(), api, q.url)
			if err != nil {
				return err
			}
			recs, err := dlq.Peek(cmd.Context(), api, q.url, f.max)
			if err != nil {
				return err
			}
			if asJSON {
				if recs == nil {
					recs = []dlq.Record{}
				}
				return writeJSON(a.env.Stdout, dlqListing{Queue: q.name, QueueURL: q.url, Region: q.t.region, Depth: depth, Records: recs})
			}
			fmt.Fprintf(a.env.Stdout, "%s in %s: %d visible, %d in flight\n", q.name, q.t.where(), depth.Visible, depth.InFlight)
			if len(recs) == 0 {
				return nil
			}
			now := a.env.Now()
			tw := newTable(a.env.Stdout)
			fmt.Fprintln(tw, "AGE\tFORMAT\tREASON\tEVENT ID\tORDER\tREGION\tFAILED AT\tMESSAGE")
			for _, r := range recs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", age(now, r.SentAt), r.Format, orDash(r.Reason), orDash(r.EventID),
					orDash(r.OrderID), orDash(r.Region), timestamp(r.FailedAt), truncate(orDash(r.Message), 80))
			}
			return tw.Flush()
		},
	}
	f.register(cmd)
	return cmd
}

// redriveReport is what dlq redrive reports.
type redriveReport struct {
	Queue    string `json:"queue"`
	Bus      string `json:"bus"`
	Region   string `json:"region"`
	where    string
	DryRun   bool           `json:"dryRun"`
	Counts   map[string]int `json:"counts"`
	Outcomes []dlq.Outcome  `json:"outcomes"`
}

func (a *app) dlqRedriveCmd() *cobra.Command {
	var f dlqFlags
	var reason string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "redrive --queue processing|delivery",
		Short: "Republish dead-lettered events to the bus and delete what was accepted",
		Long: `Take each message of a dead-letter queue, extract the original event (the
processor's rejections and EventBridge's delivery failures carry it as the
body, Lambda's on-failure records as requestPayload), republish it with
PutEvents to the region's bus, and delete exactly the messages whose events
were accepted. Messages not accepted, or holding no event, stay in the queue.
Redriving is safe to repeat: the processor treats an event it has already
applied as a duplicate.

Redrive after fixing the cause: an invalid event redriven unchanged is
rejected again. --reason limits the redrive to one reason code.`,
		Example: `  tapctl dlq redrive --queue processing --env dev
  tapctl dlq redrive --queue processing --reason RetriesExhausted --dry-run
  tapctl dlq redrive --queue delivery --region us-west-2
  tapctl dlq redrive --queue processing --local`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			q, err := f.resolve(cmd.Context(), a)
			if err != nil {
				return err
			}
			bus := q.t.bus()
			outs, rerr := dlq.Redrive(cmd.Context(), q.t.sqs(), q.url, producer.New(q.t.eventbridge(), producer.Options{}),
				dlq.RedriveOptions{Bus: bus, Max: f.max, Reason: reason, DryRun: dryRun})
			rep := redriveReport{Queue: q.name, Bus: bus, Region: q.t.region, where: q.t.where(), DryRun: dryRun, Counts: map[string]int{}, Outcomes: outs}
			if rep.Outcomes == nil {
				rep.Outcomes = []dlq.Outcome{}
			}
			for _, o := range outs {
				rep.Counts[string(o.Status)]++
			}
			if asJSON {
				if err := writeJSON(a.env.Stdout, rep); err != nil {
					return err
				}
			} else {
				a.writeRedrive(rep)
			}
			if rerr != nil {
				return rerr
			}
			if rep.Counts[string(dlq.NotAccepted)]+rep.Counts[string(dlq.NotDeleted)] > 0 {
				return failed()
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "redrive only messages with this reason code (e.g. RetriesExhausted, SEQ_CONFLICT)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be redriven; publish and delete nothing")
	return cmd
}

func (a *app) writeRedrive(rep redriveReport) {
	w := a.env.Stdout
	verb, n := "redrove", rep.Counts[string(dlq.Redriven)]
	if rep.DryRun {
		verb, n = "would redrive", rep.Counts[string(dlq.WouldRedrive)]
	}
	fmt.Fprintf(w, "%s %d of %s from %s to bus %s of %s\n", verb, n, plural(len(rep.Outcomes), "message"), rep.Queue, rep.Bus, rep.where)
	for _, o := range rep.Outcomes {
		switch o.Status {
		case dlq.Redriven, dlq.WouldRedrive, dlq.Filtered:
			continue
		}
		fmt.Fprintf(a.env.Stderr, "  %s: message %s (event %s, %s): %s\n", o.Status, o.Record.MessageID, orDash(o.Record.EventID), orDash(o.Record.Reason), o.Detail)
	}
	if k := rep.Counts[string(dlq.Filtered)]; k > 0 {
		fmt.Fprintf(w, "%s with another reason left in the queue\n", plural(k, "message"))
	}
	if k := rep.Counts[string(dlq.Unredrivable)]; k > 0 {
		fmt.Fprintf(a.env.Stderr, "%s hold no event and stay in the queue: inspect them with tapctl dlq list\n", plural(k, "message"))
	}
	if k := rep.Counts[string(dlq.NotAccepted)] + rep.Counts[string(dlq.NotDeleted)]; k > 0 {
		fmt.Fprintf(a.env.Stderr, "%s not redriven and still in the queue: run the redrive again once the cause is fixed\n", plural(k, "message"))
	}
}
