package cli

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
)

func TestPaceSendsEveryBatchOnceAtTheRate(t *testing.T) {
	var mu sync.Mutex
	var got [][2]int
	start := time.Now()
	err := pace(context.Background(), 45, 300, 3, func(_ context.Context, lo, hi int) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, [2]int{lo, hi})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	sort.Slice(got, func(i, j int) bool { return got[i][0] < got[j][0] })
	want := [][2]int{{0, 10}, {10, 20}, {20, 30}, {30, 40}, {40, 45}}
	if len(got) != len(want) {
		t.Fatalf("batches = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("batch %d = %v, want %v", i, got[i], want[i])
		}
	}
	// The last batch is due at 40/300 s.
	if elapsed < 130*time.Millisecond {
		t.Errorf("45 entries at 300/s took %v, want at least 133ms (paced)", elapsed)
	}
}

func TestPaceStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	var mu sync.Mutex
	calls := 0
	err := pace(context.Background(), 100, 1000, 1, func(_ context.Context, lo, _ int) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if lo == 20 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || calls != 3 {
		t.Errorf("pace = %v after %d calls, want boom after 3", err, calls)
	}
}

func TestLoadStopsOnAccessDenied(t *testing.T) {
	f := newFixture(t)
	f.table(primary)
	fake := newFakeAWS(t, func(r recorded, w http.ResponseWriter) {
		awsError(w, 400, "AccessDeniedException", "not authorized to perform events:PutEvents")
	})
	f.env.Endpoints[eventbridge.ServiceID] = fake.URL
	r := f.run("", "load", "--endpoint-id", "abcde.veo", "--rate", "50", "--duration", "1s").want(t, ExitFailure)
	if !contains(r.stderr, "AccessDeniedException", "IAM permissions") {
		t.Errorf("stderr = %q", r.stderr)
	}
	if n := len(fake.calls()); n == 0 || n > 4 {
		t.Errorf("%d PutEvents calls after AccessDenied, want at least 1, then the publishing to stop (at most the calls in flight)", n)
	}
	for _, c := range fake.calls() {
		if authAlgorithm(c.Auth) != "AWS4-ECDSA-P256-SHA256" {
			t.Errorf("load through the endpoint signed with %q, want SigV4a", authAlgorithm(c.Auth))
		}
	}
}
