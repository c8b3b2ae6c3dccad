package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/spf13/cobra"

	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/metrics"
	"github.com/tap-trading/tap/internal/replay"
)

// archiveDelay is how long after an event EventBridge recommends waiting
// before replaying it: "There may be a delay between an event being received
// on an event bus and the event arriving in the archive. We recommend you
// delay replaying archived events for 10 minutes to make sure all events are
// replayed" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-archive.html).
const archiveDelay = 10 * time.Minute

// cancelGrace bounds the CancelReplay call made after Ctrl-C, when the
// command's own context is already cancelled.
const cancelGrace = 30 * time.Second

// replayFlags are tapctl replay's flags.
type replayFlags struct {
	from, to          string
	useLocal          bool
	dryRun            bool
	allRules          bool
	poll              time.Duration
	settle            time.Duration
	cancelOnInterrupt bool
}

// replayReport is what replay (and replay status) reports.
type replayReport struct {
	Replay replay.Status `json:"replay"`
	Plan   *replay.Plan  `json:"plan,omitempty"`
	Region string        `json:"region"`
	DryRun bool          `json:"dryRun"`
	// Took is how long the replay ran, as text (e.g. 1m30s).
	Took string `json:"took,omitempty"`
	// Settled counts, with --local, the outcomes the pipeline's processor
	// recorded while the replay ran and settled (from its EMF metrics).
	Settled *settledCounts `json:"settled,omitempty"`
	where   string
}

// settledCounts are the processor's outcome metrics summed over a span of
// its log.
type settledCounts struct {
	Applied   int `json:"applied"`
	Duplicate int `json:"duplicate"`
	Stale     int `json:"stale"`
	Rejected  int `json:"rejected"`
	// Unsettled counts events still in the inbox when the wait ended.
	Unsettled int `json:"unsettled"`
	// Note says what the counts cover, or why there are none.
	Note string `json:"note,omitempty"`
}

func (a *app) replayCmd() *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay --from TIME --to TIME",
		Short: "Replay a window of the bus's archive through the processor again",
		Long: `Start an EventBridge replay of the environment's archive (tap-<env>-trading-archive)
into its own bus, follow it to the end with a progress line on stderr, and
report what it replayed: name, final state, window, how long it took, and
with --local the outcomes the local pipeline settled.

EventBridge replays the archived events whose own time lies in the window,
minute by minute; progress is the event time reached (DescribeReplay's
EventLastReplayedTime) against the window. The replay goes only to the
processor rule (--all-rules: every rule of the bus). Replays are harmless:
the processor treats an event it has already applied as a duplicate (I1),
and records no PipelineLatency for a replayed event.

--from and --to are RFC 3339 times (2026-01-05T14:30:00Z), "now", or a
duration before now (-2h). Refused, with the reason and nothing started: a
window of zero length or reversed, a --to in the future, a --from before the
archive was created or older than its retention, and a window overlapping a
replay of the same archive that is still STARTING or RUNNING (named, with
how to cancel it). EventBridge may take minutes to archive an event: AWS
recommends replaying only events at least 10 minutes old.

The replay is named tap-<env>-replay-<from>-<to> (with -2, -3... if that
name was used before) and the command prints how to cancel it. Ctrl-C stops
following, not the replay: it goes on in EventBridge, and tapctl says how to
follow (tapctl replay status) or cancel it (tapctl replay cancel, or the AWS
CLI). --cancel-on-interrupt cancels it instead.

--dry-run prints what would be replayed (archive, bus, window, rules, name)
and starts nothing.`,
		Example: `  # what would be replayed between 14:00 and 15:00 UTC, without starting it
  tapctl replay --env dev --from 2026-01-05T14:00:00Z --to 2026-01-05T15:00:00Z --dry-run

  # replay the last two hours but the last ten minutes, in the secondary region
  tapctl replay --env dev --region us-west-2 --from -2h --to -10m

  # the local pipeline: replay the last five minutes (its archive holds nothing
  # from before it started)
  tapctl replay --local --from -5m --to now

  # after Ctrl-C: follow the replay again, or cancel it
  tapctl replay status tap-dev-replay-20260105T140000Z-20260105T150000Z --env dev
  tapctl replay cancel tap-dev-replay-20260105T140000Z-20260105T150000Z --env dev`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			w, err := f.window(a.env.Now())
			if err != nil {
				return err
			}
			if f.poll <= 0 || f.settle <= 0 {
				return usagef("--poll and --settle must be positive")
			}
			return a.runReplay(cmd.Context(), f, w, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "start of the window of event times to replay: RFC 3339, now, or a duration before now (-2h)")
	fl.StringVar(&f.to, "to", "", "end of the window: RFC 3339, now, or a duration before now (-10m); not in the future")
	fl.BoolVar(&f.useLocal, "local", false, "replay the running local pipeline's archive (one-region tapctl local: the two-region twin has no archive)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what would be replayed; start nothing")
	fl.BoolVar(&f.allRules, "all-rules", false, "replay to every rule of the bus, not only the processor rule")
	fl.DurationVar(&f.poll, "poll", 5*time.Second, "how often to ask EventBridge for the replay's progress")
	fl.DurationVar(&f.settle, "settle", time.Minute, "with --local: how long to wait for the pipeline to settle the replayed events before counting them")
	fl.BoolVar(&f.cancelOnInterrupt, "cancel-on-interrupt", false, "on Ctrl-C, cancel the replay instead of leaving it running in EventBridge")
	cmd.AddCommand(a.replayStatusCmd(), a.replayCancelCmd())
	return cmd
}

// window parses --from and --to and checks the window at now.
func (f replayFlags) window(now time.Time) (replay.Window, error) {
	if f.from == "" || f.to == "" {
		return replay.Window{}, usagef("--from and --to are required: the window of event times to replay (e.g. --from -2h --to -10m)")
	}
	from, err := parseWhen("--from", f.from, now)
	if err != nil {
		return replay.Window{}, err
	}
	to, err := parseWhen("--to", f.to, now)
	if err != nil {
		return replay.Window{}, err
	}
	w := replay.Window{From: from, To: to}
	if err := w.Check(now); err != nil {
		return replay.Window{}, usagef("--from/--to: %v", err)
	}
	return w, nil
}

// parseWhen parses a time flag: RFC 3339, "now", or a negative duration
// (time before now).
func parseWhen(flag, v string, now time.Time) (time.Time, error) {
	switch {
	case v == "now":
		return now, nil
	case strings.HasPrefix(v, "-"):
		d, err := time.ParseDuration(v)
		if err != nil {
			return time.Time{}, usagef("%s %q: want an RFC 3339 time, now, or a duration before now such as -2h (%v)", flag, v, err)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, usagef("%s %q: want an RFC 3339 time such as 2026-01-05T14:30:00Z, now, or a duration before now such as -2h", flag, v)
	}
	return t, nil
}

func (a *app) runReplay(ctx context.Context, f replayFlags, w replay.Window, asJSON bool) error {
	t, err := a.target(ctx, f.useLocal)
	if err != nil {
		return err
	}
	api := t.eventbridge()
	var rules []string
	if !f.allRules {
		rules = []string{t.processorRule()}
	}
	plan, err := replay.NewPlan(ctx, api, replay.Request{
		Names: t.names, Archive: t.names.Archive(), Window: w, Rules: rules, Now: a.env.Now(),
	})
	if err != nil {
		return t.explainPlan(err)
	}
	if f.dryRun {
		rep := replayReport{Plan: &plan, Region: t.region, DryRun: true, where: t.where(),
			Replay: replay.Status{Name: plan.Name, Archive: plan.Archive.ARN, Window: plan.Window}}
		if asJSON {
			return writeJSON(a.env.Stdout, rep)
		}
		a.writeReplayPlan(a.env.Stdout, plan, t, true)
		return nil
	}
	if t.local == nil && w.To.After(a.env.Now().Add(-archiveDelay)) {
		fmt.Fprintf(a.env.Stderr, "note: --to is less than %s ago: EventBridge may not have archived the newest events yet (AWS recommends replaying events at least %s old)\n", archiveDelay, archiveDelay)
	}
	var logStart int64 = -1
	if t.local != nil {
		logStart = logSize(a.localProcessorLog())
	}

	st, err := replay.Start(ctx, api, plan)
	if err != nil {
		return err // nothing started
	}
	a.writeReplayPlan(a.env.Stderr, plan, t, false)
	fmt.Fprintf(a.env.Stderr, "started replay %s\n%s", plan.Name, t.cancelHelp(plan.Name))

	final, err := a.followReplay(ctx, t, st, f.poll)
	if err != nil {
		return a.interrupted(t, final, plan.Name, f.cancelOnInterrupt, err)
	}
	rep := replayReport{Replay: final, Plan: &plan, Region: t.region, Took: final.Took(a.env.Now()).Round(time.Millisecond).String(), where: t.where()}
	if t.local != nil {
		rep.Settled = a.settleLocal(ctx, t, logStart, f.settle)
	}
	return a.finishReplay(rep, asJSON)
}

// followReplay follows the replay from its first status st to its end,
// drawing progress on stderr.
func (a *app) followReplay(ctx context.Context, t target, st replay.Status, poll time.Duration) (replay.Status, error) {
	pr := &replayProgress{w: a.env.Stderr, interactive: a.env.Interactive}
	defer pr.done()
	pr.show(st)
	final, err := replay.Follow(ctx, t.eventbridge(), st.Name, poll, pr.show)
	if final.Name == "" {
		final = st
	}
	return final, err
}

// interrupted ends a follow that stopped before the replay did: on Ctrl-C,
// it cancels the replay (cancelIt) or says it goes on and how to follow or
// cancel it; on any other error, it names the replay so it can be found.
func (a *app) interrupted(t target, last replay.Status, name string, cancelIt bool, err error) error {
	if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return hint(fmt.Errorf("following replay %s: %w", name, err),
			"the replay may still be running in EventBridge:\n"+indent(t.followHelp(name)+t.cancelHelp(name)))
	}
	if cancelIt {
		ctx, cancel := context.WithTimeout(context.Background(), cancelGrace)
		defer cancel()
		st, cerr := replay.Cancel(ctx, t.eventbridge(), name)
		if cerr != nil {
			fmt.Fprintf(a.env.Stderr, "interrupted; cancelling replay %s failed: %v\n%s", name, cerr, t.cancelHelp(name))
			return failed()
		}
		fmt.Fprintf(a.env.Stderr, "interrupted: replay %s is %s (cancelled at your request after %.0f%% of its window)\n", name, st.State, 100*last.Progress())
		return failed()
	}
	fmt.Fprintf(a.env.Stderr, "interrupted: stopped following, but replay %s goes on in EventBridge (%s, %.0f%% of its window)\n%s%s",
		name, orDash(string(last.State)), 100*last.Progress(), t.followHelp(name), t.cancelHelp(name))
	return failed()
}

// finishReplay prints the report of a finished replay; a replay that did
// not complete fails the command.
func (a *app) finishReplay(rep replayReport, asJSON bool) error {
	if asJSON {
		if err := writeJSON(a.env.Stdout, rep); err != nil {
			return err
		}
	} else {
		a.writeReplayReport(rep)
	}
	switch rep.Replay.State {
	case replay.Completed:
		return nil
	case replay.Cancelled:
		fmt.Fprintf(a.env.Stderr, "replay %s was cancelled before the end of its window\n", rep.Replay.Name)
	default:
		fmt.Fprintf(a.env.Stderr, "replay %s ended %s: %s\n", rep.Replay.Name, rep.Replay.State, orDash(rep.Replay.Reason))
	}
	return failed()
}

func (a *app) replayStatusCmd() *cobra.Command {
	var useLocal bool
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Follow a replay to its end and report it",
		Long: `Follow the replay NAME (as tapctl replay printed it) with a progress line until
it is COMPLETED, CANCELLED or FAILED, then report it. A replay that has
already ended is reported at once. Ctrl-C stops following; the replay goes on.`,
		Example: `  tapctl replay status tap-dev-replay-20260105T140000Z-20260105T150000Z --env dev --region us-west-2`,
		Args:    oneArg("a replay name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			if poll <= 0 {
				return usagef("--poll must be positive")
			}
			t, err := a.target(cmd.Context(), useLocal)
			if err != nil {
				return err
			}
			st, err := replay.Describe(cmd.Context(), t.eventbridge(), args[0])
			if err != nil {
				return t.explainPlan(err)
			}
			final, err := a.followReplay(cmd.Context(), t, st, poll)
			if err != nil {
				return a.interrupted(t, final, args[0], false, err)
			}
			return a.finishReplay(replayReport{Replay: final, Region: t.region, Took: final.Took(a.env.Now()).Round(time.Millisecond).String(), where: t.where()}, asJSON)
		},
	}
	cmd.Flags().BoolVar(&useLocal, "local", false, "a replay of the running local pipeline (tapctl local)")
	cmd.Flags().DurationVar(&poll, "poll", 5*time.Second, "how often to ask EventBridge for the replay's progress")
	return cmd
}

func (a *app) replayCancelCmd() *cobra.Command {
	var useLocal bool
	cmd := &cobra.Command{
		Use:   "cancel NAME",
		Short: "Cancel a replay that is still STARTING or RUNNING",
		Long: `Ask EventBridge to cancel the replay NAME. Only a STARTING or RUNNING replay can
be cancelled; it goes through CANCELLING to CANCELLED, and the events it has
already replayed stay replayed (harmless: the processor saw duplicates).`,
		Example: `  tapctl replay cancel tap-dev-replay-20260105T140000Z-20260105T150000Z --env dev`,
		Args:    oneArg("a replay name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			t, err := a.target(cmd.Context(), useLocal)
			if err != nil {
				return err
			}
			st, err := replay.Cancel(cmd.Context(), t.eventbridge(), args[0])
			if err != nil {
				return t.explainPlan(err)
			}
			if asJSON {
				return writeJSON(a.env.Stdout, st)
			}
			fmt.Fprintf(a.env.Stdout, "replay %s is %s\n", st.Name, st.State)
			fmt.Fprintf(a.env.Stderr, "follow it to CANCELLED with: tapctl replay status %s%s\n", st.Name, t.flagsFor())
			return nil
		},
	}
	cmd.Flags().BoolVar(&useLocal, "local", false, "a replay of the running local pipeline (tapctl local)")
	return cmd
}

// processorRule is the name of the processor rule of the target.
func (t target) processorRule() string {
	if t.local != nil {
		return t.local.Rule
	}
	return t.names.ProcessorRule()
}

// flagsFor are the tapctl flags that reach the target again.
func (t target) flagsFor() string {
	if t.local != nil {
		return " --local"
	}
	return fmt.Sprintf(" --env %s --region %s", t.names.Env, t.region)
}

// awsCLIFlags are the AWS CLI flags that reach the target.
func (t target) awsCLIFlags() string {
	if t.local != nil {
		return fmt.Sprintf(" --region %s --endpoint-url %s", t.region, t.local.Endpoint)
	}
	return " --region " + t.region
}

// cancelHelp says how to cancel the replay name.
func (t target) cancelHelp(name string) string {
	return fmt.Sprintf("cancel it with: tapctl replay cancel %s%s\n            or: aws events cancel-replay --replay-name %s%s\n",
		name, t.flagsFor(), name, t.awsCLIFlags())
}

// followHelp says how to follow the replay name.
func (t target) followHelp(name string) string {
	return fmt.Sprintf("follow it with: tapctl replay status %s%s\n", name, t.flagsFor())
}

// explainPlan adds what to do to a refused or failed replay.
func (t target) explainPlan(err error) error {
	var overlap *replay.OverlapError
	switch {
	case errors.As(err, &overlap):
		return hint(err, "wait for it to end, or:\n"+indent(t.followHelp(overlap.Other.Name)+t.cancelHelp(overlap.Other.Name)))
	case errors.Is(err, replay.ErrNoArchive) && t.local != nil:
		return hint(err, "this local pipeline has no archive on its bus, so there is nothing to replay: start one that creates it (tapctl local, one region)")
	case errors.Is(err, replay.ErrNoArchive), errors.Is(err, replay.ErrNoRule):
		return hint(err, fmt.Sprintf("is env %s deployed in %s? check --env and --region", t.names.Env, t.region))
	case errors.Is(err, replay.ErrNoReplay):
		return hint(err, "list the replays with: aws events list-replays"+t.awsCLIFlags())
	}
	return err
}

// indent indents every line of s by four spaces.
func indent(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}

// writeReplayPlan prints to w what is (or, dry, would be) replayed.
func (a *app) writeReplayPlan(w io.Writer, p replay.Plan, t target, dry bool) {
	if dry {
		fmt.Fprintf(w, "would replay (dry run, nothing started):\n")
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "replay\t%s\n", p.Name)
	fmt.Fprintf(tw, "where\t%s\n", t.where())
	fmt.Fprintf(tw, "archive\t%s (%s, created %s, %s, %d events archived, reconciled within 24 h)\n",
		p.Archive.Name, orDash(p.Archive.State), timestamp(p.Archive.Created), retention(p.Archive.RetentionDays), p.Archive.EventCount)
	fmt.Fprintf(tw, "window\t%s (%s of event time)\n", p.Window, p.Window.Duration())
	fmt.Fprintf(tw, "destination\t%s\n", p.Destination)
	fmt.Fprintf(tw, "rules\t%s\n", ruleList(p.Rules))
	tw.Flush()
}

func retention(days int32) string {
	if days == 0 {
		return "keeps events forever"
	}
	return fmt.Sprintf("keeps events %d days", days)
}

func ruleList(rules []replay.Rule) string {
	if len(rules) == 0 {
		return "every rule of the bus"
	}
	var s []string
	for _, r := range rules {
		s = append(s, r.ARN)
	}
	return strings.Join(s, ", ")
}

// writeReplayReport prints a finished replay.
func (a *app) writeReplayReport(rep replayReport) {
	s := rep.Replay
	tw := newTable(a.env.Stdout)
	fmt.Fprintf(tw, "replay\t%s\n", s.Name)
	fmt.Fprintf(tw, "where\t%s\n", rep.where)
	fmt.Fprintf(tw, "state\t%s%s\n", s.State, reasonSuffix(s.Reason))
	fmt.Fprintf(tw, "window\t%s (%.0f%% replayed)\n", s.Window, math.Floor(100*s.Progress()))
	fmt.Fprintf(tw, "started\t%s\n", timestamp(s.Started))
	fmt.Fprintf(tw, "took\t%s\n", orDash(rep.Took))
	if c := rep.Settled; c != nil {
		if c.Note != "" && c.Applied+c.Duplicate+c.Stale+c.Rejected == 0 && c.Unsettled == 0 {
			fmt.Fprintf(tw, "settled locally\t%s\n", c.Note)
		} else {
			fmt.Fprintf(tw, "settled locally\t%d duplicate, %d applied, %d stale, %d rejected%s\n", c.Duplicate, c.Applied, c.Stale, c.Rejected, unsettled(c.Unsettled))
			fmt.Fprintf(tw, "\t(%s)\n", c.Note)
		}
	}
	tw.Flush()
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

func unsettled(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d still in the inbox", n)
}

// replayProgress draws a replay's progress: redrawn in place on a
// terminal, a plain line at each change otherwise.
type replayProgress struct {
	w           io.Writer
	interactive bool
	last        string
	drawn       bool
}

func (p *replayProgress) show(s replay.Status) {
	line := fmt.Sprintf("replay %s: %s", s.Name, orDash(string(s.State)))
	switch {
	case s.State == replay.Completed || !s.LastReplayed.IsZero():
		line += fmt.Sprintf(" %3.0f%%", math.Floor(100*s.Progress()))
		if !s.LastReplayed.IsZero() {
			line += " (events up to " + timestamp(s.LastReplayed) + ")"
		}
	case s.Active():
		line += "   0%"
	}
	if p.interactive {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	if line != p.last {
		fmt.Fprintln(p.w, line)
	}
	p.last = line
}

func (p *replayProgress) done() {
	if p.interactive && p.drawn {
		fmt.Fprintln(p.w)
	}
}

// localProcessorLog is where tapctl local writes the processor's log by
// default (defaultProcessorLog).
func (a *app) localProcessorLog() string {
	return defaultProcessorLog(local.StatePath(a.env.Getenv))
}

// logSize is the size of the file at path, or -1 if there is none.
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// settleLocal waits up to settle for the local pipeline's inbox to empty
// (every replayed event settled: the invoker deletes a message only then)
// and sums the processor's outcome metrics logged since logStart.
func (a *app) settleLocal(ctx context.Context, t target, logStart int64, settle time.Duration) *settledCounts {
	c := &settledCounts{}
	q := t.sqs()
	deadline := time.Now().Add(settle)
	for {
		n, err := inboxDepth(ctx, q, t.local.InboxURL)
		if err != nil {
			c.Note = fmt.Sprintf("not counted: the inbox could not be read (%v)", err)
			return c
		}
		c.Unsettled = n
		if n == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	path := a.localProcessorLog()
	if logStart < 0 {
		logStart = 0
	}
	b, err := readFrom(path, logStart)
	if err != nil {
		c.Note = fmt.Sprintf("not counted: no processor log at %s (%v); was tapctl local started with --processor-log?", path, err)
		return c
	}
	addOutcomes(c, b)
	c.Note = "the processor's outcome metrics logged while the replay ran and settled, other traffic included"
	return c
}

// inboxDepth counts the messages of the inbox: waiting, in flight or delayed.
func inboxDepth(ctx context.Context, q *sqs.Client, url string) (int, error) {
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &url,
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, v := range out.Attributes {
		k, _ := strconv.Atoi(v)
		n += k
	}
	return n, nil
}

// readFrom reads the file at path from offset on.
func readFrom(path string, offset int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if _, err := fh.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(fh)
}

// addOutcomes adds the outcome metrics of every EMF document in log (one
// JSON document a line, among the processor's JSON log lines) to c.
func addOutcomes(c *settledCounts, log []byte) {
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte(`{"_aws"`)) {
			continue
		}
		var doc map[string]any
		if json.Unmarshal(line, &doc) != nil {
			continue
		}
		// A value is a number, or an array of numbers (EMF specification).
		count := func(name string) int {
			switch v := doc[name].(type) {
			case float64:
				return int(v)
			case []any:
				n := 0
				for _, x := range v {
					f, _ := x.(float64)
					n += int(f)
				}
				return n
			}
			return 0
		}
		c.Applied += count(metrics.EventsApplied)
		c.Duplicate += count(metrics.EventsDuplicate)
		c.Stale += count(metrics.EventsStale)
		c.Rejected += count(metrics.EventsRejected)
	}
}
