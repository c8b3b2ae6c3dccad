package replay

import (
	"errors"
	"fmt"
	"time"
)

// Window is the span of event times a replay sends again. EventBridge
// replays "only events that occurred between the EventStartTime and
// EventEndTime", judged by each event's own time field, not by when it
// was archived (StartReplay,
// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_StartReplay.html).
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Errors of a window that cannot be replayed whatever the archive holds.
var (
	// ErrEmptyWindow: the window's end is not after its start.
	ErrEmptyWindow = errors.New("empty replay window")
	// ErrFutureWindow: the window ends after now; events that have not
	// happened are not in the archive.
	ErrFutureWindow = errors.New("replay window in the future")
)

// Check returns why w cannot be replayed at now, or nil: an end not after
// its start (zero length or reversed), or an end in the future. The
// archive's own bounds are checked by NewPlan.
func (w Window) Check(now time.Time) error {
	switch {
	case w.From.IsZero() || w.To.IsZero():
		return fmt.Errorf("%w: both its start (from) and its end (to) are required", ErrEmptyWindow)
	case w.To.Equal(w.From):
		return fmt.Errorf("%w: from and to are both %s, a window of zero length; give a to after from", ErrEmptyWindow, stamp(w.From))
	case w.To.Before(w.From):
		return fmt.Errorf("%w: to %s is before from %s; swap them", ErrEmptyWindow, stamp(w.To), stamp(w.From))
	case w.To.After(now):
		return fmt.Errorf("%w: to %s is after now (%s); events that have not happened are not archived: give a to of now or earlier", ErrFutureWindow, stamp(w.To), stamp(now))
	}
	return nil
}

// Overlaps reports whether w and o share any instant. Windows that only
// touch (one ends where the other starts) do not overlap.
func (w Window) Overlaps(o Window) bool {
	return w.From.Before(o.To) && o.From.Before(w.To)
}

// Fraction is how far through w the event time t is, from 0 to 1.
func (w Window) Fraction(t time.Time) float64 {
	span := w.To.Sub(w.From)
	if span <= 0 || t.IsZero() {
		return 0
	}
	return min(max(float64(t.Sub(w.From))/float64(span), 0), 1)
}

// Duration is the window's length.
func (w Window) Duration() time.Duration { return w.To.Sub(w.From) }

// String is the window for messages: from – to, in UTC.
func (w Window) String() string { return stamp(w.From) + " – " + stamp(w.To) }

// stamp formats t for messages: RFC 3339 in UTC, with fractions of a
// second only when there are some.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
