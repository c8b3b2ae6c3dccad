// Package replay plans, starts and follows an EventBridge replay of a TAP
// bus's archive into the same bus (DESIGN §3, §5): an operator's way to
// send a window of past events through the processor again, e.g. after a
// fix. Replays are harmless to the table: the processor applies an event
// it has applied before as a duplicate (I1), and records no
// PipelineLatency for an event carrying replay-name.
//
// The AWS semantics it relies on, from the EventBridge documentation:
//
//   - A replay sends the archived events whose own time lies in
//     [EventStartTime, EventEndTime], minute by minute of event time, not
//     necessarily in order; DescribeReplay's EventLastReplayedTime is the
//     event time reached, which is how progress is measured (StartReplay,
//     https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_StartReplay.html;
//     https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-replay-archived-event.html).
//   - The destination must be the archive's own bus; FilterArns limits the
//     replay to some of its rules (ReplayDestination,
//     https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_ReplayDestination.html).
//   - A replay's state is STARTING, RUNNING, CANCELLING, COMPLETED,
//     CANCELLED or FAILED; it can be cancelled only while STARTING or
//     RUNNING (Replay,
//     https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Replay.html;
//     CancelReplay's IllegalStatusException,
//     https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_CancelReplay.html).
//     At most 10 replays are active per account and region.
//   - An archive keeps events RetentionDays (0: forever) and holds nothing
//     from before its creation; an event can take a while to reach it
//     ("we recommend you delay replaying archived events for 10 minutes"),
//     and its EventCount is reconciled within 24 hours
//     (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-archive.html).
//   - A replayed event carries "replay-name", the replay's name, in its
//     envelope, and the archive's managed rule keeps replayed events out of
//     the archive
//     (https://docs.aws.amazon.com/eventbridge/latest/ref/events-structure.html).
package replay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// EventBridge is the part of *eventbridge.Client a replay uses.
type EventBridge interface {
	DescribeArchive(ctx context.Context, in *eventbridge.DescribeArchiveInput, opts ...func(*eventbridge.Options)) (*eventbridge.DescribeArchiveOutput, error)
	DescribeRule(ctx context.Context, in *eventbridge.DescribeRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
	ListReplays(ctx context.Context, in *eventbridge.ListReplaysInput, opts ...func(*eventbridge.Options)) (*eventbridge.ListReplaysOutput, error)
	StartReplay(ctx context.Context, in *eventbridge.StartReplayInput, opts ...func(*eventbridge.Options)) (*eventbridge.StartReplayOutput, error)
	DescribeReplay(ctx context.Context, in *eventbridge.DescribeReplayInput, opts ...func(*eventbridge.Options)) (*eventbridge.DescribeReplayOutput, error)
	CancelReplay(ctx context.Context, in *eventbridge.CancelReplayInput, opts ...func(*eventbridge.Options)) (*eventbridge.CancelReplayOutput, error)
}

// The states of a replay (ebtypes.ReplayState).
const (
	Starting   = ebtypes.ReplayStateStarting
	Running    = ebtypes.ReplayStateRunning
	Cancelling = ebtypes.ReplayStateCancelling
	Completed  = ebtypes.ReplayStateCompleted
	Cancelled  = ebtypes.ReplayStateCancelled
	Failed     = ebtypes.ReplayStateFailed
)

// Status is what EventBridge says about one replay.
type Status struct {
	Name  string              `json:"name"`
	ARN   string              `json:"arn,omitempty"`
	State ebtypes.ReplayState `json:"state"`
	// Reason is EventBridge's StateReason, e.g. why it failed.
	Reason string `json:"reason,omitempty"`
	// Archive is the ARN of the archive replayed.
	Archive string `json:"archive,omitempty"`
	Window  Window `json:"window"`
	// LastReplayed is the event time of the last event replayed
	// (EventLastReplayedTime); zero before the first.
	LastReplayed time.Time `json:"lastReplayed,omitzero"`
	// Started and Ended are when the replay started and completed.
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
}

// Active reports whether the replay is still sending events (STARTING or
// RUNNING): the states in which it can be cancelled and in which another
// replay of an overlapping window is refused.
func (s Status) Active() bool { return s.State == Starting || s.State == Running }

// Done reports whether the replay has reached a final state.
func (s Status) Done() bool {
	return s.State == Completed || s.State == Cancelled || s.State == Failed
}

// Progress is how far through its window the replay has got, from 0 to 1:
// EventLastReplayedTime against the window, 1 once COMPLETED.
func (s Status) Progress() float64 {
	if s.State == Completed {
		return 1
	}
	return s.Window.Fraction(s.LastReplayed)
}

// Took is how long the replay ran: to its end, or to now while it runs.
func (s Status) Took(now time.Time) time.Duration {
	switch {
	case s.Started.IsZero():
		return 0
	case !s.Ended.IsZero():
		return s.Ended.Sub(s.Started)
	}
	return now.Sub(s.Started)
}

func statusOf(r ebtypes.Replay) Status {
	return Status{
		Name: aws.ToString(r.ReplayName), State: r.State, Reason: aws.ToString(r.StateReason),
		Archive:      aws.ToString(r.EventSourceArn),
		Window:       Window{From: aws.ToTime(r.EventStartTime), To: aws.ToTime(r.EventEndTime)},
		LastReplayed: aws.ToTime(r.EventLastReplayedTime),
		Started:      aws.ToTime(r.ReplayStartTime), Ended: aws.ToTime(r.ReplayEndTime),
	}
}

// Describe returns the status of the replay name.
func Describe(ctx context.Context, api EventBridge, name string) (Status, error) {
	out, err := api.DescribeReplay(ctx, &eventbridge.DescribeReplayInput{ReplayName: &name})
	if err != nil {
		var nf *ebtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return Status{}, fmt.Errorf("%w: no replay named %s in this region", ErrNoReplay, name)
		}
		return Status{}, fmt.Errorf("describe replay %s: %w", name, err)
	}
	return Status{
		Name: aws.ToString(out.ReplayName), ARN: aws.ToString(out.ReplayArn), State: out.State,
		Reason: aws.ToString(out.StateReason), Archive: aws.ToString(out.EventSourceArn),
		Window:       Window{From: aws.ToTime(out.EventStartTime), To: aws.ToTime(out.EventEndTime)},
		LastReplayed: aws.ToTime(out.EventLastReplayedTime),
		Started:      aws.ToTime(out.ReplayStartTime), Ended: aws.ToTime(out.ReplayEndTime),
	}, nil
}

// ErrNoReplay: no replay has the name given.
var ErrNoReplay = errors.New("no such replay")

// Start starts the replay p describes and returns its first status. Nothing
// is started when it returns an error.
func Start(ctx context.Context, api EventBridge, p Plan) (Status, error) {
	in := &eventbridge.StartReplayInput{
		ReplayName:     &p.Name,
		Description:    aws.String(fmt.Sprintf("tapctl replay of %s, events from %s to %s", p.Archive.Name, stamp(p.Window.From), stamp(p.Window.To))),
		EventSourceArn: &p.Archive.ARN,
		EventStartTime: aws.Time(p.Window.From),
		EventEndTime:   aws.Time(p.Window.To),
		Destination:    &ebtypes.ReplayDestination{Arn: &p.Destination},
	}
	for _, r := range p.Rules {
		in.Destination.FilterArns = append(in.Destination.FilterArns, r.ARN)
	}
	out, err := api.StartReplay(ctx, in)
	if err != nil {
		var exists *ebtypes.ResourceAlreadyExistsException
		var limit *ebtypes.LimitExceededException
		switch {
		case errors.As(err, &exists):
			return Status{}, fmt.Errorf("a replay named %s already exists (started since this one was planned): run again to pick the next free name: %w", p.Name, err)
		case errors.As(err, &limit):
			return Status{}, fmt.Errorf("EventBridge refused replay %s: at most 10 replays may be active per account and region; wait for one to finish: %w", p.Name, err)
		}
		return Status{}, fmt.Errorf("start replay %s: %w", p.Name, err)
	}
	return Status{
		Name: p.Name, ARN: aws.ToString(out.ReplayArn), State: out.State, Reason: aws.ToString(out.StateReason),
		Archive: p.Archive.ARN, Window: p.Window, Started: aws.ToTime(out.ReplayStartTime),
	}, nil
}

// Follow asks EventBridge for the replay's status every interval, passing
// each to progress (when not nil), until the replay reaches a final state,
// which it returns. When ctx ends first it returns the last status seen
// and ctx's error: the replay goes on in EventBridge.
func Follow(ctx context.Context, api EventBridge, name string, every time.Duration, progress func(Status)) (Status, error) {
	var last Status
	for {
		s, err := Describe(ctx, api, name)
		if err != nil {
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			return last, err
		}
		last = s
		if progress != nil {
			progress(s)
		}
		if s.Done() {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(every):
		}
	}
}

// ErrNotCancellable: the replay is not STARTING or RUNNING.
var ErrNotCancellable = errors.New("replay cannot be cancelled")

// Cancel asks EventBridge to cancel the replay name and returns its state
// then (CANCELLING, as a rule). Only a STARTING or RUNNING replay can be
// cancelled.
func Cancel(ctx context.Context, api EventBridge, name string) (Status, error) {
	out, err := api.CancelReplay(ctx, &eventbridge.CancelReplayInput{ReplayName: &name})
	if err != nil {
		var illegal *ebtypes.IllegalStatusException
		var nf *ebtypes.ResourceNotFoundException
		switch {
		case errors.As(err, &illegal):
			state := "no longer active"
			if s, derr := Describe(ctx, api, name); derr == nil {
				state = string(s.State)
			}
			return Status{}, fmt.Errorf("%w: replay %s is %s; only a STARTING or RUNNING replay can be cancelled", ErrNotCancellable, name, state)
		case errors.As(err, &nf):
			return Status{}, fmt.Errorf("%w: no replay named %s in this region", ErrNoReplay, name)
		}
		return Status{}, fmt.Errorf("cancel replay %s: %w", name, err)
	}
	return Status{Name: name, ARN: aws.ToString(out.ReplayArn), State: out.State, Reason: aws.ToString(out.StateReason)}, nil
}
