package drill

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/tap-trading/tap/internal/drill/timeline"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/twin/cloudwatch"
)

// writeTimeline draws the drill: routing, the alarms and the health check,
// the failure, applied events per second in each region, each region's
// latency metric as its CloudWatch recorded it, and event replication
// delays; it returns the file's path.
func writeTimeline(dir string, d *drillRun, rep *Report) (string, error) {
	l := d.l
	l.mu.Lock()
	start := l.start
	end := start.Add(rep.Elapsed)
	// Offsets are clamped to the drawing: an alarm change or a route change
	// recorded after the report's elapsed time was taken would otherwise
	// make a band end before it starts.
	off := func(t time.Time) time.Duration { return min(max(t.Sub(start), 0), rep.Elapsed) }
	t := timeline.Timeline{
		Title:    fmt.Sprintf("TAP drill %s: %s", rep.Scenario, rep.About),
		Subtitle: fmt.Sprintf("primary %s, secondary %s; period %s stands for 60 s (scale %s); %s", rep.Primary, rep.Secondary, rep.Period, rep.Scale, rep.Alarm),
		Duration: rep.Elapsed,
		AWS:      d.e.Scale().AWS,
	}
	if rep.OK() {
		t.Verdict = "PASS"
	} else {
		failed := 0
		for _, c := range rep.Checks {
			if !c.OK {
				failed++
			}
		}
		t.Verdict = fmt.Sprintf("FAIL: %d checks", failed)
	}

	// Routing: the primary from the deploy, then each change.
	routing := timeline.Lane{Name: "routing"}
	from, to := time.Duration(0), d.spec.Primary
	for _, r := range l.routes {
		routing.Bands = append(routing.Bands, routeBand(from, off(r.At), to, d.spec.Primary))
		from, to = off(r.At), r.Region
	}
	routing.Bands = append(routing.Bands, routeBand(from, rep.Elapsed, to, d.spec.Primary))
	t.Lanes = append(t.Lanes, routing)

	// The alarms, then the health check.
	for _, region := range []string{d.spec.Primary, d.spec.Secondary} {
		name := "alarm " + region
		if region != d.spec.Primary {
			name += " (not deployed)"
		}
		lane := timeline.Lane{Name: name}
		from, st := time.Duration(0), cloudwatch.StateInsufficientData
		for _, a := range l.alarms {
			if a.Region != region {
				continue
			}
			lane.Bands = append(lane.Bands, timeline.Band{From: from, To: off(a.At), Label: string(st), Kind: alarmKind(st)})
			from, st = off(a.At), a.To
		}
		lane.Bands = append(lane.Bands, timeline.Band{From: from, To: rep.Elapsed, Label: string(st), Kind: alarmKind(st)})
		t.Lanes = append(t.Lanes, lane)
	}
	hc := timeline.Lane{Name: "health check"}
	from, healthy := time.Duration(0), true
	for _, h := range l.health {
		hc.Bands = append(hc.Bands, healthBand(from, off(h.At), healthy))
		from, healthy = off(h.At), h.Healthy
	}
	hc.Bands = append(hc.Bands, healthBand(from, rep.Elapsed, healthy))
	t.Lanes = append(t.Lanes, hc)
	if !d.fail.IsZero() {
		to := end
		if !d.heal.IsZero() {
			to = d.heal
		}
		t.Lanes = append(t.Lanes, timeline.Lane{Name: "failure", Bands: []timeline.Band{{From: off(d.fail), To: off(to), Label: string(rep.Scenario), Kind: "cut"}}})
		t.Markers = append(t.Markers, timeline.Marker{At: off(d.fail), Label: "failure", Kind: "cut"})
		if !d.heal.IsZero() {
			t.Markers = append(t.Markers, timeline.Marker{At: off(d.heal), Label: "recovery", Kind: "ok"})
		}
	}
	for _, r := range l.routes {
		t.Markers = append(t.Markers, timeline.Marker{At: off(r.At), Label: "routed → " + r.Region, Kind: "neutral"})
	}

	// Applied per second, per region.
	applied := timeline.Chart{Title: "events applied per second", Unit: "/s"}
	for _, region := range []string{d.spec.Primary, d.spec.Secondary} {
		buckets := map[int]float64{}
		for _, r := range l.results[region] {
			if r.Outcome == "applied" {
				buckets[int(off(r.Done)/time.Second)]++
			}
		}
		s := timeline.Series{Name: region}
		for sec := 0; sec <= int(rep.Elapsed/time.Second); sec++ {
			s.Points = append(s.Points, timeline.Point{At: time.Duration(sec) * time.Second, Value: buckets[sec]})
		}
		applied.Series = append(applied.Series, s)
	}
	// Replication delay of each replicated event, by direction.
	repl := timeline.Chart{Title: "event replication delay (accepted → delivered to the other region)", Unit: "ms"}
	byDir := map[string]*timeline.Series{}
	var dirs []string
	for _, r := range l.replicated {
		k := r.From + " → " + r.To
		if byDir[k] == nil {
			byDir[k] = &timeline.Series{Name: k}
			dirs = append(dirs, k)
		}
		byDir[k].Points = append(byDir[k].Points, timeline.Point{At: off(r.At), Value: float64(r.At.Sub(r.AcceptedAt)) / float64(time.Millisecond)})
	}
	for _, k := range dirs {
		repl.Series = append(repl.Series, *byDir[k])
	}
	l.mu.Unlock()

	latency := timeline.Chart{Title: "IngestionToInvocationStartLatency, period average (threshold " + d.e.Scale().Local(time.Duration(d.spec.HealthAlarm.Threshold*float64(time.Millisecond))).String() + ")", Unit: "ms"}
	for _, region := range []string{d.spec.Primary, d.spec.Secondary} {
		s := timeline.Series{Name: region}
		for _, p := range d.e.Datapoints(region) {
			if p.Start.Before(start) || p.Start.After(end) {
				continue
			}
			s.Points = append(s.Points, timeline.Point{At: off(p.Start), Value: float64(p.Average) / float64(time.Millisecond)})
		}
		latency.Series = append(latency.Series, s)
	}
	t.Charts = []timeline.Chart{applied, latency, repl}
	for _, c := range rep.Checks {
		mark := "PASS"
		if !c.OK {
			mark = "FAIL"
		}
		t.Notes = append(t.Notes, fmt.Sprintf("%s  %s — %s", mark, c.Name, c.Detail))
	}
	t.Notes = append(t.Notes, fmt.Sprintf("RTO: failure → routed %s; failure → first applied through the secondary %s; recovery → failback %s",
		rep.FailureToRouted, rep.FailureToFirstApplied, rep.HealToFailback))
	name := string(rep.Scenario)
	if rep.Consistency == schema.Strong {
		name += "-strong"
	}
	path := filepath.Join(dir, name+".html")
	return path, timeline.WriteFile(path, t)
}

func routeBand(from, to time.Duration, region, primary string) timeline.Band {
	kind := "primary"
	if region != primary {
		kind = "secondary"
	}
	return timeline.Band{From: from, To: to, Label: "→ " + region, Kind: kind}
}

func healthBand(from, to time.Duration, healthy bool) timeline.Band {
	if healthy {
		return timeline.Band{From: from, To: to, Label: "healthy", Kind: "ok"}
	}
	return timeline.Band{From: from, To: to, Label: "unhealthy", Kind: "alarm"}
}

func alarmKind(s cloudwatch.State) string {
	switch s {
	case cloudwatch.StateOK:
		return "ok"
	case cloudwatch.StateAlarm:
		return "alarm"
	}
	return "insufficient"
}
