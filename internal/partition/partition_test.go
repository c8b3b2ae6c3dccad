package partition

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// counter is a server whose state (a count) must survive cuts.
func counter(t *testing.T) *Proxy {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, n.Add(1))
	}))
	t.Cleanup(srv.Close)
	p, err := Start(strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func get(c *http.Client, url string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestCutAndHealEachMode(t *testing.T) {
	for _, m := range []Mode{Refuse, Hang} {
		t.Run(m.String(), func(t *testing.T) {
			p := counter(t)
			// One client throughout: its pooled connection must be cut too.
			c := &http.Client{Transport: &http.Transport{}}
			if got, err := get(c, p.URL, 5*time.Second); err != nil || got != "1" {
				t.Fatalf("before the cut: %q, %v; want 1", got, err)
			}
			if err := p.Cut(m); err != nil {
				t.Fatal(err)
			}
			_, err := get(c, p.URL, 300*time.Millisecond)
			if err == nil {
				t.Fatal("request through a cut proxy succeeded")
			}
			timedOut := errors.Is(err, context.DeadlineExceeded)
			if m == Hang && !timedOut {
				t.Errorf("hang: got %v, want the client's own timeout", err)
			}
			if m == Refuse && timedOut {
				t.Errorf("refuse: the client waited for its timeout instead of failing at once")
			}
			p.Heal()
			if got, err := get(c, p.URL, 5*time.Second); err != nil || got != "2" {
				t.Fatalf("after healing: %q, %v; want 2 (the server kept its state and never saw the cut request)", got, err)
			}
			if p.Cuts() != 1 || p.IsCut() {
				t.Errorf("Cuts() = %d, IsCut() = %v; want 1, false", p.Cuts(), p.IsCut())
			}
		})
	}
}

func TestHangHoldsARequestInFlightUntilHeal(t *testing.T) {
	p := counter(t)
	if err := p.Cut(Hang); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := get(&http.Client{Transport: &http.Transport{}}, p.URL, time.Minute)
		errc <- err
	}()
	select {
	case err := <-errc:
		t.Fatalf("request through a hung proxy returned before heal: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	p.Heal()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("the held request was answered; want it reset on heal")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the held request was not released by Heal")
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{Refuse, Hang} {
		if got, err := ParseMode(m.String()); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := ParseMode("drop"); err == nil || !strings.Contains(err.Error(), "refuse or hang") {
		t.Errorf("ParseMode(drop) error = %v, want the allowed values", err)
	}
}

func TestSlowDelaysEveryRequestUntilRestored(t *testing.T) {
	p := counter(t)
	// One client throughout: its pooled connection must be slowed too.
	c := &http.Client{Transport: &http.Transport{}}
	timed := func() (time.Duration, error) {
		start := time.Now()
		_, err := get(c, p.URL, 5*time.Second)
		return time.Since(start), err
	}
	if _, err := timed(); err != nil {
		t.Fatalf("before: %v", err)
	}
	p.Slow(300 * time.Millisecond)
	for range 2 {
		if d, err := timed(); err != nil || d < 300*time.Millisecond {
			t.Errorf("slowed: %s, %v; want at least 300ms and an answer", d, err)
		}
	}
	if p.IsCut() {
		t.Error("a slow proxy reports itself cut")
	}
	p.Slow(0)
	// Restored: no longer delayed (an answer within the delay that applied).
	if d, err := timed(); err != nil || d >= 300*time.Millisecond {
		t.Errorf("restored: %s, %v; want an answer sooner than the delay", d, err)
	}
}
