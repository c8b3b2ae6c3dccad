package producer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/smithy-go"
)

// counting is a Metrics that adds everything up.
type counting struct {
	mu                                          sync.Mutex
	accepted, refused, retried, failed, spooled int
	oldest                                      []time.Duration
}

func (c *counting) Accepted(n int) { c.mu.Lock(); c.accepted += n; c.mu.Unlock() }
func (c *counting) Refused(n int)  { c.mu.Lock(); c.refused += n; c.mu.Unlock() }
func (c *counting) Retried(n int)  { c.mu.Lock(); c.retried += n; c.mu.Unlock() }
func (c *counting) Failed(n int)   { c.mu.Lock(); c.failed += n; c.mu.Unlock() }
func (c *counting) Spooled(n int)  { c.mu.Lock(); c.spooled += n; c.mu.Unlock() }
func (c *counting) OldestUnsent(d time.Duration) {
	c.mu.Lock()
	c.oldest = append(c.oldest, d)
	c.mu.Unlock()
}

func (c *counting) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("accepted %d refused %d retried %d failed %d spooled %d", c.accepted, c.refused, c.retried, c.failed, c.spooled)
}

// gatedAPI holds every call until the gate lets it through (or ctx ends).
type gatedAPI struct {
	*fakeAPI
	gate chan struct{}
}

func (g *gatedAPI) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.fakeAPI.PutEvents(ctx, in, opts...)
}

// sentDetails lists the details of every entry the API was called with,
// in call order.
func (f *fakeAPI) sentDetails() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		for _, e := range c.Entries {
			out = append(out, aws.ToString(e.Detail))
		}
	}
	return out
}

func refuseAll(int, string) string { return "InternalFailure" }

func open(t *testing.T, api API, cfg Config) *Producer {
	t.Helper()
	if cfg.Sleep == nil {
		cfg.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	}
	p, err := Open(api, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// stopped is a context already done: Close with it stops at once, as a
// crash would, leaving what is unsent in the spool.
func stopped() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func within(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestProducerSendsInBatchesAndSettlesEach(t *testing.T) {
	api := &fakeAPI{}
	var mu sync.Mutex
	var results []Result
	m := &counting{}
	p := open(t, api, Config{Metrics: m, OnResult: func(r Result) { mu.Lock(); results = append(results, r); mu.Unlock() }})
	first, err := p.Send(context.Background(), entries(25)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(within(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, c := range api.calls {
		sizes = append(sizes, len(c.Entries))
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Errorf("call sizes = %v, want [10 10 5]", sizes)
	}
	if len(results) != 25 || m.accepted != 25 || m.spooled != 0 {
		t.Fatalf("%d results, metrics %s; want 25 accepted, none spooled", len(results), m)
	}
	for i, r := range results {
		if r.Seq != first+uint64(i) || !r.Accepted() || r.EventID != "id-"+aws.ToString(r.Entry.Detail) {
			t.Errorf("result %d = %+v, want seq %d accepted with its event ID", i, r, first+uint64(i))
		}
	}
}

// A refused entry is retried alone; one accepted is never sent again.
func TestProducerRetriesOnlyRefusedEntries(t *testing.T) {
	api := &fakeAPI{fail: func(call int, detail string) string {
		if call < 2 && (detail == "2" || detail == "5") {
			return "ThrottlingException"
		}
		return ""
	}}
	m := &counting{}
	p := open(t, api, Config{Metrics: m, Sleep: noSleep})
	if _, err := p.Send(context.Background(), entries(8)...); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(within(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(api.sentDetails()); got != "[0 1 2 3 4 5 6 7 2 5 2 5]" {
		t.Errorf("sent %s, want the 8 entries, then 2 and 5 twice more", got)
	}
	if m.accepted != 8 || m.refused != 4 || m.retried != 4 || m.failed != 0 {
		t.Errorf("metrics %s, want accepted 8 refused 4 retried 4 failed 0", m)
	}
	if s := p.Stats(); s.Accepted != 8 || s.Refused != 4 || s.Retried != 4 || s.Calls != 3 || s.Unsent != 0 {
		t.Errorf("stats %+v, want 8 accepted, 4 refused, 4 retried in 3 calls, none unsent", s)
	}
}

func TestProducerGivesUpOnlyWithALimitOrAPermanentError(t *testing.T) {
	api := &fakeAPI{fail: func(_ int, detail string) string {
		switch detail {
		case "1":
			return "InternalFailure"
		case "3":
			return "MalformedDetail"
		}
		return ""
	}}
	var failed []Result
	m := &counting{}
	p := open(t, api, Config{Metrics: m, Sleep: noSleep, MaxAttempts: 3, SpoolDir: t.TempDir(), OnResult: func(r Result) {
		if !r.Accepted() {
			failed = append(failed, r)
		}
	}})
	if _, err := p.Send(context.Background(), entries(4)...); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(within(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(failed, func(a, b Result) int { return cmpUint(a.Seq, b.Seq) })
	if len(failed) != 2 || failed[0].ErrorCode != "InternalFailure" || failed[0].Attempts != 3 ||
		failed[1].ErrorCode != "MalformedDetail" || failed[1].Attempts != 1 {
		t.Fatalf("failed = %+v, want entry 1 after 3 attempts and entry 3 at once (permanent)", failed)
	}
	if m.accepted != 2 || m.failed != 2 {
		t.Errorf("metrics %s, want 2 accepted and 2 failed", m)
	}
	if segs := spoolFiles(t, p.cfg.SpoolDir); len(segs) != 0 {
		t.Errorf("spool holds %v after everything settled, want no segment", segs)
	}
}

func TestProducerStopsOnACallNoRetryFixes(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform events:PutEvents"}
	api := &fakeAPI{callErr: func(int) error { return denied }}
	dir := t.TempDir()
	p := open(t, api, Config{SpoolDir: dir})
	if _, err := p.Send(context.Background(), entries(3)...); err != nil {
		t.Fatal(err)
	}
	err := p.Flush(within(t, 5*time.Second))
	var ue *UnsentError
	if !errors.As(err, &ue) || !errors.Is(err, denied) || ue.Unsent != 3 || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Flush = %v, want 3 unsent in %s because of AccessDenied", err, dir)
	}
	if _, err := p.Send(context.Background(), entries(1)...); !errors.Is(err, denied) {
		t.Errorf("Send after the producer stopped = %v, want the AccessDenied error", err)
	}
	_ = p.Close(stopped())
	if n := len(api.calls); n != 1 {
		t.Errorf("%d calls, want 1 (AccessDenied is not retried)", n)
	}
}

// Send blocks while MaxUnsent entries wait, and gives up when its context
// ends, having taken nothing.
func TestProducerSendBlocksWhenFull(t *testing.T) {
	api := &gatedAPI{fakeAPI: &fakeAPI{}, gate: make(chan struct{})}
	p := open(t, api, Config{MaxUnsent: 5})
	if _, err := p.Send(context.Background(), entries(5)...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.Send(ctx, entries(1)...); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send into a full producer = %v, want it to block until its context ends", err)
	}
	if s := p.Stats(); s.Unsent != 5 {
		t.Errorf("unsent %d, want 5 (the blocked Send took nothing)", s.Unsent)
	}
	close(api.gate)
	if _, err := p.Send(within(t, 5*time.Second), entries(1)...); err != nil {
		t.Fatalf("Send once the first 5 are accepted: %v", err)
	}
	if err := p.Close(within(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Accepted != 6 {
		t.Errorf("accepted %d, want 6", s.Accepted)
	}
}

// What a stopped producer left unsent, a producer opened on the same spool
// sends, under the same sequence numbers; what was accepted is not sent
// again.
func TestProducerResumesFromTheSpool(t *testing.T) {
	dir := t.TempDir()
	// The first producer's endpoint accepts its first call (entries 0–9)
	// and refuses every call after.
	api := &fakeAPI{fail: func(call int, _ string) string {
		if call == 0 {
			return ""
		}
		return "InternalFailure"
	}}
	m1 := &counting{}
	p := open(t, api, Config{SpoolDir: dir, Metrics: m1, Backoff: time.Millisecond, MaxBackoff: time.Millisecond, Sleep: sleep})
	first, err := p.Send(context.Background(), entries(15)...)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return p.Stats().Accepted == 10 && p.Stats().Refused > 0 })
	err = p.Close(stopped())
	var ue *UnsentError
	if !errors.As(err, &ue) || ue.Unsent != 5 || ue.SpoolDir != dir {
		t.Fatalf("Close = %v, want 5 unsent left in %s", err, dir)
	}
	if m1.spooled != 15 || m1.accepted != 10 {
		t.Errorf("first producer: %s, want 15 spooled and 10 accepted", m1)
	}

	api2 := &fakeAPI{}
	var results []Result
	m2 := &counting{}
	p2 := open(t, api2, Config{SpoolDir: dir, Metrics: m2, OnResult: func(r Result) { results = append(results, r) }})
	if rec := p2.Recovery(); rec.Resumed != 5 || len(rec.Torn) != 0 || rec.Dir != dir {
		t.Errorf("recovery = %+v, want 5 resumed, nothing torn", rec)
	}
	if err := p2.Close(within(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(api2.sentDetails()); got != "[10 11 12 13 14]" {
		t.Errorf("the second producer sent %s, want only the 5 never accepted", got)
	}
	for i, r := range results {
		if want := first + 10 + uint64(i); r.Seq != want || !r.Resumed || !r.Accepted() {
			t.Errorf("result %d = seq %d resumed %v accepted %v, want seq %d resumed and accepted", i, r.Seq, r.Resumed, r.Accepted(), want)
		}
	}
	if s := p2.Stats(); s.Resumed != 5 || s.Accepted != 5 || s.Spooled != 0 {
		t.Errorf("second producer's stats %+v, want 5 resumed and accepted, none spooled by it", s)
	}
	if segs := spoolFiles(t, dir); len(segs) != 0 {
		t.Errorf("spool holds %v once everything is accepted, want no segment", segs)
	}
}

func TestProducerReportsTheOldestUnsent(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	api := &gatedAPI{fakeAPI: &fakeAPI{fail: func(call int, _ string) string {
		if call == 0 {
			return "ThrottlingException"
		}
		return ""
	}}, gate: make(chan struct{}, 2)}
	m := &counting{}
	p := open(t, api, Config{Metrics: m, Now: clock, Sleep: noSleep})
	if _, err := p.Send(context.Background(), entries(2)...); err != nil {
		t.Fatal(err)
	}
	advance(3 * time.Second)
	if got := p.Stats().OldestUnsent; got != 3*time.Second {
		t.Errorf("oldest unsent = %s, want 3s", got)
	}
	api.gate <- struct{}{}
	api.gate <- struct{}{}
	if err := p.Close(within(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(m.oldest) != "[3s 0s]" {
		t.Errorf("OldestUnsent reported %v, want 3s after the refused call, 0s once accepted", m.oldest)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// spoolFiles lists the segment and acknowledgement files in dir.
func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if segmentName.MatchString(filepath.Base(n)) {
			out = append(out, filepath.Base(n))
		}
	}
	return out
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestProducerAfterClose(t *testing.T) {
	p := open(t, &fakeAPI{}, Config{MaxUnsent: 2})
	// A Send larger than the bound is taken when nothing else is unsent.
	if _, err := p.Send(within(t, 5*time.Second), entries(5)...); err != nil {
		t.Fatalf("Send of 5 into an empty producer bounded at 2: %v", err)
	}
	if err := p.Close(within(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(context.Background(), entries(1)...); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	if err := p.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	if s := p.Stats(); s.Accepted != 5 {
		t.Errorf("accepted %d, want 5", s.Accepted)
	}
}

func TestPublisherMetrics(t *testing.T) {
	api := &fakeAPI{fail: func(call int, detail string) string {
		switch {
		case detail == "3":
			return "MalformedDetail"
		case call == 0 && detail == "1":
			return "ThrottlingException"
		}
		return ""
	}}
	m := &counting{}
	if _, err := New(api, Options{Sleep: noSleep, Metrics: m}).Publish(context.Background(), entries(4), nil); err != nil {
		t.Fatal(err)
	}
	if m.accepted != 3 || m.refused != 2 || m.retried != 1 || m.failed != 1 || m.spooled != 0 {
		t.Errorf("metrics %s, want accepted 3 refused 2 retried 1 failed 1 spooled 0", m)
	}
}
