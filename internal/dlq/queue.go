package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tap-trading/tap/producer"
)

// SQS is the part of *sqs.Client the queue operations use.
type SQS interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Publisher republishes events (a *producer.Publisher).
type Publisher interface {
	Publish(ctx context.Context, entries []ebtypes.PutEventsRequestEntry, observe func(producer.EntryResult)) (producer.Summary, error)
}

// holdFor is how long a received message stays invisible to others while a
// listing or a redrive holds it; both release what they keep at the end.
const holdFor = 120 // seconds

// Depth is a queue's approximate message counts.
type Depth struct {
	// Visible messages wait to be received; InFlight are received and not
	// yet deleted or released.
	Visible  int `json:"visible"`
	InFlight int `json:"inFlight"`
}

// QueueDepth reads a queue's approximate message counts.
func QueueDepth(ctx context.Context, api SQS, queueURL string) (Depth, error) {
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &queueURL,
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return Depth{}, fmt.Errorf("queue attributes of %s: %w", queueURL, err)
	}
	var d Depth
	d.Visible, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	d.InFlight, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return d, nil
}

// receiver receives a queue's messages once each, holding them invisible
// until released.
type receiver struct {
	api  SQS
	url  string
	seen map[string]bool
	held []sqstypes.Message
}

// next receives up to n messages not seen before; an empty result means the
// queue has nothing more to give now.
func (r *receiver) next(ctx context.Context, n int) ([]sqstypes.Message, error) {
	out, err := r.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &r.url,
		MaxNumberOfMessages:         int32(min(n, 10)),
		VisibilityTimeout:           holdFor,
		WaitTimeSeconds:             1,
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", r.url, err)
	}
	var fresh []sqstypes.Message
	for _, m := range out.Messages {
		id := aws.ToString(m.MessageId)
		if r.seen[id] {
			continue
		}
		r.seen[id] = true
		fresh = append(fresh, m)
	}
	return fresh, nil
}

// hold keeps m invisible until release.
func (r *receiver) hold(m sqstypes.Message) { r.held = append(r.held, m) }

// release makes every held message visible again. It uses a fresh context:
// messages must be released even when the operation was interrupted.
func (r *receiver) release() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for chunk := range slices.Chunk(r.held, 10) {
		in := &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &r.url}
		for i, m := range chunk {
			in.Entries = append(in.Entries, sqstypes.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
			})
		}
		if _, err := r.api.ChangeMessageVisibilityBatch(ctx, in); err != nil {
			errs = append(errs, fmt.Errorf("release messages of %s: %w", r.url, err))
		}
	}
	r.held = nil
	return errors.Join(errs...)
}

// Peek returns up to limit records of the queue (0: all it gives), oldest
// first, without consuming them: they are received and released again.
func Peek(ctx context.Context, api SQS, queueURL string, limit int) ([]Record, error) {
	rc := &receiver{api: api, url: queueURL, seen: map[string]bool{}}
	var recs []Record
	var err error
	for limit <= 0 || len(recs) < limit {
		want := 10
		if limit > 0 {
			want = limit - len(recs)
		}
		var msgs []sqstypes.Message
		if msgs, err = rc.next(ctx, want); err != nil || len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			rc.hold(m)
			recs = append(recs, Parse(m))
		}
	}
	if rerr := rc.release(); err == nil {
		err = rerr
	}
	slices.SortStableFunc(recs, func(a, b Record) int { return a.SentAt.Compare(b.SentAt) })
	return recs, err
}

// RedriveOptions select what Redrive republishes, and where.
type RedriveOptions struct {
	// Bus is the event bus (name or ARN) events are republished to.
	Bus string
	// Max stops after this many messages were examined; 0 means all.
	Max int
	// Reason, when not empty, redrives only records with this reason.
	Reason string
	// DryRun lists what would be redriven without publishing or deleting.
	DryRun bool
	// Before bounds the redrive to messages that entered the queue before
	// it (SQS's SentTimestamp); later ones — among them the events the
	// redrive itself sends back to the queue when they fail again — are left
	// for the next redrive, so a redrive always ends. Default: when Redrive
	// starts, by the local clock.
	Before time.Time
}

// Status is what Redrive did with one message.
type Status string

// Statuses of redriven messages.
const (
	// Redriven: republished, accepted, and deleted from the queue.
	Redriven Status = "redriven"
	// WouldRedrive: a dry run found it redrivable.
	WouldRedrive Status = "would-redrive"
	// NotAccepted: PutEvents did not accept it; it stays in the queue.
	NotAccepted Status = "not-accepted"
	// NotDeleted: republished, but deleting it failed; it stays in the
	// queue and a later redrive republishes it again (harmless: the
	// processor sees a duplicate).
	NotDeleted Status = "not-deleted"
	// Unredrivable: the record holds no event to republish; it stays.
	Unredrivable Status = "unredrivable"
	// Filtered: its reason is not the one asked for; it stays.
	Filtered Status = "filtered"
)

// Outcome is what happened to one message.
type Outcome struct {
	Record Record `json:"record"`
	Status Status `json:"status"`
	// Detail explains a status other than redriven (the error code, or why
	// there is no event).
	Detail string `json:"detail,omitempty"`
}

// Redrive republishes the events held in a dead-letter queue to opts.Bus and
// deletes exactly the messages whose events PutEvents accepted; everything
// else is released, visible again, for a later attempt. It returns one
// Outcome per message examined; the error reports a failure that stopped it
// early (the outcomes so far are still returned).
func Redrive(ctx context.Context, api SQS, queueURL string, pub Publisher, opts RedriveOptions) ([]Outcome, error) {
	if opts.Before.IsZero() {
		opts.Before = time.Now()
	}
	rc := &receiver{api: api, url: queueURL, seen: map[string]bool{}}
	var outcomes []Outcome
	var err error
	for opts.Max <= 0 || len(outcomes) < opts.Max {
		want := 10
		if opts.Max > 0 {
			want = opts.Max - len(outcomes)
		}
		var msgs []sqstypes.Message
		if msgs, err = rc.next(ctx, want); err != nil || len(msgs) == 0 {
			break
		}
		var batch []Outcome
		if batch, err = redriveBatch(ctx, rc, pub, msgs, opts); err != nil {
			outcomes = append(outcomes, batch...)
			break
		}
		outcomes = append(outcomes, batch...)
	}
	if rerr := rc.release(); err == nil {
		err = rerr
	}
	return outcomes, err
}

func redriveBatch(ctx context.Context, rc *receiver, pub Publisher, msgs []sqstypes.Message, opts RedriveOptions) ([]Outcome, error) {
	outs := make([]Outcome, len(msgs))
	var entries []ebtypes.PutEventsRequestEntry
	var at []int   // entries[i] comes from msgs[at[i]]
	var kept []int // indexes of msgs that are part of this redrive
	for i, m := range msgs {
		rec := Parse(m)
		outs[i] = Outcome{Record: rec}
		if rec.SentAt.After(opts.Before) {
			rc.hold(m) // arrived during the redrive: for the next one
			continue
		}
		kept = append(kept, i)
		if opts.Reason != "" && rec.Reason != opts.Reason {
			outs[i].Status = Filtered
			rc.hold(m)
			continue
		}
		e, err := EntryFor(rec.Event, opts.Bus)
		if err != nil {
			outs[i].Status, outs[i].Detail = Unredrivable, err.Error()
			rc.hold(m)
			continue
		}
		if opts.DryRun {
			outs[i].Status = WouldRedrive
			rc.hold(m)
			continue
		}
		entries = append(entries, e)
		at = append(at, i)
	}
	if len(entries) == 0 {
		return pick(outs, kept), nil
	}
	var accepted []int
	_, err := pub.Publish(ctx, entries, func(r producer.EntryResult) {
		i := at[r.Index]
		if r.Accepted() {
			accepted = append(accepted, i)
			return
		}
		outs[i].Status, outs[i].Detail = NotAccepted, r.ErrorCode+": "+r.ErrorMessage
	})
	for _, i := range at {
		if outs[i].Status == "" && !slices.Contains(accepted, i) {
			outs[i].Status, outs[i].Detail = NotAccepted, "not sent"
		}
		if outs[i].Status == NotAccepted {
			rc.hold(msgs[i])
		}
	}
	derr := deleteAccepted(ctx, rc, msgs, accepted, outs)
	return pick(outs, kept), errors.Join(err, derr)
}

// pick returns outs at the indexes idx.
func pick(outs []Outcome, idx []int) []Outcome {
	picked := make([]Outcome, len(idx))
	for i, k := range idx {
		picked[i] = outs[k]
	}
	return picked
}

// deleteAccepted deletes the accepted messages and marks their outcomes.
func deleteAccepted(ctx context.Context, rc *receiver, msgs []sqstypes.Message, accepted []int, outs []Outcome) error {
	if len(accepted) == 0 {
		return nil
	}
	in := &sqs.DeleteMessageBatchInput{QueueUrl: &rc.url}
	for _, i := range accepted {
		outs[i].Status = Redriven
		in.Entries = append(in.Entries, sqstypes.DeleteMessageBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), ReceiptHandle: msgs[i].ReceiptHandle,
		})
	}
	out, err := rc.api.DeleteMessageBatch(ctx, in)
	if err != nil {
		for _, i := range accepted {
			outs[i].Status, outs[i].Detail = NotDeleted, err.Error()
		}
		return fmt.Errorf("delete redriven messages from %s: %w", rc.url, err)
	}
	for _, f := range out.Failed {
		i, _ := strconv.Atoi(aws.ToString(f.Id))
		outs[i].Status, outs[i].Detail = NotDeleted, aws.ToString(f.Code)+": "+aws.ToString(f.Message)
	}
	return nil
}

// EntryFor builds the PutEvents entry that republishes ev, an EventBridge
// event as delivered, to bus: same source, detail-type, detail, resources
// and time.
func EntryFor(ev json.RawMessage, bus string) (ebtypes.PutEventsRequestEntry, error) {
	if ev == nil {
		return ebtypes.PutEventsRequestEntry{}, errors.New("the message holds no event")
	}
	var e struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Detail     json.RawMessage `json:"detail"`
		Resources  []string        `json:"resources"`
		Time       string          `json:"time"`
	}
	if err := json.Unmarshal(ev, &e); err != nil {
		return ebtypes.PutEventsRequestEntry{}, fmt.Errorf("the event is not valid JSON: %w", err)
	}
	if e.Source == "" || e.DetailType == "" || len(e.Detail) == 0 || e.Detail[0] != '{' {
		return ebtypes.PutEventsRequestEntry{}, errors.New("the event has no source, detail-type or detail object")
	}
	entry := ebtypes.PutEventsRequestEntry{
		EventBusName: aws.String(bus),
		Source:       aws.String(e.Source),
		DetailType:   aws.String(e.DetailType),
		Detail:       aws.String(string(e.Detail)),
		Resources:    e.Resources,
	}
	if t, err := time.Parse(time.RFC3339, e.Time); err == nil {
		entry.Time = &t
	}
	return entry, nil
}
