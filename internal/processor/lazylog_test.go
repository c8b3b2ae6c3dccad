package processor

import (
	"bytes"
	"log/slog"
	"testing"
)

// A logger on lazyHandler writes exactly what the same calls write with
// slog's own With, groups and levels included.
func TestLazyHandlerWritesWhatWithWrites(t *testing.T) {
	calls := func(l *slog.Logger) {
		inv := l.With(slog.Bool("cold_start", true), slog.String("function_request_id", "r-1"))
		ev := inv.With("correlation_id", "e-1", "order_id", "o-\"1\"")
		ev.Debug("dropped below the level", "payload", "x")
		ev.Info("event processed", slog.Int64("seq", 3))
		inv.Warn("no event attributes")
		ev.WithGroup("g").With("k", 1).Error("grouped", "v", 2.5)
		l.Info("plain")
	}
	opts := &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{} // times differ between the two runs
		}
		return a
	}}
	var eager, lazy bytes.Buffer
	calls(slog.New(slog.NewJSONHandler(&eager, opts)).With("service", "s"))
	calls(slog.New(&lazyHandler{next: slog.NewJSONHandler(&lazy, opts).WithAttrs([]slog.Attr{slog.String("service", "s")})}))
	if eager.String() != lazy.String() {
		t.Errorf("lazy handler wrote\n%s\nwant what With writes\n%s", lazy.String(), eager.String())
	}
	if bytes.Count(eager.Bytes(), []byte("\n")) != 4 {
		t.Errorf("wrote %q, want 4 lines", eager.String())
	}
}
