package timeline

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// esc escapes s for XML text and attribute values, and replaces what XML
// cannot hold (control characters, invalid UTF-8) with U+FFFD.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&#34;")
		case '\'':
			b.WriteString("&#39;")
		default:
			if !xmlChar(r) {
				r = utf8.RuneError
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// textW estimates the width in pixels of s in a sans-serif font of the
// given size; it errs wide (DejaVu Sans, the widest common default).
func textW(s string, size float64) float64 {
	w := 0.0
	for _, r := range s {
		switch {
		case strings.ContainsRune("iIjl.,:;'|!()[] ", r):
			w += 0.34
		case strings.ContainsRune("mwMW@%", r):
			w += 0.92
		case r >= 'A' && r <= 'Z':
			w += 0.70
		case r >= 0x2E80: // CJK and other wide scripts
			w += 1.0
		default:
			w += 0.61
		}
	}
	return w * size
}

// fit shortens s with an ellipsis until it is at most width pixels wide;
// it returns "" when not even one character fits.
func fit(s string, size, width float64) string {
	if textW(s, size) <= width {
		return s
	}
	r := []rune(s)
	for n := len(r) - 1; n > 0; n-- {
		t := strings.TrimRight(string(r[:n]), " ") + "…"
		if textW(t, size) <= width {
			return t
		}
	}
	return ""
}

// trim formats v with at most prec decimals and no trailing zeros.
func trim(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// fmtDur formats d exactly (to the nanosecond) but compactly: 0s, 250ms,
// 12s, 12.5s, 6m, 6m30s, 1h, 1h30m.
func fmtDur(d time.Duration) string {
	if d < 0 {
		if d == math.MinInt64 {
			return d.String()
		}
		return "-" + fmtDur(-d)
	}
	switch {
	case d == 0:
		return "0s"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", int64(d))
	case d < time.Millisecond:
		return trim(float64(d)/1e3, 3) + "µs"
	case d < time.Second:
		return trim(float64(d)/1e6, 6) + "ms"
	case d < time.Minute:
		return trim(d.Seconds(), 9) + "s"
	case d < time.Hour:
		s := fmt.Sprintf("%dm", d/time.Minute)
		if rem := d % time.Minute; rem != 0 {
			s += trim(rem.Seconds(), 9) + "s"
		}
		return s
	default:
		s := fmt.Sprintf("%dh", d/time.Hour)
		if rem := d % time.Hour; rem != 0 {
			s += fmtDur(rem)
		}
		return s
	}
}

// fmtAt formats an instant for tooltips and labels, to the millisecond.
func fmtAt(d time.Duration) string {
	return fmtDur(d.Round(time.Millisecond))
}

// fmtApprox formats d to at most one decimal in its largest unit, none
// from 100 up: 350ms, 4.5s, 45s, 6m, 12.5m, 2.5h, 3d.
func fmtApprox(d time.Duration) string {
	if d < 0 {
		if d == math.MinInt64 {
			d++
		}
		return "-" + fmtApprox(-d)
	}
	sig := func(v float64) string {
		if v < 100 {
			return trim(v, 1)
		}
		return trim(math.Round(v), 0)
	}
	switch {
	case d == 0:
		return "0s"
	case d < time.Millisecond:
		return sig(float64(d)/1e3) + "µs"
	case d < time.Second:
		return sig(float64(d)/1e6) + "ms"
	case d < time.Minute:
		return sig(d.Seconds()) + "s"
	case d < time.Hour:
		return sig(d.Minutes()) + "m"
	case d < 48*time.Hour:
		return sig(d.Hours()) + "h"
	default:
		return sig(d.Hours()/24) + "d"
	}
}

// fmtNum formats an axis value compactly: 0.25, 1500, 12k, 2.5M.
func fmtNum(v float64) string {
	a := math.Abs(v)
	g := func(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }
	switch {
	case a >= 1e12:
		return g(v/1e12) + "T"
	case a >= 1e9:
		return g(v/1e9) + "G"
	case a >= 1e6:
		return g(v/1e6) + "M"
	case a >= 1e4:
		return g(v/1e3) + "k"
	case a < 1e-12:
		return "0"
	default:
		return g(v)
	}
}

// fmtValue formats a data value with more precision than fmtNum.
func fmtValue(v float64) string {
	if math.Abs(v) >= 1e6 {
		return fmtNum(v)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// niceStep rounds raw up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if !(raw > 0) || math.IsInf(raw, 0) {
		return 1
	}
	base := math.Pow(10, math.Floor(math.Log10(raw)))
	f := raw / base
	switch {
	case f <= 1:
		f = 1
	case f <= 2:
		f = 2
	case f <= 2.5:
		f = 2.5
	case f <= 5:
		f = 5
	default:
		f = 10
	}
	return f * base
}

// yScale widens [lo, hi] to nice bounds that take in zero, and returns the
// bounds and the tick step.
func yScale(lo, hi float64) (nlo, nhi, step float64) {
	lo, hi = math.Min(lo, 0), math.Max(hi, 0)
	if hi == lo {
		hi = lo + 1
	}
	step = niceStep((hi - lo) / 4)
	nlo = math.Floor(lo/step) * step
	nhi = math.Ceil(hi/step) * step
	if nhi == nlo {
		nhi = nlo + step
	}
	return nlo, nhi, step
}

// timeSteps are the candidate spacings of the time axis ticks, ascending.
var timeSteps = func() []time.Duration {
	var s []time.Duration
	for p := time.Duration(1); p < time.Second; p *= 10 {
		s = append(s, p, 2*p, 5*p)
	}
	s = append(s, time.Second, 2*time.Second, 5*time.Second, 10*time.Second, 15*time.Second, 30*time.Second,
		time.Minute, 2*time.Minute, 5*time.Minute, 10*time.Minute, 15*time.Minute, 30*time.Minute,
		time.Hour, 2*time.Hour, 3*time.Hour, 6*time.Hour, 12*time.Hour)
	for p := 24 * time.Hour; p < math.MaxInt64/50; p *= 10 {
		s = append(s, p, 2*p, 5*p)
	}
	return s
}()

type tick struct {
	at time.Duration
	// lines of the label: "12s", or "12s " and "(≈6m AWS)", drawn one
	// under the other so that more ticks fit; together they read
	// "12s (≈6m AWS)".
	lines []string
}

func (t tick) label() string { return strings.Join(t.lines, "") }

func tickLines(d time.Duration, aws func(time.Duration) time.Duration) []string {
	if aws == nil {
		return []string{fmtDur(d)}
	}
	return []string{fmtDur(d) + " ", "(≈" + fmtApprox(aws(d)) + " AWS)"}
}

// timeTicks picks the finest tick spacing whose labels fit side by side in
// width pixels.
func timeTicks(dur time.Duration, aws func(time.Duration) time.Duration, width, size float64) []tick {
	var ticks []tick
	for _, step := range timeSteps {
		if dur/step > 40 {
			continue
		}
		ticks = ticks[:0]
		widest := 0.0
		for at := time.Duration(0); at <= dur && at >= 0; at += step {
			l := tickLines(at, aws)
			for _, line := range l {
				widest = math.Max(widest, textW(line, size))
			}
			ticks = append(ticks, tick{at, l})
		}
		if float64(len(ticks))*(widest+16) <= width {
			return ticks
		}
	}
	return ticks
}
