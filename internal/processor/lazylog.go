package processor

import (
	"context"
	"log/slog"
	"slices"
)

// lazyHandler holds the attributes loggers derived from it are given (the
// invocation's, then the event's IDs) and encodes them only when a line is
// written. slog's JSON handler encodes With attributes at once, and every
// invocation derives its loggers, while an applied event at INFO writes no
// line at all. The output is the same as with With on next.
type lazyHandler struct {
	next  slog.Handler
	attrs []slog.Attr // for next.WithAttrs, in With order
}

func (h *lazyHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return &lazyHandler{next: h.next, attrs: append(slices.Clip(h.attrs), attrs...)}
}

func (h *lazyHandler) WithGroup(name string) slog.Handler {
	return h.materialize().WithGroup(name)
}

func (h *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.materialize().Handle(ctx, r)
}

func (h *lazyHandler) materialize() slog.Handler {
	if len(h.attrs) == 0 {
		return h.next
	}
	return h.next.WithAttrs(h.attrs)
}
