//go:build unix

package producer_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/globalendpoint"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/partition"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
	"github.com/tap-trading/tap/internal/twin"
	"github.com/tap-trading/tap/producer"
)

// The test binary doubles as the producer the kill test kills: with
// childEnv set, it runs childProducer instead of the tests.
const childEnv = "TAP_PRODUCER_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childProducer())
	}
	os.Exit(m.Run())
}

// childEntry is an entry as the test hands it to the child.
type childEntry struct{ Bus, Source, DetailType, Detail string }

// childProducer publishes the entries of the file TAP_CHILD_ENTRIES, at
// TAP_CHILD_RATE a second, through a spooled producer on TAP_CHILD_SPOOL to
// the endpoint at TAP_CHILD_URL, printing its figures after every change,
// and then waits to be killed.
func childProducer() int {
	ctx := context.Background()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 2 }
	cfg, err := awslocal.Config(ctx, os.Getenv("TAP_CHILD_URL"), os.Getenv("TAP_CHILD_REGION"))
	if err != nil {
		return fail(err)
	}
	b, err := os.ReadFile(os.Getenv("TAP_CHILD_ENTRIES"))
	if err != nil {
		return fail(err)
	}
	var entries []types.PutEventsRequestEntry
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ce childEntry
		if err := json.Unmarshal([]byte(line), &ce); err != nil {
			return fail(err)
		}
		entries = append(entries, types.PutEventsRequestEntry{EventBusName: aws.String(ce.Bus), Source: aws.String(ce.Source),
			DetailType: aws.String(ce.DetailType), Detail: aws.String(ce.Detail)})
	}
	var rate float64
	fmt.Sscan(os.Getenv("TAP_CHILD_RATE"), &rate)
	m := &lineMetrics{w: os.Stdout}
	client := eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
	p, err := producer.Open(client, producer.Config{SpoolDir: os.Getenv("TAP_CHILD_SPOOL"), Metrics: m,
		Backoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		return fail(err)
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	for _, e := range entries {
		<-t.C
		if _, err := p.Send(ctx, e); err != nil {
			return fail(err)
		}
		m.add(&m.sent, 1)
	}
	select {} // until killed
}

// lineMetrics prints a producer's figures as a line after every change.
type lineMetrics struct {
	producer.NopMetrics
	mu                                      sync.Mutex
	w                                       io.Writer
	sent, accepted, refused, retried, spool int
}

func (m *lineMetrics) add(n *int, d int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	*n += d
	fmt.Fprintf(m.w, "child sent=%d accepted=%d refused=%d retried=%d spooled=%d\n", m.sent, m.accepted, m.refused, m.retried, m.spool)
}

func (m *lineMetrics) Accepted(n int) { m.add(&m.accepted, n) }
func (m *lineMetrics) Refused(n int)  { m.add(&m.refused, n) }
func (m *lineMetrics) Retried(n int)  { m.add(&m.retried, n) }
func (m *lineMetrics) Spooled(n int)  { m.add(&m.spool, n) }

// childFigures is the child's last line.
type childFigures struct{ Sent, Accepted, Refused, Retried, Spooled int }

// child is the producer process the test kills.
type child struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	last   childFigures
	lines  chan struct{} // one value per line read
	stderr strings.Builder
}

func (c *child) figures() childFigures {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// until waits for a line after which cond holds.
func (c *child) until(t *testing.T, what string, d time.Duration, cond func(childFigures) bool) {
	t.Helper()
	deadline := time.After(d)
	for !cond(c.figures()) {
		select {
		case <-c.lines:
		case <-deadline:
			t.Fatalf("the child producer did not reach %q within %s: last figures %+v, stderr %q", what, d, c.figures(), c.stderr.String())
		}
	}
}

// TestKilledMidOutageLosesNothing publishes through the two-region twin's
// global endpoint with a spooled producer in its own process; cuts the
// primary; kills the producer (SIGKILL) while the endpoint refuses its
// calls, with entries spooled and unsent; starts a new producer on the same
// spool, which resumes them and sends the rest of the events; heals; and
// finds every event accepted exactly once by the endpoint and applied in
// both regions' tables.
//
// The kill lands at a point where every acceptance the endpoint made is
// acknowledged in the spool (the child is stopped, and killed once its
// figures account for every acceptance): the crash boundary the producer
// documents as at-least-once — accepted, killed before the acknowledgement
// is on disk — is not what this test is about, and would make "accepted
// exactly once" flaky.
func TestKilledMidOutageLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts the two-region twin (two local AWS servers)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var (
		mu      sync.Mutex
		accepts atomic.Int64
		byReg   = map[string]int{}
	)
	e, err := twin.Start(ctx, twin.Config{Observer: twin.Observer{Accepted: func(a globalendpoint.Accepted) {
		accepts.Add(1)
		mu.Lock()
		byReg[a.Region]++
		mu.Unlock()
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	primary, secondary := e.Primary(), e.Secondary()
	bus := e.Spec().Names.Bus()

	ls := gen.Lifecycles(16, 40, gen.Options{Start: time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)})
	stream := gen.Stream(ls, gen.StreamOptions{Seed: 16})
	entries := make([]types.PutEventsRequestEntry, len(stream))
	var file strings.Builder
	for i, d := range stream {
		detail := string(event.EncodeDetail(&d.Report))
		entries[i] = types.PutEventsRequestEntry{EventBusName: aws.String(bus), Source: aws.String(schema.Source),
			DetailType: aws.String(schema.DetailTypeExecutionReport), Detail: aws.String(detail)}
		line, _ := json.Marshal(childEntry{Bus: bus, Source: schema.Source, DetailType: schema.DetailTypeExecutionReport, Detail: detail})
		file.Write(append(line, '\n'))
	}
	n := len(entries)
	work := t.TempDir()
	spool := filepath.Join(work, "spool")
	entriesFile := filepath.Join(work, "entries.jsonl")
	if err := os.WriteFile(entriesFile, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	// 1. The producer, in its own process, publishes at 40 events/s.
	c := startChild(t, e.EndpointURL(), primary, spool, entriesFile, 40)
	c.until(t, "20 accepted", time.Minute, func(f childFigures) bool { return f.Accepted >= 20 })

	// 2. The primary is lost; the endpoint refuses until it routes to the
	// secondary.
	if err := e.Cut(primary, partition.Refuse); err != nil {
		t.Fatal(err)
	}
	cutAt := time.Now()
	c.until(t, "a refusal", 30*time.Second, func(f childFigures) bool { return f.Refused > 0 })

	// 3. Killed while refused, with entries spooled and unsent.
	killed := c.kill(t, &accepts)
	t.Logf("producer killed %s after the cut: sent %d, accepted %d, refused %d, retried %d, spooled %d; the endpoint routes to %s",
		time.Since(cutAt).Round(time.Millisecond), killed.Sent, killed.Accepted, killed.Refused, killed.Retried, killed.Spooled, e.Route())
	if killed.Spooled <= killed.Accepted {
		t.Fatalf("killed with nothing unsent (spooled %d, accepted %d): the kill did not land mid-outage", killed.Spooled, killed.Accepted)
	}

	// 4. A new producer on the same spool resumes what was unsent, and the
	// application gives it the events the dead one never took.
	p, err := e.Producer(ctx, producer.Config{SpoolDir: spool})
	if err != nil {
		t.Fatal(err)
	}
	rec := p.Recovery()
	if len(rec.Torn) != 0 {
		t.Errorf("torn tails after a kill between writes: %v", rec.Torn)
	}
	taken := killed.Accepted + rec.Resumed // the dead producer's spool held entries[:taken]
	if taken > n || taken < killed.Spooled {
		t.Fatalf("spool resumed %d after %d accepted, but the dead producer had spooled %d of %d", rec.Resumed, killed.Accepted, killed.Spooled, n)
	}
	if _, err := p.Send(ctx, entries[taken:]...); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the resumed entries accepted while the primary is cut", time.Minute, func() bool { return p.Stats().Accepted >= rec.Resumed })
	duringOutage := p.Stats().Accepted

	// 5. The primary comes back; everything is accepted.
	if err := e.Heal(primary); err != nil {
		t.Fatal(err)
	}
	fctx, fcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer fcancel()
	if err := p.Close(fctx); err != nil {
		t.Fatalf("restarted producer: %v", err)
	}
	st := p.Stats()

	// Every event accepted once: the endpoint's acceptances number the
	// events, and (below) every event is in the tables.
	if got := int(accepts.Load()); got != n || killed.Accepted+st.Accepted != n {
		t.Errorf("the endpoint accepted %d times and the producers %d+%d, want %d each: an eventId accepted twice, or lost", got, killed.Accepted, st.Accepted, n)
	}
	if left, _ := filepath.Glob(filepath.Join(spool, "*.seg")); len(left) != 0 {
		t.Errorf("spool still holds %v once everything is accepted", left)
	}

	// 6. Invocations that failed while the primary was cut (Lambda's
	// on-failure records) and refused deliveries wait in the DLQs; the
	// operator redrives them, as the drills do. Then every event is
	// applied in both regions' tables.
	redriven := redriveFailed(ctx, t, e)
	lost := map[string]int{}
	for _, region := range []string{primary, secondary} {
		st := store.New(e.Clients(region).DynamoDB, e.Spec().Table.Name, region, nil)
		var missing int
		waitUntil(t, "every event in "+region+"'s table", 3*time.Minute, func() bool {
			missing = missingExecutions(ctx, t, st, ls)
			return missing == 0
		})
		lost[region] = missing
		var dead []dlq.Record
		proc, del, err := e.DeadLetters(ctx, region)
		if err != nil {
			t.Fatal(err)
		}
		dead = append(append(dead, proc...), del...)
		accepted := make([]bool, n)
		for i := range accepted {
			accepted[i] = true
		}
		checks, unaccounted, err := local.VerifyReplica(ctx, st, ls, stream, accepted, dead)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range checks {
			if !ch.OK {
				t.Errorf("%s: %s %s failed: %s %v", region, ch.Invariant, ch.Name, ch.Detail, ch.Failures)
			}
		}
		if unaccounted != 0 || len(dead) != 0 {
			t.Errorf("%s: %d events unaccounted for, %d dead letters; want none", region, unaccounted, len(dead))
		}
	}

	t.Logf("  dead letters redriven after the heal: %d", redriven)
	mu.Lock()
	regions := fmt.Sprintf("%s %d, %s %d", primary, byReg[primary], secondary, byReg[secondary])
	mu.Unlock()
	t.Logf("figures through the failover, %d events:", n)
	t.Logf("  killed producer:    accepted %d, refused %d, retried %d, spooled %d (sent %d)", killed.Accepted, killed.Refused, killed.Retried, killed.Spooled, killed.Sent)
	t.Logf("  restarted producer: resumed %d from the spool (torn tails %d), accepted %d (%d of them before the heal), refused %d, retried %d, spooled %d, calls %d",
		rec.Resumed, len(rec.Torn), st.Accepted, duringOutage, st.Refused, st.Retried, st.Spooled, st.Calls)
	t.Logf("  total:              accepted %d, refused %d, retried %d, spooled %d; endpoint acceptances %d (%s); lost %d in %s, %d in %s",
		killed.Accepted+st.Accepted, killed.Refused+st.Refused, killed.Retried+st.Retried, killed.Spooled+st.Spooled,
		accepts.Load(), regions, lost[primary], primary, lost[secondary], secondary)
}

// startChild starts the producer process.
func startChild(t *testing.T, url, region, spool, entries string, rate int) *child {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{lines: make(chan struct{}, 1024)}
	c.cmd = exec.Command(bin, "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childEnv+"=1", "TAP_CHILD_URL="+url, "TAP_CHILD_REGION="+region,
		"TAP_CHILD_SPOOL="+spool, "TAP_CHILD_ENTRIES="+entries, fmt.Sprintf("TAP_CHILD_RATE=%d", rate))
	c.cmd.Stderr = &c.stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var f childFigures
			if _, err := fmt.Sscanf(sc.Text(), "child sent=%d accepted=%d refused=%d retried=%d spooled=%d",
				&f.Sent, &f.Accepted, &f.Refused, &f.Retried, &f.Spooled); err != nil {
				continue
			}
			c.mu.Lock()
			c.last = f
			c.mu.Unlock()
			select {
			case c.lines <- struct{}{}:
			default:
			}
		}
	}()
	return c
}

// kill stops the child and SIGKILLs it once its figures account for every
// acceptance the endpoint made (its last call refused, or answered and
// acknowledged); otherwise it lets it run on a moment and tries again.
func (c *child) kill(t *testing.T, accepts *atomic.Int64) childFigures {
	t.Helper()
	pid := c.cmd.Process.Pid
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		// Let a call in flight finish at the endpoint, and the lines
		// written before the stop be read.
		time.Sleep(300 * time.Millisecond)
		if f := c.figures(); int64(f.Accepted) == accepts.Load() {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = c.cmd.Wait()
			return f
		}
		_ = syscall.Kill(pid, syscall.SIGCONT)
		select {
		case <-c.lines:
		case <-time.After(time.Second):
		}
	}
	t.Fatalf("could not stop the child where its figures (%+v) account for the endpoint's %d acceptances", c.figures(), accepts.Load())
	return childFigures{}
}

// missingExecutions counts the lifecycles' events not recorded in st.
func missingExecutions(ctx context.Context, t *testing.T, st *store.Store, ls []gen.Lifecycle) int {
	t.Helper()
	missing := 0
	for _, l := range ls {
		execs, err := st.Executions(ctx, l.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, x := range execs {
			have[x.EventID] = true
		}
		for _, ev := range l.Events {
			if !have[ev.EventID] {
				missing++
			}
		}
	}
	return missing
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// redriveFailed waits until both regions are idle and replication has
// caught up, then redrives the failed invocations and deliveries of both
// regions' DLQs, up to three rounds, and returns how many it redrove.
func redriveFailed(ctx context.Context, t *testing.T, e *twin.Env) int {
	t.Helper()
	regions := []string{e.Primary(), e.Secondary()}
	redriven := 0
	for round := 0; round < 3; round++ {
		waitUntil(t, "both regions idle, replication caught up", 3*time.Minute, func() bool {
			p := e.PendingReplication()
			return p[regions[0]] == 0 && p[regions[1]] == 0 && e.Idle(ctx, regions[0]) && e.Idle(ctx, regions[1])
		})
		total := 0
		for _, r := range regions {
			proc, del, err := e.DeadLetters(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			failed := 0
			for _, rec := range proc {
				if rec.Format == dlq.FormatLambda {
					failed++
				}
			}
			total += failed + len(del)
			for _, q := range []struct {
				n        int
				delivery bool
			}{{failed, false}, {len(del), true}} {
				if q.n == 0 {
					continue
				}
				n, err := e.Redrive(ctx, r, q.delivery)
				redriven += n
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		if total == 0 {
			break
		}
	}
	return redriven
}
