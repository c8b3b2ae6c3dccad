package timeline

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Layout, in pixels.
const (
	svgWidth    = 1100
	plotX0      = 200.0 // left edge of the plot; lane names and y labels sit left of it
	plotX1      = 1070.0
	plotW       = plotX1 - plotX0
	padTop      = 10.0
	levelH      = 15.0 // one row of marker labels
	laneH       = 24.0
	laneGap     = 6.0
	headH       = 18.0 // one row of a chart's title and legend
	chartH      = 110.0
	emptyChartH = 36.0
	chartGap    = 18.0
	axisH       = 30.0
	keyH        = 26.0
	fontSize    = 12.0
	smallSize   = 11.0
)

// boldWidth is how much wider bold text is than regular.
const boldWidth = 1.1

const fontFamily = `system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', Helvetica, Arial, sans-serif`

// style is how one kind of band or marker is drawn.
type style struct {
	fill    string // solid colour, or the pattern's base colour
	pattern string // pattern body drawn over the base; "" for solid
	text    string // label colour inside the band
	halo    string // outline behind the label, for legibility on patterns
	line    string // marker and swatch outline colour
	dash    string // marker dash pattern
}

// Colours are from the Okabe-Ito palette, distinguishable with the common
// colour vision deficiencies; alarm, cut, slow and insufficient also carry
// a pattern, so no state rests on colour alone.
var styles = map[string]style{
	"ok":           {fill: "#a8dcc5", text: "#063d2c", halo: "#a8dcc5", line: "#009E73", dash: "5 3"},
	"heal":         {fill: "#a8dcc5", text: "#063d2c", halo: "#a8dcc5", line: "#009E73", dash: "5 3"},
	"primary":      {fill: "#0072B2", text: "#ffffff", halo: "#0072B2", line: "#0072B2", dash: "9 3"},
	"route":        {fill: "#0072B2", text: "#ffffff", halo: "#0072B2", line: "#0072B2", dash: "9 3"},
	"secondary":    {fill: "#b4dcf4", text: "#06334f", halo: "#b4dcf4", line: "#3a8fc4", dash: "3 3"},
	"slow":         {fill: "#fde7b0", pattern: `<rect width="8" height="3" fill="#E69F00"/>`, text: "#3b2800", halo: "#fde7b0", line: "#b07800", dash: "6 2 2 2"},
	"insufficient": {fill: "#e4e4e4", pattern: `<circle cx="4" cy="4" r="1.4" fill="#7a7a7a"/>`, text: "#222222", halo: "#e4e4e4", line: "#777777", dash: "2 2"},
	"alarm":        {fill: "#f9c9a9", pattern: `<rect width="3" height="8" fill="#D55E00"/>`, text: "#2d0f00", halo: "#fbe1cf", line: "#D55E00", dash: "7 3"},
	"cut":          {fill: "#3a3a3a", pattern: `<path d="M0,0L8,8M8,0L0,8" stroke="#6e6e6e" stroke-width="1.5"/>`, text: "#ffffff", halo: "#3a3a3a", line: "#1a1a1a", dash: ""},
	"neutral":      {fill: "#d6d6d6", text: "#222222", halo: "#d6d6d6", line: "#555555", dash: "4 4"},
}

func kindOf(k string) string {
	k = strings.ToLower(strings.TrimSpace(k))
	if _, ok := styles[k]; ok {
		return k
	}
	return "neutral"
}

// paint is the fill for a band of kind k (already normalised by kindOf).
func paint(k string) string {
	if styles[k].pattern != "" {
		return "url(#tl-k-" + k + ")"
	}
	return styles[k].fill
}

// Series styles: colour and dash both vary, so series stay apart in grey.
var (
	seriesColours = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8c564b"}
	seriesDashes  = []string{"", "7 3", "2 3", "9 3 2 3", "4 2"}
)

type svgw struct{ strings.Builder }

func (s *svgw) p(format string, a ...any) { fmt.Fprintf(s, format, a...) }

// f formats a coordinate.
func f(v float64) string { return trim(v, 1) }

type drawing struct {
	t     Timeline
	svg   svgw
	notes []string // for the page under the drawing
}

// x is where offset d lies; it is not clamped.
func (d *drawing) x(at time.Duration) float64 {
	return plotX0 + float64(at)/float64(d.t.Duration)*plotW
}

// when is "12.3s" or "12.3s (≈6m AWS)".
func (d *drawing) when(at time.Duration) string {
	s := fmtAt(at)
	if d.t.AWS != nil {
		s += " (≈" + fmtApprox(d.t.AWS(at)) + " AWS)"
	}
	return s
}

func (d *drawing) span(from, to time.Duration) string {
	s := fmtAt(from) + " – " + fmtAt(to)
	if d.t.AWS != nil {
		s += " (≈" + fmtApprox(d.t.AWS(from)) + " – " + fmtApprox(d.t.AWS(to)) + " AWS)"
	}
	return s
}

// placedMarker is a marker whose label has been given a row.
type placedMarker struct {
	Marker
	x, w  float64
	end   bool // label to the left of the line
	level int
	text  string
}

// chartLayout is where one chart's parts go.
type chartLayout struct {
	top     float64 // top of the header
	plotTop float64
	legend  []legendItem
	maxText string
	empty   bool
	lo, hi  float64 // value range drawn
	step    float64
}

// height is the height of the plot: short when there is nothing to plot.
func (c chartLayout) height() float64 {
	if c.empty {
		return emptyChartH
	}
	return chartH
}

type legendItem struct {
	x, y float64
	name string
	i    int
}

// drawSVG draws t, which must be valid, and returns the SVG and notes for
// the page about things it could not draw.
func drawSVG(t Timeline) (string, []string) {
	d := &drawing{t: t}
	s := &d.svg

	// Markers: labels on the first row where they overlap no other label.
	var marks []placedMarker
	for _, m := range t.Markers {
		if m.At < 0 || m.At > t.Duration {
			d.notes = append(d.notes, fmt.Sprintf("marker %q at %s is outside the drawing (0 – %s)", m.Label, fmtAt(m.At), fmtAt(t.Duration)))
			continue
		}
		pm := placedMarker{Marker: m, x: d.x(m.At), text: m.Label + " (" + fmtAt(m.At) + ")"}
		pm.w = textW(pm.text, smallSize)
		pm.end = pm.x+4+pm.w > svgWidth-4
		marks = append(marks, pm)
	}
	slices.SortStableFunc(marks, func(a, b placedMarker) int { return cmp.Compare(a.At, b.At) })
	var levels [][][2]float64
	for i := range marks {
		m := &marks[i]
		lo, hi := m.x-2, m.x+4+m.w+8
		if m.end {
			lo, hi = m.x-4-m.w-8, m.x+2
		}
		for lv := 0; ; lv++ {
			if lv == len(levels) {
				levels = append(levels, nil)
			}
			if !slices.ContainsFunc(levels[lv], func(r [2]float64) bool { return lo < r[1] && r[0] < hi }) {
				levels[lv] = append(levels[lv], [2]float64{lo, hi})
				m.level = lv
				break
			}
		}
	}

	// Vertical layout.
	y := padTop
	markTop := y
	if len(levels) > 0 {
		y += float64(len(levels))*levelH + 6
	}
	gridTop := y
	laneY := make([]float64, len(t.Lanes))
	for i := range t.Lanes {
		laneY[i] = y
		y += laneH + laneGap
	}
	if len(t.Lanes) > 0 && len(t.Charts) > 0 {
		y += 8
	}
	charts := make([]chartLayout, len(t.Charts))
	for i, c := range t.Charts {
		charts[i] = d.layoutChart(c, y)
		y = charts[i].plotTop + charts[i].height() + chartGap
	}
	emptyY := y
	if len(t.Lanes) == 0 && len(t.Charts) == 0 {
		y += 50
	}
	axisY := y
	y += axisH
	if t.AWS != nil {
		y += 14
	}
	keys := d.kindsUsed()
	keyY := y
	if len(keys) > 0 {
		y += keyH
	}
	height := math.Ceil(y + 4)

	s.p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%s" viewBox="0 0 %d %s" font-family="%s" font-size="%s" role="img">`+"\n",
		svgWidth, f(height), svgWidth, f(height), fontFamily, f(fontSize))
	title := t.Title
	if title == "" {
		title = "Drill timeline"
	}
	if t.Verdict != "" {
		title += " — " + t.Verdict
	}
	s.p("<title>%s</title>\n", esc(title))
	d.defs(charts)
	s.p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")

	ticks := timeTicks(t.Duration, t.AWS, plotW, smallSize)
	s.p(`<g class="grid" stroke="#e4e4e4" stroke-width="1">`)
	for _, tk := range ticks {
		x := d.x(tk.at)
		s.p(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, f(x), f(gridTop), f(x), f(axisY))
	}
	s.p("</g>\n")

	for i, l := range t.Lanes {
		d.lane(l, laneY[i])
	}
	for i, c := range t.Charts {
		d.chart(i, c, charts[i])
	}
	if len(t.Lanes) == 0 && len(t.Charts) == 0 {
		s.p(`<text class="nodata" x="%s" y="%s" text-anchor="middle" fill="#666" font-style="italic">no data: no lanes or charts</text>`+"\n", f((plotX0+plotX1)/2), f(emptyY+28))
	}
	d.markers(marks, markTop, axisY)
	for i, c := range t.Charts {
		d.chartHeader(c, charts[i])
	}
	d.markerLabels(marks, markTop)
	d.axis(ticks, axisY)
	d.key(keys, keyY)
	s.p("</svg>\n")
	return s.String(), d.notes
}

func (d *drawing) defs(charts []chartLayout) {
	s := &d.svg
	s.p("<defs>\n")
	for _, k := range Kinds {
		st := styles[k]
		if st.pattern == "" {
			continue
		}
		rot := ""
		if k == "alarm" {
			rot = ` patternTransform="rotate(45)"`
		}
		s.p(`<pattern id="tl-k-%s" patternUnits="userSpaceOnUse" width="8" height="8"%s><rect width="8" height="8" fill="%s"/>%s</pattern>`+"\n", k, rot, st.fill, st.pattern)
	}
	for i, c := range charts {
		s.p(`<clipPath id="tl-clip-%d"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath>`+"\n", i, f(plotX0), f(c.plotTop-2), f(plotW), f(c.height()+4))
	}
	s.p("</defs>\n")
}

// kindsUsed lists the band kinds drawn, for the key: known kinds in Kinds
// order, then others as written (they are drawn as neutral).
func (d *drawing) kindsUsed() []string {
	seen := map[string]bool{}
	var other []string
	for _, l := range d.t.Lanes {
		for _, b := range l.Bands {
			if _, ok := d.clip(b); !ok {
				continue
			}
			k := strings.ToLower(strings.TrimSpace(b.Kind))
			if k == "" {
				k = "neutral"
			}
			if !seen[k] {
				seen[k] = true
				if _, known := styles[k]; !known {
					other = append(other, k)
				}
			}
		}
	}
	var out []string
	for _, k := range Kinds {
		if seen[k] {
			out = append(out, k)
		}
	}
	return append(out, other...)
}

// clip returns b's extent within [0, Duration], and false when none of it
// is.
func (d *drawing) clip(b Band) (Band, bool) {
	if b.To < 0 || b.From > d.t.Duration || b.To == 0 && b.From < 0 || b.From == d.t.Duration && b.To > d.t.Duration {
		return b, false
	}
	b.From = max(b.From, 0)
	b.To = min(b.To, d.t.Duration)
	return b, true
}

func (d *drawing) lane(l Lane, y float64) {
	s := &d.svg
	s.p(`<g class="lane">` + "\n")
	name := l.Name
	if name == "" {
		name = "(unnamed)"
	}
	s.p(`<text class="lane-name" x="%s" y="%s" text-anchor="end" font-weight="600"><title>%s</title>%s</text>`+"\n",
		f(plotX0-10), f(y+laneH/2+4), esc(name), esc(fit(name, fontSize*boldWidth, plotX0-20)))
	s.p(`<rect class="track" x="%s" y="%s" width="%s" height="%s" fill="#f4f4f4" stroke="#dddddd"/>`+"\n", f(plotX0), f(y), f(plotW), f(laneH))
	drawn := 0
	for _, b := range l.Bands {
		cb, ok := d.clip(b)
		if !ok {
			continue
		}
		drawn++
		k := kindOf(b.Kind)
		st := styles[k]
		x0, x1 := d.x(cb.From), d.x(cb.To)
		if x1-x0 < 2 { // an instant: still visible
			x0, x1 = x0-1, x0+1
		}
		label := b.Label
		if label == "" {
			label = strings.TrimSpace(b.Kind)
		}
		tip := name + ": " + label + " · " + d.span(b.From, b.To)
		if cb != b {
			tip += " · clipped to the drawing"
		}
		s.p(`<g class="band"><title>%s</title><rect x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="%s" stroke-width="0.6"/>`,
			esc(tip), f(x0), f(y+1), f(x1-x0), f(laneH-2), paint(k), st.line)
		if in := fit(label, smallSize, x1-x0-8); in != "" && x1-x0 >= 24 {
			s.p(`<text x="%s" y="%s" text-anchor="middle" font-size="%s" fill="%s" stroke="%s" stroke-width="3" stroke-linejoin="round" paint-order="stroke">%s</text>`,
				f((x0+x1)/2), f(y+laneH/2+4), f(smallSize), st.text, st.halo, esc(in))
		}
		s.p("</g>\n")
	}
	if drawn == 0 {
		s.p(`<text class="nodata" x="%s" y="%s" text-anchor="middle" fill="#666" font-style="italic" font-size="%s">no data</text>`+"\n",
			f((plotX0+plotX1)/2), f(y+laneH/2+4), f(smallSize))
	}
	s.p("</g>\n")
}

// visible returns the points that shape the drawn part of a series: those
// in [0, Duration] and their nearest neighbours outside it.
func (d *drawing) visible(pts []Point) []Point {
	var out []Point
	for i, p := range pts {
		if p.At >= 0 && p.At <= d.t.Duration ||
			p.At < 0 && i+1 < len(pts) && pts[i+1].At >= 0 ||
			p.At > d.t.Duration && i > 0 && pts[i-1].At <= d.t.Duration {
			out = append(out, p)
		}
	}
	return out
}

func sortedPoints(pts []Point) []Point {
	out := slices.Clone(pts)
	slices.SortStableFunc(out, func(a, b Point) int { return cmp.Compare(a.At, b.At) })
	return out
}

func (d *drawing) layoutChart(c Chart, top float64) chartLayout {
	cl := chartLayout{top: top, empty: true}
	lo, hi := math.Inf(1), math.Inf(-1)
	var maxP *Point // the largest value inside the drawing
	for _, sr := range c.Series {
		for _, p := range d.visible(sortedPoints(sr.Points)) {
			cl.empty = false
			lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
			if p.At >= 0 && p.At <= d.t.Duration && (maxP == nil || p.Value > maxP.Value) {
				maxP = &p
			}
		}
	}
	if !cl.empty {
		cl.lo, cl.hi, cl.step = yScale(lo, hi)
	}
	if maxP != nil {
		cl.maxText = "max " + fmtValue(maxP.Value)
		if c.Unit != "" {
			cl.maxText += " " + c.Unit
		}
		cl.maxText += " at " + fmtAt(maxP.At)
	}
	// Title, then the legend flowing after it, wrapping under it.
	x := 10 + textW(chartTitle(c), fontSize) + 24
	right := plotX1 - textW(cl.maxText, smallSize) - 20
	y := top + 13
	for i, sr := range c.Series {
		name := legendName(sr)
		w := 30 + textW(name, smallSize) + 18
		if x+w > right && x > plotX0 {
			x, y, right = plotX0, y+headH, plotX1
		}
		cl.legend = append(cl.legend, legendItem{x: x, y: y, name: name, i: i})
		x += w
	}
	cl.plotTop = y + 9
	return cl
}

func chartTitle(c Chart) string {
	t := c.Title
	if t == "" {
		t = "(untitled)"
	}
	if c.Unit != "" {
		t += " (" + c.Unit + ")"
	}
	return t
}

func legendName(sr Series) string {
	n := sr.Name
	if n == "" {
		n = "(unnamed)"
	}
	if len(sr.Points) == 0 {
		n += " (no data)"
	}
	return n
}

// halo outlines text in white, to keep it legible over marker lines.
const halo = `stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"`

// chartHeader writes a chart's title, maximum and legend. It comes after
// the marker lines, so that they pass behind it.
func (d *drawing) chartHeader(c Chart, cl chartLayout) {
	s := &d.svg
	s.p(`<g class="chart-header">` + "\n")
	s.p(`<text class="chart-title" x="10" y="%s" font-weight="600" %s>%s</text>`+"\n", f(cl.top+13), halo, esc(chartTitle(c)))
	if cl.maxText != "" {
		s.p(`<text class="chart-max" x="%s" y="%s" text-anchor="end" font-size="%s" fill="#333" %s>%s</text>`+"\n", f(plotX1), f(cl.top+13), f(smallSize), halo, esc(cl.maxText))
	}
	for _, li := range cl.legend {
		col, dash := seriesStyle(li.i)
		w := 30 + textW(li.name, smallSize) + 4
		s.p(`<g class="legend"><rect x="%s" y="%s" width="%s" height="16" fill="#ffffff"/><line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2.5"%s/><text x="%s" y="%s" font-size="%s">%s</text></g>`+"\n",
			f(li.x-3), f(li.y-12), f(w), f(li.x), f(li.y-4), f(li.x+24), f(li.y-4), col, dashAttr(dash), f(li.x+30), f(li.y), f(smallSize), esc(li.name))
	}
	s.p("</g>\n")
}

func (d *drawing) chart(i int, c Chart, cl chartLayout) {
	s := &d.svg
	s.p(`<g class="chart">` + "\n")
	top, bottom := cl.plotTop, cl.plotTop+cl.height()
	s.p(`<rect class="plot" x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#bbbbbb"/>`+"\n", f(plotX0), f(top), f(plotW), f(cl.height()))
	if cl.empty {
		s.p(`<text class="nodata" x="%s" y="%s" text-anchor="middle" fill="#666" font-style="italic">no data</text>`+"\n", f((plotX0+plotX1)/2), f(top+cl.height()/2+4))
		s.p("</g>\n")
		return
	}
	yOf := func(v float64) float64 { return bottom - (v-cl.lo)/(cl.hi-cl.lo)*chartH }
	n := int(math.Round((cl.hi - cl.lo) / cl.step))
	s.p(`<g class="yaxis" font-size="%s" fill="#444">`, f(smallSize))
	for j := 0; j <= n && j <= 20; j++ {
		v := cl.lo + float64(j)*cl.step
		yy := yOf(v)
		if j > 0 && j < n {
			s.p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#eeeeee"/>`, f(plotX0), f(yy), f(plotX1), f(yy))
		}
		if v == 0 && cl.lo < 0 {
			s.p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#999999"/>`, f(plotX0), f(yy), f(plotX1), f(yy))
		}
		s.p(`<text x="%s" y="%s" text-anchor="end">%s</text>`, f(plotX0-6), f(yy+4), esc(fmtNum(v)))
	}
	s.p("</g>\n")
	s.p(`<g clip-path="url(#tl-clip-%d)" fill="none" stroke-width="2" stroke-linejoin="round">`+"\n", i)
	var maxP *Point
	var maxCol string
	for j, sr := range c.Series {
		pts := sortedPoints(sr.Points)
		if len(pts) == 0 {
			continue
		}
		col, dash := seriesStyle(j)
		var path strings.Builder
		for k, p := range pts {
			x, yy := d.x(p.At), yOf(p.Value)
			switch {
			case k == 0:
				fmt.Fprintf(&path, "M%s,%s", f(x), f(yy))
			case c.Step:
				fmt.Fprintf(&path, "H%sV%s", f(x), f(yy))
			default:
				fmt.Fprintf(&path, "L%s,%s", f(x), f(yy))
			}
			if p.At >= 0 && p.At <= d.t.Duration && (maxP == nil || p.Value > maxP.Value) {
				maxP, maxCol = &pts[k], col
			}
		}
		s.p(`<path class="series" d="%s" stroke="%s"%s><title>%s</title></path>`+"\n", path.String(), col, dashAttr(dash), esc(legendName(sr)))
		if len(pts) == 1 {
			s.p(`<circle cx="%s" cy="%s" r="3" fill="%s"><title>%s</title></circle>`+"\n", f(d.x(pts[0].At)), f(yOf(pts[0].Value)), col, esc(legendName(sr)))
		}
	}
	if maxP != nil {
		s.p(`<circle class="max" cx="%s" cy="%s" r="4" fill="#ffffff" stroke="%s" stroke-width="2"><title>%s</title></circle>`+"\n",
			f(d.x(maxP.At)), f(yOf(maxP.Value)), maxCol, esc(cl.maxText))
	}
	s.p("</g>\n</g>\n")
}

func seriesStyle(i int) (colour, dash string) {
	return seriesColours[i%len(seriesColours)], seriesDashes[i%len(seriesDashes)]
}

func dashAttr(dash string) string {
	if dash == "" {
		return ""
	}
	return ` stroke-dasharray="` + dash + `"`
}

// markers writes the lines of the markers, over lanes and charts.
func (d *drawing) markers(marks []placedMarker, top, bottom float64) {
	s := &d.svg
	if len(marks) == 0 {
		return
	}
	s.p(`<g class="markers">` + "\n")
	for _, m := range marks {
		st := styles[kindOf(m.Kind)]
		y := top + float64(m.level)*levelH + levelH - 3
		s.p(`<g class="marker"><title>%s</title><line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.6"%s/><circle cx="%s" cy="%s" r="2.5" fill="%s"/></g>`+"\n",
			esc(m.Label+" · at "+d.when(m.At)), f(m.x), f(y-4), f(m.x), f(bottom), st.line, dashAttr(st.dash), f(m.x), f(y-4), st.line)
	}
	s.p("</g>\n")
}

// markerLabels writes the labels of the markers, over everything else.
func (d *drawing) markerLabels(marks []placedMarker, top float64) {
	s := &d.svg
	if len(marks) == 0 {
		return
	}
	s.p(`<g class="marker-labels">` + "\n")
	for _, m := range marks {
		st := styles[kindOf(m.Kind)]
		y := top + float64(m.level)*levelH + levelH - 3
		x, anchor := m.x+5, "start"
		if m.end {
			x, anchor = m.x-5, "end"
		}
		s.p(`<g class="marker-label"><title>%s</title><text x="%s" y="%s" text-anchor="%s" font-size="%s" fill="%s" %s>%s</text></g>`+"\n",
			esc(m.Label+" · at "+d.when(m.At)), f(x), f(y), anchor, f(smallSize), darker(st.line), halo, esc(m.text))
	}
	s.p("</g>\n")
}

// darker keeps marker label text readable: the light marker colours get a
// darker text colour.
func darker(c string) string {
	switch c {
	case "#E69F00", "#b07800":
		return "#7a5300"
	case "#009E73":
		return "#00684b"
	case "#3a8fc4":
		return "#1f6a99"
	}
	return c
}

func (d *drawing) axis(ticks []tick, y float64) {
	s := &d.svg
	s.p(`<g class="axis" font-size="%s" fill="#333">`+"\n", f(smallSize))
	s.p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#444444"/>`, f(plotX0), f(y), f(plotX1), f(y))
	for _, tk := range ticks {
		x := d.x(tk.at)
		anchor := "middle"
		for _, l := range tk.lines {
			if x+textW(l, smallSize)/2 > svgWidth-4 {
				x, anchor = svgWidth-4, "end"
			}
		}
		s.p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#444444"/>`, f(d.x(tk.at)), f(y), f(d.x(tk.at)), f(y+5))
		s.p(`<text class="tick" x="%s" y="%s" text-anchor="%s">`, f(x), f(y+18), anchor)
		for i, l := range tk.lines {
			if i == 0 {
				s.p(`<tspan>%s</tspan>`, esc(l))
			} else {
				s.p(`<tspan x="%s" dy="14" fill="#666">%s</tspan>`, f(x), esc(l))
			}
		}
		s.p(`</text>`)
	}
	// Captions end clear of the first tick's label, centred on plotX0.
	capX := plotX0 - 10
	if len(ticks) > 0 {
		for _, l := range ticks[0].lines {
			capX = math.Min(capX, plotX0-textW(l, smallSize)/2-10)
		}
	}
	s.p(`<text x="%s" y="%s" text-anchor="end" fill="#666" font-style="italic">%s</text>`, f(capX), f(y+18), esc("time since start"))
	if d.t.AWS != nil {
		s.p(`<text x="%s" y="%s" text-anchor="end" fill="#666" font-style="italic">%s</text>`, f(capX), f(y+32), esc("≈ in AWS"))
	}
	s.p("\n</g>\n")
}

func (d *drawing) key(kinds []string, y float64) {
	if len(kinds) == 0 {
		return
	}
	s := &d.svg
	s.p(`<g class="key" font-size="%s" fill="#333">`, f(smallSize))
	s.p(`<text x="%s" y="%s" text-anchor="end" fill="#666" font-style="italic">key</text>`, f(plotX0-10), f(y+14))
	x := plotX0
	for _, k := range kinds {
		nk := kindOf(k)
		w := 28 + textW(k, smallSize) + 18
		if x+w > plotX1 {
			break
		}
		s.p(`<rect x="%s" y="%s" width="22" height="13" fill="%s" stroke="%s" stroke-width="0.8"/><text x="%s" y="%s">%s</text>`,
			f(x), f(y+4), paint(nk), styles[nk].line, f(x+28), f(y+14), esc(k))
		x += w
	}
	s.p("</g>\n")
}
