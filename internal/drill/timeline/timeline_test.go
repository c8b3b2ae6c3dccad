package timeline

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// node is a parsed XML element.
type node struct {
	name     string
	attr     map[string]string
	text     string // character data directly inside
	children []*node
}

// parseSVG checks that the page holds exactly one SVG element, that it is
// well-formed XML, and returns it.
func parseSVG(t *testing.T, page string) *node {
	t.Helper()
	i, j := strings.Index(page, "<svg"), strings.LastIndex(page, "</svg>")
	if i < 0 || j < i || strings.Count(page, "<svg") != 1 {
		t.Fatalf("page does not hold one <svg> element:\n%s", page)
	}
	return parseXML(t, page[i:j+len("</svg>")])
}

func parseXML(t *testing.T, doc string) *node {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	dec.Strict = true
	var root *node
	var stack []*node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local, attr: map[string]string{}}
			for _, a := range tok.Attr {
				n.attr[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else if root != nil {
				t.Fatalf("SVG has more than one root element")
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tok)
			}
		}
	}
	if root == nil || root.name != "svg" {
		t.Fatalf("root element is not <svg>")
	}
	return root
}

func (n *node) walk(fn func(*node)) {
	fn(n)
	for _, c := range n.children {
		c.walk(fn)
	}
}

// all returns the elements named name.
func (n *node) all(name string) []*node {
	var out []*node
	n.walk(func(c *node) {
		if c.name == name {
			out = append(out, c)
		}
	})
	return out
}

// texts returns the character data of every element named name.
func (n *node) texts(name string) []string {
	var out []string
	for _, c := range n.all(name) {
		out = append(out, c.text)
	}
	return out
}

func (n *node) allText() string {
	var b strings.Builder
	n.walk(func(c *node) { b.WriteString(c.text + "\n") })
	return b.String()
}

func (n *node) class(class string) []*node {
	var out []*node
	n.walk(func(c *node) {
		if c.attr["class"] == class {
			out = append(out, c)
		}
	})
	return out
}

func num(t *testing.T, n *node, attr string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attr[attr], 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.name, attr, n.attr[attr], err)
	}
	return v
}

func render(t *testing.T, tl Timeline) (string, *node) {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, tl); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return b.String(), parseSVG(t, b.String())
}

func has(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestContainsEverything(t *testing.T) {
	tl := example()
	page, svg := render(t, tl)
	titles := svg.texts("title")
	texts := svg.texts("text")
	for _, l := range tl.Lanes {
		if !has(titles, l.Name) {
			t.Errorf("no tooltip names lane %q", l.Name)
		}
		for _, b := range l.Bands {
			if !has(titles, l.Name+": "+b.Label+" · ") {
				t.Errorf("no tooltip for band %q of lane %q", b.Label, l.Name)
			}
		}
	}
	for _, name := range []string{"routing", "alarm us-east-1", "health check us-east-1"} {
		if !has(texts, name) {
			t.Errorf("lane name %q not written", name)
		}
	}
	for _, m := range tl.Markers[:len(tl.Markers)-1] { // the last one is outside
		if !has(texts, m.Label) || !has(titles, m.Label+" · at ") {
			t.Errorf("marker %q not written with its tooltip", m.Label)
		}
	}
	legends := svg.class("legend")
	for _, c := range tl.Charts {
		if !has(texts, c.Title) {
			t.Errorf("chart title %q not written", c.Title)
		}
		for _, s := range c.Series {
			found := false
			for _, l := range legends {
				found = found || has(l.texts("text"), s.Name)
			}
			if !found {
				t.Errorf("chart %q: no legend entry for series %q", c.Title, s.Name)
			}
		}
	}
	if got := len(svg.class("series")); got != 4 {
		t.Errorf("drew %d series paths, want 4 (two charts of two, one chart empty)", got)
	}
	if !has(texts, "max 10880 ms at 28s") {
		t.Errorf("replication lag chart does not label its max: %q", texts)
	}
	for _, want := range []string{
		"<title>Drill: cut us-east-1 &lt;scenario &#34;cut-primary&#34;&gt;</title>",
		`class="verdict fail"`, "✗ FAIL: 2 checks",
		"seed 7 &amp; load 400 ev/s",
		"FAIL  failover took 4s (≈2m AWS), budget 3s",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestSelfContained checks the page loads nothing: no script, no link, no
// URL other than the SVG namespace.
func TestSelfContained(t *testing.T) {
	page, _ := render(t, example())
	low := strings.ToLower(page)
	for _, bad := range []string{"<script", "<link", "@import", "@font-face", "<img", "<iframe", "href=", "src=", "javascript:"} {
		if strings.Contains(low, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	rest := strings.ReplaceAll(low, `xmlns="http://www.w3.org/2000/svg"`, "")
	if strings.Contains(rest, "http:") || strings.Contains(rest, "https:") || strings.Contains(rest, "//") {
		t.Errorf("page refers to another resource")
	}
	for _, u := range regexpURL(page) {
		if !strings.HasPrefix(u, "url(#") {
			t.Errorf("reference %q is not to the document itself", u)
		}
	}
}

func regexpURL(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "url(")
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i:], ')')
		out = append(out, s[i:i+j+1])
		s = s[i+j+1:]
	}
}

func TestHostileLabels(t *testing.T) {
	evil := `</svg><script>alert("x")</script> & <b a='1'>` + "\x00\x1b\xff"
	tl := Timeline{
		Title: evil, Subtitle: evil, Verdict: evil, Notes: []string{evil},
		Duration: 10 * sec,
		AWS:      func(d time.Duration) time.Duration { return 2 * d },
		Lanes:    []Lane{{Name: evil, Bands: []Band{{0, 10 * sec, evil, evil}}}},
		Charts:   []Chart{{Title: evil, Unit: evil, Series: []Series{{Name: evil, Points: []Point{{0, 1}, {5 * sec, 2}}}}}},
		Markers:  []Marker{{5 * sec, evil, evil}, {20 * sec, evil, evil}},
	}
	page, svg := render(t, tl)
	if strings.Contains(strings.ToLower(page), "<script") || strings.Contains(page, "<b ") {
		t.Errorf("hostile markup came through unescaped")
	}
	want := `</svg><script>alert("x")</script> & <b a='1'>` + "\uFFFD\uFFFD\uFFFD"
	titles := svg.texts("title")
	for _, prefix := range []string{want + ": " + want, want + " · at 5s"} {
		if !has(titles, prefix) {
			t.Errorf("no tooltip reads back as %q; got %q", prefix, titles)
		}
	}
	var legend bool
	for _, l := range svg.class("legend") {
		legend = legend || has(l.texts("text"), want)
	}
	if !legend {
		t.Errorf("legend does not read back the hostile series name")
	}
	// The unknown hostile kind is drawn neutral, and named in the key.
	var key bool
	for _, k := range svg.class("key") {
		key = key || has(k.texts("text"), want)
	}
	if !key {
		t.Errorf("key does not name the unknown kind")
	}
}

func TestBandsClipped(t *testing.T) {
	tl := Timeline{Duration: 10 * sec, Lanes: []Lane{{Name: "l", Bands: []Band{
		{-5 * sec, 5 * sec, "left", "ok"},
		{8 * sec, 15 * sec, "right", "alarm"},
		{-9 * sec, -1 * sec, "before", "ok"},
		{11 * sec, 12 * sec, "after", "ok"},
		{-3 * sec, 0, "ends at zero", "ok"},
		{4 * sec, 4 * sec, "instant", "cut"},
	}}}}
	_, svg := render(t, tl)
	bands := map[string]*node{}
	for _, g := range svg.class("band") {
		title := g.texts("title")[0]
		bands[strings.SplitN(strings.TrimPrefix(title, "l: "), " · ", 2)[0]] = g
	}
	for _, gone := range []string{"before", "after", "ends at zero"} {
		if bands[gone] != nil {
			t.Errorf("band %q outside the drawing was drawn", gone)
		}
	}
	check := func(label string, from, to float64) {
		t.Helper()
		g := bands[label]
		if g == nil {
			t.Fatalf("band %q not drawn", label)
		}
		r := g.all("rect")[0]
		x, w := num(t, r, "x"), num(t, r, "width")
		if math.Abs(x-from) > 0.1 || math.Abs(x+w-to) > 0.1 {
			t.Errorf("band %q spans %.1f–%.1f, want %.1f–%.1f", label, x, x+w, from, to)
		}
		if !strings.Contains(g.texts("title")[0], "clipped") && label != "instant" {
			t.Errorf("band %q tooltip does not say it was clipped", label)
		}
	}
	check("left", plotX0, plotX0+plotW/2)
	check("right", plotX0+plotW*0.8, plotX1)
	check("instant", plotX0+plotW*0.4-1, plotX0+plotW*0.4+1)
}

func TestSeriesClipped(t *testing.T) {
	tl := Timeline{Duration: 10 * sec, Charts: []Chart{{Title: "c", Series: []Series{{Name: "s", Points: []Point{
		{-5 * sec, 1000}, {0, 1}, {5 * sec, 4}, {10 * sec, 2}, {20 * sec, 9000},
	}}}}}}
	_, svg := render(t, tl)
	paths := svg.class("series")
	if len(paths) != 1 {
		t.Fatalf("got %d series paths", len(paths))
	}
	var clipped bool
	svg.walk(func(n *node) {
		if n.attr["clip-path"] == "url(#tl-clip-0)" {
			for _, c := range n.all("path") {
				clipped = clipped || c == paths[0]
			}
		}
	})
	if !clipped || len(svg.all("clipPath")) != 1 {
		t.Errorf("series path is not clipped to the plot")
	}
	if texts := svg.texts("text"); !has(texts, "max 4 at 5s") {
		t.Errorf("max should be the largest value inside the drawing: %q", texts)
	}
}

func TestEmpty(t *testing.T) {
	for name, tl := range map[string]Timeline{
		"nothing":     {Duration: sec},
		"empty lane":  {Duration: sec, Lanes: []Lane{{Name: "l"}}},
		"empty chart": {Duration: sec, Charts: []Chart{{Title: "c"}}},
		"empty series": {Duration: sec, Charts: []Chart{{Title: "c", Series: []Series{{Name: "s"}}}},
			Lanes: []Lane{{Name: "l", Bands: []Band{{2 * sec, 3 * sec, "late", "ok"}}}}},
	} {
		t.Run(name, func(t *testing.T) {
			page, svg := render(t, tl)
			if len(svg.class("nodata")) == 0 {
				t.Errorf("no 'no data' note:\n%s", page)
			}
		})
	}
}

func TestStaggeredMarkers(t *testing.T) {
	tl := Timeline{Duration: 100 * sec}
	for i := range 5 {
		tl.Markers = append(tl.Markers, Marker{At: time.Duration(50+i) * sec, Label: "marker number " + strconv.Itoa(i)})
	}
	tl.Markers = append(tl.Markers, Marker{At: 100 * sec, Label: "at the right edge"})
	_, svg := render(t, tl)
	type box struct{ lo, hi, y float64 }
	var boxes []box
	for _, g := range svg.class("marker-label") {
		txt := g.all("text")[0]
		x, y := num(t, txt, "x"), num(t, txt, "y")
		w := textW(txt.text, smallSize)
		lo, hi := x, x+w
		if txt.attr["text-anchor"] == "end" {
			lo, hi = x-w, x
		}
		if lo < 0 || hi > svgWidth {
			t.Errorf("marker label %q runs off the drawing: %.0f–%.0f", txt.text, lo, hi)
		}
		boxes = append(boxes, box{lo, hi, y})
	}
	if len(boxes) != 6 {
		t.Fatalf("got %d marker labels, want 6", len(boxes))
	}
	for i, a := range boxes {
		for _, b := range boxes[i+1:] {
			if a.y == b.y && a.lo < b.hi && b.lo < a.hi {
				t.Errorf("marker labels overlap: %+v %+v", a, b)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	ok := func() Timeline {
		return Timeline{Duration: 10 * sec,
			Lanes:  []Lane{{Name: "l", Bands: []Band{{0, sec, "b", "ok"}}}},
			Charts: []Chart{{Title: "c", Series: []Series{{Name: "s", Points: []Point{{0, 1}}}}}}}
	}
	for name, c := range map[string]struct {
		mod  func(*Timeline)
		want string
	}{
		"zero duration":     {func(t *Timeline) { t.Duration = 0 }, "Duration 0s is not positive"},
		"negative duration": {func(t *Timeline) { t.Duration = -sec }, "Duration -1s is not positive"},
		"NaN":               {func(t *Timeline) { t.Charts[0].Series[0].Points[0].Value = math.NaN() }, `chart 0 "c" series 0 "s" point 0 at 0s: value NaN is not finite`},
		"+Inf":              {func(t *Timeline) { t.Charts[0].Series[0].Points[0].Value = math.Inf(1) }, "value +Inf is not finite"},
		"-Inf":              {func(t *Timeline) { t.Charts[0].Series[0].Points[0].Value = math.Inf(-1) }, "value -Inf is not finite"},
		"backwards band":    {func(t *Timeline) { t.Lanes[0].Bands[0] = Band{2 * sec, sec, "b", "ok"} }, `lane 0 "l" band 0 "b": To 1s is before From 2s`},
	} {
		t.Run(name, func(t *testing.T) {
			tl := ok()
			c.mod(&tl)
			var b bytes.Buffer
			err := Render(&b, tl)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Render error = %v, want one wrapping ErrInvalid with %q", err, c.want)
			}
			if b.Len() != 0 {
				t.Errorf("Render wrote %d bytes before failing", b.Len())
			}
			if err := RenderSVG(&b, tl); !errors.Is(err, ErrInvalid) {
				t.Errorf("RenderSVG error = %v", err)
			}
			path := t.TempDir() + "/x.html"
			if err := WriteFile(path, tl); !errors.Is(err, ErrInvalid) {
				t.Errorf("WriteFile error = %v", err)
			}
		})
	}
	if err := Render(io.Discard, ok()); err != nil {
		t.Fatalf("valid timeline: %v", err)
	}
}

func TestRenderSVGStandalone(t *testing.T) {
	var b bytes.Buffer
	if err := RenderSVG(&b, example()); err != nil {
		t.Fatal(err)
	}
	svg := parseXML(t, b.String())
	if svg.attr["width"] != strconv.Itoa(svgWidth) {
		t.Errorf("width = %q", svg.attr["width"])
	}
}

func TestTicks(t *testing.T) {
	aws := func(d time.Duration) time.Duration { return 30 * d }
	for _, c := range []struct {
		dur  time.Duration
		aws  func(time.Duration) time.Duration
		want string
	}{
		{40 * sec, nil, "0s 2s 4s 6s 8s 10s 12s 14s 16s 18s 20s 22s 24s 26s 28s 30s 32s 34s 36s 38s 40s"},
		{40 * sec, aws, "0s (≈0s AWS) 5s (≈2.5m AWS) 10s (≈5m AWS) 15s (≈7.5m AWS) 20s (≈10m AWS) 25s (≈12.5m AWS) 30s (≈15m AWS) 35s (≈17.5m AWS) 40s (≈20m AWS)"},
		{1500 * time.Millisecond, nil, "0s 100ms 200ms 300ms 400ms 500ms 600ms 700ms 800ms 900ms 1s 1.1s 1.2s 1.3s 1.4s 1.5s"},
		{3 * time.Hour, nil, "0s 15m 30m 45m 1h 1h15m 1h30m 1h45m 2h 2h15m 2h30m 2h45m 3h"},
	} {
		ticks := timeTicks(c.dur, c.aws, plotW, smallSize)
		var got []string
		for _, tk := range ticks {
			got = append(got, tk.label())
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("ticks for %v:\n got %s\nwant %s", c.dur, g, c.want)
		}
	}
}

func TestYScale(t *testing.T) {
	for _, c := range []struct{ lo, hi, wlo, whi, wstep float64 }{
		{0, 0, 0, 1, 0.25},
		{3, 3, 0, 3, 1},
		{0, 10880, 0, 15000, 5000},
		{0, 830, 0, 1000, 250},
		{-2, 7, -2.5, 7.5, 2.5},
	} {
		lo, hi, step := yScale(c.lo, c.hi)
		if lo != c.wlo || hi != c.whi || step != c.wstep {
			t.Errorf("yScale(%v, %v) = %v, %v, %v; want %v, %v, %v", c.lo, c.hi, lo, hi, step, c.wlo, c.whi, c.wstep)
		}
	}
}
