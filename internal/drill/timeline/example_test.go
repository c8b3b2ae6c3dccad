package timeline

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sec = time.Second

// example is a drill in which us-east-1 is cut off, traffic fails over to
// us-west-2, the link heals and traffic comes back.
func example() Timeline {
	applied := func(region string, down, up time.Duration, base float64) Series {
		s := Series{Name: region}
		for at := time.Duration(0); at <= 40*sec; at += sec {
			v := base + 40*math.Sin(float64(at)/float64(3*sec))
			if at >= down && at < up {
				v = 0
			}
			s.Points = append(s.Points, Point{At: at, Value: math.Round(v)})
		}
		return s
	}
	west := applied("us-west-2", 0, 0, 410)
	for i := range west.Points {
		if at := west.Points[i].At; at >= 14*sec && at < 33*sec {
			west.Points[i].Value += 420
		}
	}
	var lag Series
	lag.Name = "us-east-1 → us-west-2"
	var lag2 Series
	lag2.Name = "us-west-2 → us-east-1"
	for at := time.Duration(0); at <= 40*sec; at += 500 * time.Millisecond {
		v, v2 := 80.0, 95.0
		if at >= 10*sec && at < 28*sec {
			v = 80 + float64(at-10*sec)/float64(sec)*600
			v2 = 95 + float64(at-10*sec)/float64(sec)*420
		} else if at >= 28*sec && at < 34*sec {
			v = 10880 * (1 - float64(at-28*sec)/float64(6*sec))
			v2 = 7655 * (1 - float64(at-28*sec)/float64(6*sec))
		}
		lag.Points = append(lag.Points, Point{At: at, Value: math.Max(v, 80)})
		lag2.Points = append(lag2.Points, Point{At: at, Value: math.Max(v2, 95)})
	}
	return Timeline{
		Title:    "Drill: cut us-east-1 <scenario \"cut-primary\">",
		Subtitle: "40s locally ≈ 20m in AWS · alarm period 2s (≈1m AWS) · seed 7 & load 400 ev/s",
		Duration: 40 * sec,
		AWS:      func(d time.Duration) time.Duration { return d * 30 },
		Verdict:  "FAIL: 2 checks",
		Lanes: []Lane{
			{Name: "routing", Bands: []Band{
				{0, 14 * sec, "→ us-east-1", "primary"},
				{14 * sec, 33 * sec, "→ us-west-2", "secondary"},
				{33 * sec, 40 * sec, "→ us-east-1", "primary"},
			}},
			{Name: "alarm us-east-1", Bands: []Band{
				{0, 10 * sec, "OK", "ok"},
				{10 * sec, 12 * sec, "INSUFFICIENT_DATA", "insufficient"},
				{12 * sec, 30 * sec, "ALARM", "alarm"},
				{30 * sec, 40 * sec, "OK", "ok"},
			}},
			{Name: "alarm us-west-2", Bands: []Band{{0, 40 * sec, "OK", "ok"}}},
			{Name: "health check us-east-1", Bands: []Band{
				{0, 11 * sec, "healthy", "ok"},
				{11 * sec, 31 * sec, "unhealthy", "alarm"},
				{31 * sec, 40 * sec, "healthy", "ok"},
			}},
			{Name: "link us-east-1 ↔ us-west-2", Bands: []Band{
				{0, 10 * sec, "up", "ok"},
				{10 * sec, 28 * sec, "cut", "cut"},
				{28 * sec, 32 * sec, "slow", "slow"},
				{32 * sec, 40 * sec, "up", "ok"},
			}},
			{Name: "a lane with a very long name that does not fit the gutter", Bands: []Band{{-5 * sec, 50 * sec, "clipped at both ends", "mystery-kind"}}},
			{Name: "empty lane"},
		},
		Charts: []Chart{
			{Title: "applied per region", Unit: "events/s", Step: true, Series: []Series{
				applied("us-east-1", 10*sec, 33*sec, 400), west,
			}},
			{Title: "replication lag", Unit: "ms", Series: []Series{lag, lag2}},
			{Title: "table backlog", Unit: "writes", Series: []Series{{Name: "us-east-1"}, {Name: "us-west-2"}}},
		},
		Markers: []Marker{
			{10 * sec, "cut us-east-1", "cut"},
			{10500 * time.Millisecond, "first failed health check", "alarm"},
			{12 * sec, "alarm us-east-1", "alarm"},
			{14 * sec, "routed → us-west-2", "route"},
			{28 * sec, "heal", "heal"},
			{33 * sec, "routed → us-east-1", "route"},
			{39900 * time.Millisecond, "drill end", "neutral"},
			{45 * sec, "late marker", "neutral"},
		},
		Notes: []string{
			"accepted 16000 · applied us-east-1 9120 · us-west-2 16000 · lost 0",
			"FAIL  failover took 4s (≈2m AWS), budget 3s",
			"FAIL  replication lag p99 10.9s > 5s",
			"ok    no event applied twice",
		},
	}
}

// TestExample writes the example page to a temporary directory, or to
// $TIMELINE_EXAMPLE when set, to look at it.
func TestExample(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "example.html")
	if p := os.Getenv("TIMELINE_EXAMPLE"); p != "" {
		path = p
	}
	if err := WriteFile(path, example()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	root := parseSVG(t, page)
	for _, want := range []string{"routing", "alarm us-east-1", "link us-east-1 ↔ us-west-2", "cut us-east-1", "routed → us-west-2", "applied per region (events/s)", "us-west-2 → us-east-1"} {
		if !strings.Contains(root.allText(), want) {
			t.Errorf("drawing lacks %q", want)
		}
	}
	if !strings.Contains(page, "marker &#34;late marker&#34; at 45s is outside the drawing") {
		t.Errorf("page lacks the note about the marker outside the drawing")
	}
	if !strings.Contains(root.allText(), "10s (≈5m AWS)") {
		t.Errorf("axis lacks an AWS tick label like %q", "10s (≈5m AWS)")
	}
	t.Logf("wrote %s (%d bytes)", path, len(b))
}
