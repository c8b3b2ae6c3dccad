package route53

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/twin/cloudwatch"
)

var t0 = time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)

// fakeAlarm is an alarm source the test sets.
type fakeAlarm struct {
	mu    sync.Mutex
	state cloudwatch.State
	ok    bool
	reads int
}

func (f *fakeAlarm) set(s cloudwatch.State, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state, f.ok = s, ok
}

func (f *fakeAlarm) read() (cloudwatch.State, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return f.state, f.ok
}

func newCheck(t *testing.T, insufficient InsufficientDataHealthStatus, src *fakeAlarm, initial bool) *HealthCheck {
	t.Helper()
	h, err := New(Config{InsufficientData: insufficient, Interval: 30 * time.Second}, src.read, initial)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestAlarmStateDecides: OK is healthy and ALARM unhealthy whatever the
// InsufficientDataHealthStatus.
func TestAlarmStateDecides(t *testing.T) {
	for _, ins := range InsufficientDataHealthStatuses {
		src := &fakeAlarm{state: cloudwatch.StateAlarm, ok: true}
		h := newCheck(t, ins, src, true)
		if healthy, changed := h.Poll(t0); healthy || !changed {
			t.Errorf("%s: ALARM: healthy %v changed %v, want unhealthy, changed", ins, healthy, changed)
		}
		src.set(cloudwatch.StateOK, true)
		if healthy, changed := h.Poll(t0.Add(30 * time.Second)); !healthy || !changed {
			t.Errorf("%s: OK: healthy %v changed %v, want healthy, changed", ins, healthy, changed)
		}
	}
}

// TestInsufficientDataAndUnreachable: each InsufficientDataHealthStatus,
// when the alarm is INSUFFICIENT_DATA and when its CloudWatch cannot be
// reached (ASSUMED: treated as insufficient data), from a healthy and from
// an unhealthy status.
func TestInsufficientDataAndUnreachable(t *testing.T) {
	for _, c := range []insufficientCase{
		{Healthy, true, true},
		{Unhealthy, false, false},
		{LastKnownStatus, true, false},
	} {
		for _, read := range []struct {
			name  string
			state cloudwatch.State
			ok    bool
		}{
			{"INSUFFICIENT_DATA", cloudwatch.StateInsufficientData, true},
			{"unreachable", "", false},
			{"unreachable, stale ALARM", cloudwatch.StateAlarm, false},
			{"unknown state", "PENDING", true},
		} {
			for _, prior := range []struct {
				state   cloudwatch.State
				healthy bool
				want    bool
			}{{cloudwatch.StateOK, true, c.fromHealthy}, {cloudwatch.StateAlarm, false, c.fromUn}} {
				src := &fakeAlarm{state: prior.state, ok: true}
				h := newCheck(t, c.ins, src, true)
				if got, _ := h.Poll(t0); got != prior.healthy {
					t.Fatalf("%s: %s: %v", c.ins, prior.state, got)
				}
				src.set(read.state, read.ok)
				got, changed := h.Poll(t0.Add(time.Minute))
				if got != c.wantFor(prior.healthy) || changed != (got != prior.healthy) {
					t.Errorf("%s, %s after %s: healthy %v changed %v, want healthy %v", c.ins, read.name, prior.state, got, changed, c.wantFor(prior.healthy))
				}
				if !changed {
					continue
				}
				tr := h.History()[len(h.History())-1]
				if tr.Reachable != read.ok || (!read.ok && tr.AlarmState != "") || !strings.Contains(tr.Reason, string(c.ins)) {
					t.Errorf("%s, %s: transition %+v", c.ins, read.name, tr)
				}
			}
		}
	}
}

// insufficientCase is the status an InsufficientDataHealthStatus gives from
// a healthy and from an unhealthy one.
type insufficientCase struct {
	ins                 InsufficientDataHealthStatus
	fromHealthy, fromUn bool
}

// wantFor is the expected status from a prior one.
func (c insufficientCase) wantFor(priorHealthy bool) bool {
	if priorHealthy {
		return c.fromHealthy
	}
	return c.fromUn
}

// TestInitialStatus: a new health check is what New is told — healthy, as
// AWS documents — until its first read; with LastKnownStatus and nothing
// known yet it stays so on insufficient data, and so on for an unreachable
// alarm.
func TestInitialStatus(t *testing.T) {
	if !InitialHealthy {
		t.Fatal("AWS documents a new health check as healthy")
	}
	for _, ins := range InsufficientDataHealthStatuses {
		for _, initial := range []bool{true, false} {
			src := &fakeAlarm{state: cloudwatch.StateInsufficientData, ok: true}
			h := newCheck(t, ins, src, initial)
			if h.Healthy() != initial {
				t.Errorf("%s: new, initial %v: healthy %v", ins, initial, h.Healthy())
			}
			if at, _, _ := h.LastRead(); !at.IsZero() || src.reads != 0 {
				t.Errorf("%s: read before any poll", ins)
			}
			want := map[InsufficientDataHealthStatus]bool{Healthy: true, Unhealthy: false, LastKnownStatus: initial}[ins]
			if got, _ := h.Poll(t0); got != want {
				t.Errorf("%s: initial %v, INSUFFICIENT_DATA: healthy %v, want %v", ins, initial, got, want)
			}
		}
	}
}

// TestIntervalGatesReads: the alarm is read on the first poll and then at
// most once per interval; a change between reads is seen at the next one.
func TestIntervalGatesReads(t *testing.T) {
	src := &fakeAlarm{state: cloudwatch.StateOK, ok: true}
	h := newCheck(t, Unhealthy, src, true)
	h.Poll(t0)
	src.set(cloudwatch.StateAlarm, true)
	for _, at := range []time.Duration{time.Second, 29 * time.Second, 30*time.Second - time.Nanosecond} {
		if healthy, changed := h.Poll(t0.Add(at)); !healthy || changed {
			t.Errorf("+%s: healthy %v changed %v before the interval", at, healthy, changed)
		}
	}
	if src.reads != 1 {
		t.Errorf("%d reads within the interval, want 1", src.reads)
	}
	if healthy, changed := h.Poll(t0.Add(30 * time.Second)); healthy || !changed {
		t.Errorf("at the interval: healthy %v changed %v", healthy, changed)
	}
	h2, err := New(Config{InsufficientData: Unhealthy}, src.read, true)
	if err != nil {
		t.Fatal(err)
	}
	before := src.reads
	h2.Poll(t0)
	h2.Poll(t0)
	if src.reads-before != 2 {
		t.Errorf("Interval 0: %d reads for 2 polls", src.reads-before)
	}
}

func TestHistory(t *testing.T) {
	src := &fakeAlarm{state: cloudwatch.StateOK, ok: true}
	h := newCheck(t, Unhealthy, src, true)
	h.Poll(t0) // healthy already: no transition
	src.set(cloudwatch.StateAlarm, true)
	h.Poll(t0.Add(30 * time.Second))
	src.set("", false)
	h.Poll(t0.Add(60 * time.Second)) // still unhealthy: no transition
	src.set(cloudwatch.StateOK, true)
	h.Poll(t0.Add(90 * time.Second))
	got := h.History()
	want := []Transition{
		{At: t0.Add(30 * time.Second), Healthy: false, AlarmState: cloudwatch.StateAlarm, Reachable: true},
		{At: t0.Add(90 * time.Second), Healthy: true, AlarmState: cloudwatch.StateOK, Reachable: true},
	}
	if len(got) != len(want) {
		t.Fatalf("history %+v", got)
	}
	for i := range want {
		g := got[i]
		g.Reason = ""
		if g != want[i] || got[i].Reason == "" {
			t.Errorf("transition %d: %+v, want %+v with a reason", i, got[i], want[i])
		}
	}
	if at, st, ok := h.LastRead(); !at.Equal(t0.Add(90*time.Second)) || st != cloudwatch.StateOK || !ok {
		t.Errorf("last read %v %v %v", at, st, ok)
	}
}

func TestValidate(t *testing.T) {
	src := &fakeAlarm{}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{InsufficientData: "healthy"}, `InsufficientDataHealthStatus "healthy": must be one of Healthy, Unhealthy, LastKnownStatus`},
		{Config{InsufficientData: Healthy, Interval: -time.Second}, "Interval -1s"},
	} {
		if _, err := New(c.cfg, src.read, true); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	if _, err := New(Config{InsufficientData: Healthy}, nil, true); err == nil {
		t.Error("no source: no error")
	}
}

func TestConcurrentPolls(t *testing.T) {
	src := &fakeAlarm{state: cloudwatch.StateOK, ok: true}
	h := newCheck(t, LastKnownStatus, src, true)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				if g == 0 && i%10 == 0 {
					src.set(cloudwatch.StateAlarm, i%20 == 0)
				}
				h.Poll(t0.Add(time.Duration(i) * time.Second))
				_ = h.Healthy()
				_ = h.History()
			}
		})
	}
	wg.Wait()
}
