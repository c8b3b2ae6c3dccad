package replay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/tap-trading/tap/internal/names"
)

// Archive is what a replay needs to know about the archive it replays.
type Archive struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
	// Bus is the ARN of the archive's source bus: the only bus its events
	// can be replayed to.
	Bus     string    `json:"bus"`
	State   string    `json:"state"`
	Created time.Time `json:"created"`
	// RetentionDays is how long events are kept; 0 keeps them forever.
	RetentionDays int32 `json:"retentionDays"`
	// EventCount is the archive's event count, which EventBridge
	// reconciles within 24 hours.
	EventCount int64 `json:"eventCount"`
}

// Earliest is the oldest event time the archive can hold at now: its
// creation, or now − RetentionDays if that is later.
func (a Archive) Earliest(now time.Time) time.Time {
	earliest := a.Created
	if a.RetentionDays > 0 {
		if kept := now.Add(-time.Duration(a.RetentionDays) * 24 * time.Hour); kept.After(earliest) {
			earliest = kept
		}
	}
	return earliest
}

// BusName is the name of the archive's source bus (the last part of its
// ARN, arn:…:event-bus/NAME).
func (a Archive) BusName() string {
	_, name, _ := strings.Cut(a.Bus, ":event-bus/")
	return name
}

// Rule is a rule a replay is limited to (a FilterArns entry).
type Rule struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
}

// Plan is a replay ready to start: what would be replayed, where to.
type Plan struct {
	// Name is the replay's name (see Name).
	Name    string  `json:"name"`
	Archive Archive `json:"archive"`
	Window  Window  `json:"window"`
	// Destination is the ARN of the bus the events are replayed to: the
	// archive's own bus.
	Destination string `json:"destination"`
	// Rules limit the replay to these rules of the bus; none means every
	// rule of the bus.
	Rules []Rule `json:"rules"`
}

// Request asks for a replay.
type Request struct {
	// Names is the environment: it names the replay.
	Names names.Names
	// Archive is the name of the archive to replay.
	Archive string
	Window  Window
	// Rules are the names of rules of the archive's bus to limit the replay
	// to; empty replays to every rule of the bus.
	Rules []string
	// Now is the time the window is judged at.
	Now time.Time
}

// Why a replay is refused by the archive or by the replays running on it.
var (
	// ErrNoArchive: the archive does not exist.
	ErrNoArchive = errors.New("no such archive")
	// ErrOutsideRetention: the window starts before the oldest event the
	// archive can hold.
	ErrOutsideRetention = errors.New("replay window outside the archive's retention")
	// ErrOverlap: an active replay of the same archive covers part of the
	// window (see OverlapError).
	ErrOverlap = errors.New("replay window overlaps an active replay")
	// ErrNoRule: a rule the replay is limited to does not exist on the bus.
	ErrNoRule = errors.New("no such rule")
)

// OverlapError is the refusal of a window that overlaps the window of an
// active (STARTING or RUNNING) replay of the same archive: replaying the
// same events twice at once only doubles the duplicates.
type OverlapError struct {
	Window Window
	// Other is the active replay.
	Other Status
}

func (e *OverlapError) Error() string {
	return fmt.Sprintf("%v: replay %s is %s over %s, which overlaps %s; wait for it to finish or cancel it",
		ErrOverlap, e.Other.Name, e.Other.State, e.Other.Window, e.Window)
}

// Is makes errors.Is(err, ErrOverlap) true.
func (e *OverlapError) Is(target error) bool { return target == ErrOverlap }

// NewPlan checks req against the archive and the replays of it and returns
// the replay to start. It refuses (and starts nothing) a window that
// Window.Check refuses, a missing archive, a window that starts before the
// archive's Earliest, a window overlapping an active replay of the archive
// (an *OverlapError naming it), and a rule that is not on the bus.
func NewPlan(ctx context.Context, api EventBridge, req Request) (Plan, error) {
	if err := req.Window.Check(req.Now); err != nil {
		return Plan{}, err
	}
	a, err := describeArchive(ctx, api, req.Archive)
	if err != nil {
		return Plan{}, err
	}
	if earliest := a.Earliest(req.Now); req.Window.From.Before(earliest) {
		keeps := "was created at " + stamp(a.Created)
		if a.RetentionDays > 0 {
			keeps += fmt.Sprintf(" and keeps events %d days", a.RetentionDays)
		}
		return Plan{}, fmt.Errorf("%w: archive %s %s, so it holds no event before %s; from %s is earlier: give a from at or after %s",
			ErrOutsideRetention, a.Name, keeps, stamp(earliest), stamp(req.Window.From), stamp(earliest))
	}
	replays, err := list(ctx, api, &eventbridge.ListReplaysInput{EventSourceArn: &a.ARN})
	if err != nil {
		return Plan{}, err
	}
	for _, r := range replays {
		if r.Active() && r.Window.Overlaps(req.Window) {
			return Plan{}, &OverlapError{Window: req.Window, Other: r}
		}
	}
	// Replay names are unique in the region, whatever their archive.
	prefix := BaseName(req.Names, req.Window)
	same, err := list(ctx, api, &eventbridge.ListReplaysInput{NamePrefix: &prefix})
	if err != nil {
		return Plan{}, err
	}
	taken := map[string]bool{}
	for _, r := range same {
		taken[r.Name] = true
	}
	name, err := Name(req.Names, req.Window, func(n string) bool { return taken[n] })
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Name: name, Archive: a, Window: req.Window, Destination: a.Bus, Rules: []Rule{}}
	for _, rule := range req.Rules {
		out, err := api.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(rule), EventBusName: aws.String(a.BusName())})
		if err != nil {
			var nf *ebtypes.ResourceNotFoundException
			if errors.As(err, &nf) {
				return Plan{}, fmt.Errorf("%w: rule %s is not on bus %s", ErrNoRule, rule, a.BusName())
			}
			return Plan{}, fmt.Errorf("describe rule %s of bus %s: %w", rule, a.BusName(), err)
		}
		p.Rules = append(p.Rules, Rule{Name: rule, ARN: aws.ToString(out.Arn)})
	}
	return p, nil
}

func describeArchive(ctx context.Context, api EventBridge, name string) (Archive, error) {
	out, err := api.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: &name})
	if err != nil {
		var nf *ebtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return Archive{}, fmt.Errorf("%w: archive %s does not exist", ErrNoArchive, name)
		}
		return Archive{}, fmt.Errorf("describe archive %s: %w", name, err)
	}
	return Archive{
		Name: aws.ToString(out.ArchiveName), ARN: aws.ToString(out.ArchiveArn), Bus: aws.ToString(out.EventSourceArn),
		State: string(out.State), Created: aws.ToTime(out.CreationTime),
		RetentionDays: aws.ToInt32(out.RetentionDays), EventCount: out.EventCount,
	}, nil
}

// list lists the replays in (one filter: ListReplays allows at most one),
// every page.
func list(ctx context.Context, api EventBridge, in *eventbridge.ListReplaysInput) ([]Status, error) {
	var all []Status
	for {
		out, err := api.ListReplays(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list replays: %w", err)
		}
		for _, r := range out.Replays {
			all = append(all, statusOf(r))
		}
		if aws.ToString(out.NextToken) == "" {
			return all, nil
		}
		in.NextToken = out.NextToken
	}
}
