// Package timeline draws what happened in one drill scenario as a
// self-contained HTML page holding an inline SVG timeline: state lanes
// drawn as coloured bands, line or step charts, and vertical markers, all
// on one shared time axis. The page needs no JavaScript, loads nothing
// from elsewhere and uses only fonts the viewer already has.
package timeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Timeline is everything one drawing shows; times are offsets from the
// drill's start.
type Timeline struct {
	Title, Subtitle string
	// Duration is the length of the drawing; it must be positive.
	Duration time.Duration
	// AWS converts a local offset to its AWS-equivalent time, for a second
	// reading on the axis ticks, "12s (≈6m AWS)"; nil: none.
	AWS func(time.Duration) time.Duration
	// Lanes are state lanes drawn as coloured bands, stacked above the
	// charts: "routing", "alarm us-east-1", "health check", "link".
	Lanes []Lane
	// Charts are line or step charts: "applied/s per region",
	// "replication lag".
	Charts []Chart
	// Markers are vertical lines across everything: "cut us-east-1",
	// "heal", "routed → us-west-2".
	Markers []Marker
	// Verdict is shown in the header, coloured by its first word: "PASS"
	// or "FAIL: 2 checks".
	Verdict string
	// Notes are free text lines under the drawing (figures, checks).
	Notes []string
}

// Lane is one row of bands.
type Lane struct {
	Name  string
	Bands []Band
}

// Band is a state that held from From to To. Kind picks its colour and
// pattern: "ok", "alarm", "insufficient", "primary", "secondary", "cut",
// "slow", "neutral" (see Kinds; others are drawn as neutral). Label is
// written inside the band when it fits, and is always in its tooltip.
// Bands are clipped to [0, Duration].
type Band struct {
	From, To time.Duration
	Label    string
	Kind     string
}

// Chart is one line or step chart, scaled to its own maximum.
type Chart struct {
	Title, Unit string
	// Step draws each value as held until the next point, as for sampled
	// counters; otherwise points are joined by straight lines.
	Step   bool
	Series []Series
}

// Series is one line of a chart, with its own colour and dash pattern and
// an entry in the chart's legend.
type Series struct {
	Name   string
	Points []Point
}

// Point is one value of a series.
type Point struct {
	At    time.Duration
	Value float64
}

// Marker is a vertical line across every row at At. Kind takes the same
// names as Band.Kind, plus "heal" and "route".
type Marker struct {
	At    time.Duration
	Label string
	Kind  string
}

// Kinds lists the kinds with a style of their own, in the order the key
// under the drawing shows them.
var Kinds = []string{"ok", "primary", "secondary", "slow", "insufficient", "alarm", "cut", "neutral", "heal", "route"}

// ErrInvalid is wrapped by every error about a Timeline's content.
var ErrInvalid = errors.New("timeline: invalid input")

// Validate reports the first problem that stops t being drawn: a Duration
// that is not positive, a band that ends before it starts, a value that is
// NaN or infinite.
func (t Timeline) Validate() error {
	if t.Duration <= 0 {
		return fmt.Errorf("%w: Duration %v is not positive", ErrInvalid, t.Duration)
	}
	for i, l := range t.Lanes {
		for j, b := range l.Bands {
			if b.To < b.From {
				return fmt.Errorf("%w: lane %d %q band %d %q: To %v is before From %v", ErrInvalid, i, l.Name, j, b.Label, b.To, b.From)
			}
		}
	}
	for i, c := range t.Charts {
		for j, s := range c.Series {
			for k, p := range s.Points {
				if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
					return fmt.Errorf("%w: chart %d %q series %d %q point %d at %v: value %v is not finite", ErrInvalid, i, c.Title, j, s.Name, k, p.At, p.Value)
				}
			}
		}
	}
	return nil
}

// Render writes t to w as a self-contained HTML page. It writes nothing
// when t is invalid.
func Render(w io.Writer, t Timeline) error {
	var b bytes.Buffer
	if err := renderHTML(&b, t); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// RenderSVG writes only the drawing of t, as a standalone SVG document
// (without the header, verdict and notes of Render's page).
func RenderSVG(w io.Writer, t Timeline) error {
	if err := t.Validate(); err != nil {
		return err
	}
	svg, _ := drawSVG(t)
	_, err := io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+svg)
	return err
}

// WriteFile renders t to the file at path, creating its parent
// directories. The file appears whole or not at all.
func WriteFile(path string, t Timeline) error {
	var b bytes.Buffer
	if err := Render(&b, t); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(b.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
