package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tap-trading/tap/internal/lambdaruntime"
)

// invokeTimeout bounds one invocation; a runtime that hangs fails the run.
const invokeTimeout = 30 * time.Second

// readyTimeout bounds a runtime's init (exec to its first GET /next).
const readyTimeout = 60 * time.Second

// Cursor hands out the shared event sequence in order, so both sides see the
// same events in the same phases.
type Cursor struct {
	events [][]byte
	next   int
}

// NewCursor starts at the first of events.
func NewCursor(events [][]byte) *Cursor { return &Cursor{events: events} }

// take returns the next n events.
func (c *Cursor) take(n int) ([][]byte, error) {
	if c.next+n > len(c.events) {
		return nil, fmt.Errorf("bench: event sequence exhausted (%d generated)", len(c.events))
	}
	out := c.events[c.next : c.next+n]
	c.next += n
	return out, nil
}

// Used is how many events were handed out.
func (c *Cursor) Used() int { return c.next }

// ColdStarts is one side's cold starts.
type ColdStarts struct {
	// Total is exec to the first event's response; Init is exec to the first
	// GET /next (the runtime's own start-up before it asks for work).
	Total, Init []time.Duration
	// PeakRSS is the largest VmHWM right after the first event.
	PeakRSS int64
}

// Phase is one side's run of events at a fixed number in flight.
type Phase struct {
	InFlight int
	Events   int
	Wall     time.Duration
	// CPU is user+sys of all runtime processes over the timed events only
	// (init and warm-up excluded).
	CPU time.Duration
	// Latencies are queue-to-response times, Durations fetch-to-response times
	// (what Lambda bills), both sorted.
	Latencies, Durations []time.Duration
	// PeakRSS is the largest VmHWM of the phase's processes.
	PeakRSS int64
	// LogBytes is what the processes wrote to stdout and stderr during the timed events.
	LogBytes int64
	// Results are the timed invocations, in event order.
	Results []lambdaruntime.Result
}

// CPUPerEvent is CPU ÷ Events.
func (p Phase) CPUPerEvent() time.Duration { return p.CPU / time.Duration(max(p.Events, 1)) }

// Throughput is events per second.
func (p Phase) Throughput() float64 { return float64(p.Events) / p.Wall.Seconds() }

// harness is one Runtime API server and its processes for one measurement.
type harness struct {
	rt    Runtime
	srv   *lambdaruntime.Server
	procs []*proc
	// ctx ends when any process exits: a dead runtime fails the run.
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func newHarness(ctx context.Context, rt Runtime) (*harness, error) {
	srv, err := lambdaruntime.Start()
	if err != nil {
		return nil, err
	}
	srv.FunctionName = rt.FunctionName
	h := &harness{rt: rt, srv: srv}
	h.ctx, h.cancel = context.WithCancelCause(ctx)
	return h, nil
}

// spawn starts one process and watches it.
func (h *harness) spawn() (*proc, error) {
	p, err := h.rt.start(h.srv)
	if err != nil {
		return nil, err
	}
	h.procs = append(h.procs, p)
	go func() {
		select {
		case <-p.exited:
			h.cancel(fmt.Errorf("%s: %w", h.rt.Name, p.exitError()))
		case <-h.ctx.Done():
		}
	}()
	return p, nil
}

// close kills the processes, then waits until no dead connection is still
// parked in /next before closing the server.
func (h *harness) close() {
	h.cancel(errors.New("harness closed"))
	for _, p := range h.procs {
		p.stop()
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.srv.Waiting() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	_ = h.srv.Close()
}

// waitReady waits until n runtimes are blocked in /next: past init, ready.
func (h *harness) waitReady(n int) error {
	deadline := time.Now().Add(readyTimeout)
	for h.srv.Waiting() < n {
		if err := h.err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d runtimes ready after %s", h.rt.Name, h.srv.Waiting(), n, readyTimeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

func (h *harness) err() error {
	if h.ctx.Err() != nil {
		return context.Cause(h.ctx)
	}
	return nil
}

// invoke runs one event, published and traded now (Restamp), and turns a
// function error into an error: every generated event is valid, so any
// failure is a failure of the run.
func (h *harness) invoke(i int, payload []byte) (lambdaruntime.Result, error) {
	ctx, cancel := context.WithTimeout(h.ctx, invokeTimeout)
	defer cancel()
	res, err := h.srv.Invoke(ctx, Restamp(payload, time.Now()))
	if err != nil {
		if cause := h.err(); cause != nil {
			err = cause
		}
		return res, fmt.Errorf("%s: event %d: %w", h.rt.Name, i, err)
	}
	if res.Failed() {
		return res, fmt.Errorf("%s: event %d failed: %s: %s\n%s", h.rt.Name, i, res.ErrorType, res.ErrorMessage, res.ErrorBody)
	}
	return res, nil
}

// MeasureColdStarts starts a fresh environment n times with an event already
// queued, as Lambda does on a cold start, and times exec to that event's response.
func MeasureColdStarts(ctx context.Context, rt Runtime, cur *Cursor, n int, log Logf) (ColdStarts, error) {
	var cs ColdStarts
	events, err := cur.take(n)
	if err != nil {
		return cs, err
	}
	for i, ev := range events {
		res, rss, started, err := coldStart(ctx, rt, i, ev)
		if err != nil {
			return cs, err
		}
		cs.Total = append(cs.Total, res.Completed.Sub(started))
		cs.Init = append(cs.Init, res.Fetched.Sub(started))
		cs.PeakRSS = max(cs.PeakRSS, rss)
	}
	log("%s: cold start median %s (of %d)", rt.Name, round(median(cs.Total)), n)
	return cs, nil
}

func coldStart(ctx context.Context, rt Runtime, i int, ev []byte) (lambdaruntime.Result, int64, time.Time, error) {
	h, err := newHarness(ctx, rt)
	if err != nil {
		return lambdaruntime.Result{}, 0, time.Time{}, err
	}
	defer h.close()
	type outcome struct {
		res lambdaruntime.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := h.invoke(i, ev)
		done <- outcome{res, err}
	}()
	p, err := h.spawn()
	if err != nil {
		return lambdaruntime.Result{}, 0, time.Time{}, err
	}
	o := <-done
	if o.err != nil {
		return o.res, 0, p.started, o.err
	}
	rss, err := p.peakRSS()
	return o.res, rss, p.started, err
}

// MeasurePhase runs warmup then n timed events through inFlight environments,
// each event invoked as soon as one of inFlight callers is free.
func MeasurePhase(ctx context.Context, rt Runtime, cur *Cursor, inFlight, warmup, n int, log Logf) (Phase, error) {
	ph := Phase{InFlight: inFlight, Events: n}
	warm, err := cur.take(warmup)
	if err != nil {
		return ph, err
	}
	timed, err := cur.take(n)
	if err != nil {
		return ph, err
	}
	h, err := newHarness(ctx, rt)
	if err != nil {
		return ph, err
	}
	defer h.close()
	for range inFlight {
		if _, err := h.spawn(); err != nil {
			return ph, err
		}
	}
	if err := h.waitReady(inFlight); err != nil {
		return ph, err
	}
	if _, err := run(h, warm, inFlight, nil); err != nil {
		return ph, err
	}
	// Every process is idle in /next again before the clock starts.
	if err := h.waitReady(inFlight); err != nil {
		return ph, err
	}
	cpu0, logs0, err := h.usage()
	if err != nil {
		return ph, err
	}
	start := time.Now()
	results, err := run(h, timed, inFlight, progress(log, rt.Name, inFlight, n))
	if err != nil {
		return ph, err
	}
	ph.Wall = time.Since(start)
	cpu1, logs1, err := h.usage()
	if err != nil {
		return ph, err
	}
	ph.CPU, ph.LogBytes = cpu1-cpu0, logs1-logs0
	for _, p := range h.procs {
		rss, err := p.peakRSS()
		if err != nil {
			return ph, err
		}
		ph.PeakRSS = max(ph.PeakRSS, rss)
	}
	ph.Results = results
	for _, r := range results {
		ph.Latencies = append(ph.Latencies, r.Latency())
		ph.Durations = append(ph.Durations, r.Duration())
	}
	slices.Sort(ph.Latencies)
	slices.Sort(ph.Durations)
	log("%s: %d in flight: %.0f events/s, CPU %s/event, p50 %s, p99 %s", rt.Name, inFlight,
		ph.Throughput(), roundFine(ph.CPUPerEvent()), round(percentile(ph.Latencies, 50)), round(percentile(ph.Latencies, 99)))
	return ph, nil
}

// usage sums CPU time and log output of the harness's processes.
func (h *harness) usage() (time.Duration, int64, error) {
	var cpu time.Duration
	var logs int64
	for _, p := range h.procs {
		c, err := p.cpu()
		if err != nil {
			return 0, 0, err
		}
		cpu += c
		logs += p.stdout.n.Load() + p.stderr.n.Load()
	}
	return cpu, logs, nil
}

// run invokes events with inFlight callers and returns the results in event order.
func run(h *harness, events [][]byte, inFlight int, done func(int)) ([]lambdaruntime.Result, error) {
	results := make([]lambdaruntime.Result, len(events))
	var next, completed atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(events) {
					return
				}
				res, err := h.invoke(i, events[i])
				if err != nil {
					once.Do(func() { firstErr = err; h.cancel(err) })
					return
				}
				results[i] = res
				if done != nil {
					done(int(completed.Add(1)))
				}
			}
		}()
	}
	wg.Wait()
	return results, firstErr
}

// progress logs every quarter of a phase.
func progress(log Logf, name string, inFlight, n int) func(int) {
	step := max(n/4, 1)
	return func(done int) {
		if done%step == 0 && done < n {
			log("%s: %d in flight: %d/%d events", name, inFlight, done, n)
		}
	}
}

// percentile is the nearest-rank percentile of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// median of unsorted values.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func round(d time.Duration) time.Duration     { return d.Round(100 * time.Microsecond) }
func roundFine(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
