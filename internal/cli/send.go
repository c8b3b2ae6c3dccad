package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/spf13/cobra"

	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/producer"
)

// publishFlags are the flags that choose where events go.
type publishFlags struct {
	endpointID  string
	bus         string
	useLocal    bool
	maxAttempts int
	concurrency int
	// retryFor bounds retries by time (send's --timeout); 0 bounds them by
	// maxAttempts.
	retryFor time.Duration
}

func (p *publishFlags) register(cmd *cobra.Command, concurrency int) {
	f := cmd.Flags()
	f.StringVar(&p.endpointID, "endpoint-id", "", "publish through this global endpoint, signed with SigV4a (env TAP_ENDPOINT_ID; default the Tap-<env>-Failover stack's EndpointId)")
	f.StringVar(&p.bus, "bus", "", "publish to this regional event bus instead of the global endpoint (e.g. tap-dev-trading)")
	f.BoolVar(&p.useLocal, "local", false, "publish to the running local pipeline (tapctl local; with --regions, through its global endpoint)")
	f.IntVar(&p.maxAttempts, "max-attempts", 5, "attempts per event before it counts as failed (send: only with --timeout 0)")
	f.IntVar(&p.concurrency, "concurrency", concurrency, "PutEvents calls in flight (more than 1 may reorder events, which the processor tolerates)")
}

// publisher is where a command publishes: a publisher and the bus entries
// name, described for messages; api and opts build a durable producer
// (send --spool) to the same place.
type publisher struct {
	*producer.Publisher
	api    producer.API
	opts   producer.Options
	bus    string
	where  string
	target target
}

// publisher resolves the destination: --local, --bus (regional), or the
// global endpoint (--endpoint-id, TAP_ENDPOINT_ID, or the Failover stack).
func (p *publishFlags) publisher(ctx context.Context, a *app) (publisher, error) {
	if p.maxAttempts < 1 || p.concurrency < 1 {
		return publisher{}, usagef("--max-attempts and --concurrency must be at least 1")
	}
	chosen := 0
	for _, set := range []bool{p.endpointID != "", p.bus != "", p.useLocal} {
		if set {
			chosen++
		}
	}
	if chosen > 1 {
		return publisher{}, usagef("--endpoint-id, --bus and --local choose where events go: give one of them")
	}
	if p.retryFor < 0 {
		return publisher{}, usagef("--timeout %s: want 0 (retry --max-attempts times) or a positive duration", p.retryFor)
	}
	opts := producer.Options{MaxAttempts: p.maxAttempts, Concurrency: p.concurrency, RetryFor: p.retryFor}
	var t target
	var err error
	if p.useLocal {
		t, err = a.localTarget(ctx, true)
	} else {
		t, err = a.target(ctx, false)
	}
	if err != nil {
		return publisher{}, err
	}
	out := publisher{target: t, bus: first(p.bus, t.bus())}
	switch {
	case p.useLocal:
		out.where = fmt.Sprintf("bus %s of %s", out.bus, t.where())
	case p.bus != "":
		out.where = fmt.Sprintf("bus %s in %s", out.bus, t.region)
	default:
		id, err := t.endpointID(ctx, p.endpointID)
		if err != nil {
			return publisher{}, err
		}
		opts.EndpointID = id
		out.where = fmt.Sprintf("global endpoint %s (bus %s)", id, out.bus)
	}
	out.api, out.opts = t.eventbridge(), opts
	out.Publisher = producer.New(out.api, opts)
	return out, nil
}

// onLocalBus refuses, before anything is sent, entries naming a bus other
// than the local pipeline's only one: they would be retried until --timeout
// and fail (the two-region twin's bus is not the one-region pipeline's, and
// an example file names one of them).
func onLocalBus(entries []ebtypes.PutEventsRequestEntry, lines []int, bus string) error {
	for i, e := range entries {
		if got := aws.ToString(e.EventBusName); got != bus {
			return usagef("line %d names bus %s, but the running local pipeline's bus is %s: change its EventBusName, or leave it out (send fills in the local bus)", lines[i], got, bus)
		}
	}
	return nil
}

// sendResult is what send reports.
type sendResult struct {
	Destination string       `json:"destination"`
	Events      int          `json:"events"`
	Accepted    int          `json:"accepted"`
	Failed      []sendFailed `json:"failed"`
	Unsent      int          `json:"unsent"`
	Calls       int          `json:"calls"`
	// With --spool: the spool, the events found there from an earlier send
	// (sent first), and those not accepted that stay there.
	Spool       string `json:"spool,omitempty"`
	Resumed     int    `json:"resumed,omitempty"`
	LeftInSpool int    `json:"leftInSpool,omitempty"`
}

type sendFailed struct {
	// Line is the input line; 0 for an event resumed from the spool, which
	// Seq then names.
	Line         int    `json:"line"`
	Seq          uint64 `json:"seq,omitempty"`
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
	Attempts     int    `json:"attempts"`
}

func (a *app) sendCmd() *cobra.Command {
	var file string
	var pf publishFlags
	var sp spoolFlags
	cmd := &cobra.Command{
		Use:   "send [--file FILE|-] [--endpoint-id ID | --bus NAME | --local] [--spool DIR]",
		Short: "Publish events from a file or stdin",
		Long: `Publish events read as JSON lines from --file or stdin. Each line is either an
ExecutionReport (or Heartbeat) detail, sent with source tap.trading, or a full
PutEvents entry ({"Source", "DetailType", "Detail", "EventBusName"...} as the
AWS CLI takes them; Detail a JSON string or object). Blank lines and lines
starting with # are skipped. The input may instead be one JSON array of such
entries or details, the file the AWS CLI's --entries file://… takes.

Events go through the environment's global endpoint (PutEvents with
EndpointId, signed with SigV4a by the AWS SDK), or to a regional bus with
--bus, or to the running local pipeline with --local. They are sent in batches
of up to 10; entries PutEvents reports as failed are retried with backoff, and
the command exits 1 if any event is still not accepted. Entries refused for a
reason a retry can fix — the global endpoint failing over to the other
region takes about a minute in AWS, seconds locally — are retried with
backoff for up to --timeout (default 1m), so a send rides through a failover.

With --spool DIR, the events are first written (and fsync'd) to a spool in
DIR; those not accepted within --timeout stay there, and the next
tapctl send --spool DIR sends them first (--file /dev/null sends only them).
A send killed half-way loses nothing: an event accepted is recorded before
it leaves the spool and is not sent again.`,
		Example: `  # through the global endpoint of env dev (ID from the Tap-dev-Failover stack)
  tapctl send --env dev --file examples/lifecycle.jsonl

  # to the regional bus, from stdin
  cat examples/lifecycle.jsonl | tapctl send --bus tap-dev-trading --region us-west-2

  # into the local pipeline: the repository's example order lifecycle, then a heartbeat from stdin
  tapctl send --local --file examples/lifecycle.jsonl
  tapctl send --local --file examples/put-events.json
  echo '{"region":"us-east-1","sentAt":"2026-01-05T14:30:00Z"}' | tapctl send --local

  # durably: what is not accepted within --timeout waits in the spool for the next send
  tapctl send --env dev --file examples/lifecycle.jsonl --spool ~/.tap/spool
  tapctl send --env dev --file /dev/null --spool ~/.tap/spool`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := a.json()
			if err != nil {
				return err
			}
			in, closeIn, err := a.open(file)
			if err != nil {
				return err
			}
			defer closeIn()
			pub, err := pf.publisher(cmd.Context(), a)
			if err != nil {
				return err
			}
			entries, lines, err := readEntries(in, pub.bus)
			if err != nil {
				return err
			}
			if pf.useLocal {
				if err := onLocalBus(entries, lines, pub.bus); err != nil {
					return err
				}
			}
			if sp.dir != "" {
				return a.sendSpooled(cmd.Context(), pub, pf, sp, entries, lines, file, asJSON)
			}
			if len(entries) == 0 {
				return usagef("no events in %s", inputName(file))
			}
			if !asJSON && pf.retryFor > 0 {
				fmt.Fprintf(a.env.Stderr, "sending %s to %s; refused entries are retried for up to %s (--timeout)\n",
					plural(len(entries), "event"), pub.where, pf.retryFor)
			}
			var bar progress = noProgress{}
			if a.env.Interactive && !asJSON {
				bar = local.NewProgress(a.env.Stderr, len(entries), "sending")
			}
			sum, perr := pub.Publish(cmd.Context(), entries, func(producer.EntryResult) { _ = bar.Add(1) })
			_ = bar.Finish()
			res := sendResult{Destination: pub.where, Events: len(entries), Accepted: sum.Accepted, Unsent: sum.Unsent, Calls: sum.Calls, Failed: []sendFailed{}}
			for _, f := range sum.Failed {
				res.Failed = append(res.Failed, sendFailed{Line: lines[f.Index], ErrorCode: f.ErrorCode, ErrorMessage: f.ErrorMessage, Attempts: f.Attempts})
			}
			if asJSON {
				if err := writeJSON(a.env.Stdout, res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.env.Stdout, "sent %d of %d events to %s in %s\n", res.Accepted, res.Events, res.Destination, plural(res.Calls, "call"))
				for _, f := range res.Failed {
					fmt.Fprintf(a.env.Stderr, "line %d: not accepted after %s: %s: %s\n", f.Line, plural(f.Attempts, "attempt"), f.ErrorCode, f.ErrorMessage)
				}
				if n := sum.NotAccepted(); n > 0 {
					fmt.Fprintf(a.env.Stderr, "%d of %d events NOT accepted (%d failed, %d not sent); fix the cause and send those lines again\n", n, res.Events, len(res.Failed), res.Unsent)
				}
			}
			if perr != nil {
				return perr
			}
			if sum.NotAccepted() > 0 {
				return failed()
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "-", "JSON lines (or one JSON array of entries) to send; - for stdin")
	pf.register(cmd, 1)
	cmd.Flags().DurationVar(&pf.retryFor, "timeout", time.Minute,
		"how long entries refused for a reason a retry can fix (a global endpoint failing over, throttling) are retried; 0 retries --max-attempts times instead")
	cmd.Flags().StringVar(&sp.dir, "spool", "", "spool directory: events are fsync'd there before they are sent, and those not accepted within --timeout stay for the next send --spool DIR (created if missing)")
	cmd.Flags().Int64Var(&sp.maxMB, "spool-max-mb", 64, "bound of the spool's size on disk, in MiB (with --spool)")
	return cmd
}

// spoolFlags are send's durable-spool flags.
type spoolFlags struct {
	dir   string
	maxMB int64
}

// sendSpooled sends entries through a durable producer on the spool: the
// events an earlier send left there go first; what is not accepted within
// --timeout stays there. With --timeout 0, an entry refused --max-attempts
// times is given up (and leaves the spool) instead.
func (a *app) sendSpooled(ctx context.Context, pub publisher, pf publishFlags, sp spoolFlags, entries []ebtypes.PutEventsRequestEntry, lines []int, file string, asJSON bool) error {
	if sp.maxMB < 1 {
		return usagef("--spool-max-mb %d: want at least 1", sp.maxMB)
	}
	var (
		mu      sync.Mutex
		results []producer.Result
		bar     progress = noProgress{}
	)
	cfg := producer.Config{
		EndpointID: pub.opts.EndpointID, SpoolDir: sp.dir, SpoolMaxBytes: sp.maxMB << 20, Concurrency: pf.concurrency,
		OnResult: func(r producer.Result) {
			mu.Lock()
			defer mu.Unlock()
			results = append(results, r)
			_ = bar.Add(1)
		},
	}
	if pf.retryFor == 0 {
		cfg.MaxAttempts = pf.maxAttempts
	}
	// The bar is drawn from OnResult: it is set before the producer starts.
	mu.Lock()
	p, err := producer.Open(pub.api, cfg)
	if err != nil {
		mu.Unlock()
		return explainSpool(err, sp.dir)
	}
	rec := p.Recovery()
	for _, t := range rec.Torn {
		fmt.Fprintf(a.env.Stderr, "spool: %s\n", t)
	}
	if len(entries) == 0 && rec.Resumed == 0 {
		mu.Unlock()
		_ = p.Close(ctx)
		return usagef("no events in %s, and none waiting in the spool %s", inputName(file), sp.dir)
	}
	if !asJSON {
		resumed := ""
		if rec.Resumed > 0 {
			resumed = fmt.Sprintf(" after the %s an earlier send left in it", plural(rec.Resumed, "event"))
		}
		bound := fmt.Sprintf("those refused %s (--max-attempts) are given up", plural(pf.maxAttempts, "time"))
		if pf.retryFor > 0 {
			bound = fmt.Sprintf("those not accepted within %s (--timeout) stay there for the next send", pf.retryFor)
		}
		fmt.Fprintf(a.env.Stderr, "sending %s to %s through the spool %s%s; %s\n",
			plural(len(entries), "event"), pub.where, sp.dir, resumed, bound)
	}
	if a.env.Interactive && !asJSON {
		bar = local.NewProgress(a.env.Stderr, len(entries)+rec.Resumed, "sending")
	}
	mu.Unlock()
	var first uint64
	if len(entries) > 0 {
		if first, err = p.Send(ctx, entries...); err != nil {
			_ = p.Close(ctx)
			return explainSpool(err, sp.dir)
		}
	}
	closeCtx := ctx
	if pf.retryFor > 0 {
		var cancel context.CancelFunc
		closeCtx, cancel = context.WithTimeout(ctx, pf.retryFor)
		defer cancel()
	}
	cerr := p.Close(closeCtx)
	_ = bar.Finish()

	st := p.Stats()
	res := sendResult{Destination: pub.where, Events: len(entries), Accepted: st.Accepted, Calls: st.Calls, Failed: []sendFailed{},
		Spool: sp.dir, Resumed: rec.Resumed, Unsent: st.Unsent, LeftInSpool: st.Unsent}
	mu.Lock()
	slices.SortFunc(results, func(x, y producer.Result) int { return cmp.Compare(x.Seq, y.Seq) })
	for _, r := range results {
		if r.Accepted() {
			continue
		}
		f := sendFailed{Seq: r.Seq, ErrorCode: r.ErrorCode, ErrorMessage: r.ErrorMessage, Attempts: r.Attempts}
		if !r.Resumed && r.Seq >= first && r.Seq-first < uint64(len(lines)) {
			f.Line, f.Seq = lines[r.Seq-first], 0
		}
		res.Failed = append(res.Failed, f)
	}
	mu.Unlock()
	if asJSON {
		if err := writeJSON(a.env.Stdout, res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.env.Stdout, "sent %d of %d events to %s in %s\n", res.Accepted, res.Events+res.Resumed, res.Destination, plural(res.Calls, "call"))
		for _, f := range res.Failed {
			what := fmt.Sprintf("line %d", f.Line)
			if f.Line == 0 {
				what = fmt.Sprintf("spooled event %d (from an earlier send)", f.Seq)
			}
			fmt.Fprintf(a.env.Stderr, "%s: not accepted after %s: %s: %s\n", what, plural(f.Attempts, "attempt"), f.ErrorCode, f.ErrorMessage)
		}
		if res.LeftInSpool > 0 {
			fmt.Fprintf(a.env.Stderr, "%d of %d events NOT accepted yet stay in the spool %s; send them with: tapctl send --spool %s --file /dev/null (and the same destination flags)\n",
				res.LeftInSpool, res.Events+res.Resumed, sp.dir, sp.dir)
		}
		if n := len(res.Failed); n > 0 {
			fmt.Fprintf(a.env.Stderr, "%d of %d events NOT accepted and given up (they left the spool); fix the cause and send those lines again\n", n, res.Events+res.Resumed)
		}
	}
	var ue *producer.UnsentError
	if errors.As(cerr, &ue) && !errors.Is(ue.Err, context.DeadlineExceeded) && !errors.Is(ue.Err, context.Canceled) {
		// A call no retry can fix (AccessDenied...): say why.
		return ue.Err
	}
	if cerr != nil && ue == nil {
		return cerr
	}
	if res.LeftInSpool > 0 || len(res.Failed) > 0 {
		return failed()
	}
	return nil
}

// explainSpool adds what to do to the spool's errors that need a flag
// changed.
func explainSpool(err error, dir string) error {
	switch {
	case errors.Is(err, producer.ErrSpoolFull):
		return hint(err, fmt.Sprintf("raise --spool-max-mb, or first send what the spool holds: tapctl send --spool %s --file /dev/null", dir))
	case errors.Is(err, producer.ErrSpoolNotWritable):
		return hint(err, "fix the directory as the message says, or give --spool another one (it is created if missing)")
	}
	return err
}

// open opens name for reading; - is stdin.
func (a *app) open(name string) (io.Reader, func(), error) {
	if name == "" || name == "-" {
		return a.env.Stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("open events file: %w", err)
	}
	return f, func() { f.Close() }, nil
}

// inputName names --file for messages.
func inputName(file string) string {
	if file == "" || file == "-" {
		return "stdin"
	}
	return file
}

// readEntries reads the input into PutEvents entries for bus, and the line
// each starts on. The input is JSON lines (a detail or an entry per line;
// blank lines and # comments skipped) or, as the AWS CLI's
// `put-events --entries file://…` takes it, one JSON array of entries.
func readEntries(r io.Reader, bus string) ([]ebtypes.PutEventsRequestEntry, []int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	skipped := 0 // newlines before the first non-space byte
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read events: %w", err)
		}
		if c == '\n' {
			skipped++
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			_ = br.UnreadByte()
			if c == '[' {
				return readEntryArray(br, bus, skipped+1)
			}
			break
		}
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), 2<<20)
	var entries []ebtypes.PutEventsRequestEntry
	var lines []int
	for n := skipped + 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		e, err := entryOf(line, bus)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", n, err)
		}
		entries = append(entries, e)
		lines = append(lines, n)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read events: %w", err)
	}
	return entries, lines, nil
}

// maxEntryArray bounds an entry array read whole: PutEvents takes 256 KB a
// request, so a file of entries this size is already 64 requests' worth.
const maxEntryArray = 16 << 20

// readEntryArray reads one JSON array of entries (or details) starting on
// line first, and nothing after it.
func readEntryArray(r io.Reader, bus string, first int) ([]ebtypes.PutEventsRequestEntry, []int, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxEntryArray+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read events: %w", err)
	}
	if len(data) > maxEntryArray {
		return nil, nil, fmt.Errorf("the array of entries is over %d MiB; split it, or send JSON lines, which are read a line at a time", maxEntryArray>>20)
	}
	lineAt := func(off int64) int {
		off = min(off, int64(len(data)))
		for off < int64(len(data)) && bytes.IndexByte([]byte(" \t\r\n,"), data[off]) >= 0 {
			off++
		}
		return first + bytes.Count(data[:off], []byte("\n"))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // the '[' seen by the caller
		return nil, nil, fmt.Errorf("line %d: %w", first, err)
	}
	var entries []ebtypes.PutEventsRequestEntry
	var lines []int
	for i := 1; dec.More(); i++ {
		line := lineAt(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("entry %d (line %d): invalid JSON: %v", i, line, err)
		}
		e, err := entryOf(raw, bus)
		if err != nil {
			return nil, nil, fmt.Errorf("entry %d (line %d): %w", i, line, err)
		}
		entries = append(entries, e)
		lines = append(lines, line)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("line %d: the array of entries does not end: %v", lineAt(dec.InputOffset()), err)
	}
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		return nil, nil, fmt.Errorf("line %d: text after the array of entries: give one array, or JSON lines", lineAt(dec.InputOffset()))
	}
	return entries, lines, nil
}

// entryOf turns one input line into an entry: a full PutEvents entry when it
// has any of the entry's fields, else a detail.
func entryOf(line []byte, bus string) (ebtypes.PutEventsRequestEntry, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return ebtypes.PutEventsRequestEntry{}, notAnObject(line, err)
	}
	_, hasDetail := fields["Detail"]
	_, hasType := fields["DetailType"]
	_, hasSource := fields["Source"]
	if hasDetail || hasType || hasSource {
		return fullEntry(line, bus)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, line); err != nil {
		return ebtypes.PutEventsRequestEntry{}, err
	}
	detailType := schema.DetailTypeExecutionReport
	_, hasSentAt := fields["sentAt"]
	_, hasEventID := fields["eventId"]
	if hasSentAt && !hasEventID {
		detailType = schema.DetailTypeHeartbeat
	}
	return ebtypes.PutEventsRequestEntry{
		EventBusName: aws.String(bus),
		Source:       aws.String(schema.Source),
		DetailType:   aws.String(detailType),
		Detail:       aws.String(compact.String()),
	}, nil
}

// notAnObject explains a line that is not a JSON object in the user's
// terms (JSON kinds, not Go types).
func notAnObject(line []byte, err error) error {
	const want = "want a JSON object: an event detail or a PutEvents entry"
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s, got a JSON %s", want, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: invalid JSON at byte %d: %v", want, se.Offset, se)
	}
	return fmt.Errorf("%s: %v", want, err)
}

// entryFieldType is the JSON kind a PutEvents entry field takes.
func entryFieldType(field string) string {
	switch field {
	case "Resources":
		return "array of strings"
	case "Time":
		return "string or number"
	}
	return "string"
}

// fullEntry decodes a PutEvents entry as the AWS CLI takes it.
func fullEntry(line []byte, bus string) (ebtypes.PutEventsRequestEntry, error) {
	var e struct {
		Source       string
		DetailType   string
		Detail       json.RawMessage
		EventBusName string
		Resources    []string
		Time         json.RawMessage
		TraceHeader  string
	}
	if err := json.Unmarshal(line, &e); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return ebtypes.PutEventsRequestEntry{}, fmt.Errorf("not a PutEvents entry: %s must be a JSON %s, not a %s", te.Field, entryFieldType(te.Field), te.Value)
		}
		return ebtypes.PutEventsRequestEntry{}, fmt.Errorf("not a PutEvents entry: %v", err)
	}
	if e.DetailType == "" || len(e.Detail) == 0 {
		return ebtypes.PutEventsRequestEntry{}, fmt.Errorf("a PutEvents entry needs DetailType and Detail")
	}
	detail := string(e.Detail)
	if e.Detail[0] == '"' {
		if err := json.Unmarshal(e.Detail, &detail); err != nil {
			return ebtypes.PutEventsRequestEntry{}, fmt.Errorf("Detail: %v", err)
		}
	} else {
		var compact bytes.Buffer
		if err := json.Compact(&compact, e.Detail); err != nil {
			return ebtypes.PutEventsRequestEntry{}, fmt.Errorf("Detail: %v", err)
		}
		detail = compact.String()
	}
	out := ebtypes.PutEventsRequestEntry{
		EventBusName: aws.String(first(e.EventBusName, bus)),
		Source:       aws.String(first(e.Source, schema.Source)),
		DetailType:   aws.String(e.DetailType),
		Detail:       aws.String(detail),
		Resources:    e.Resources,
	}
	if e.TraceHeader != "" {
		out.TraceHeader = aws.String(e.TraceHeader)
	}
	if len(e.Time) > 0 {
		t, err := parseEntryTime(e.Time)
		if err != nil {
			return ebtypes.PutEventsRequestEntry{}, err
		}
		out.Time = &t
	}
	return out, nil
}

// parseEntryTime reads an entry's Time: RFC 3339 text or epoch seconds.
func parseEntryTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("Time %q: want RFC 3339", s)
		}
		return t, nil
	}
	secs, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("Time %s: want RFC 3339 text or epoch seconds", raw)
	}
	return time.Unix(0, int64(secs*float64(time.Second))), nil
}

// progress is a progress bar (or none).
type progress interface {
	Add(int) error
	Finish() error
}

type noProgress struct{}

func (noProgress) Add(int) error { return nil }
func (noProgress) Finish() error { return nil }
