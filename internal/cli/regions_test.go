package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/gen"
	"github.com/tap-trading/tap/internal/local"
)

// TestLocalRegionsCommands drives `tapctl local --regions` as a newcomer
// would: send through the global endpoint, read the order and the DLQ in
// each region (the primary by default), cut the primary and read the
// secondary, heal, and stop. Every command succeeds or says what to do.
func TestLocalRegionsCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts two local AWS servers")
	}
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdin, typed := io.Pipe()
	defer typed.Close()
	done := make(chan result, 1)
	var live syncBuffer
	go func() {
		done <- f.runReader(ctx, stdin, &live, "local", "--regions", "us-east-1,us-west-2", "--concurrency", "2")
	}()
	stop := func() result {
		cancel()
		select {
		case r := <-done:
			return r
		case <-time.After(60 * time.Second):
			t.Fatal("tapctl local --regions did not stop within 60s of cancellation")
		}
		return result{}
	}

	var st local.State
	for deadline := time.Now().Add(120 * time.Second); ; {
		s, err := local.ReadState(f.vars["TAPCTL_STATE"])
		if err == nil && len(s.Regions) == 2 {
			st = s
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two-region state file after 120s (%v): %+v", err, stop())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st.Regions[0].Region != "us-east-1" || st.Regions[1].Region != "us-west-2" || st.Regions[0].ProcessingDLQURL == "" {
		t.Fatalf("state regions = %+v, want us-east-1 then us-west-2 with their queues", st.Regions)
	}

	// until runs args until the exit code is want, or fails after 60 s.
	until := func(want int, args ...string) result {
		t.Helper()
		var r result
		for deadline := time.Now().Add(60 * time.Second); ; {
			if r = f.run("", args...); r.code == want {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("tapctl %v: exit %d within 60s, want %d\nstdout:\n%s\nstderr:\n%s", args, r.code, want, r.stdout, r.stderr)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// The banner's commands run as printed: every tapctl line, and the AWS
	// CLI's where the CLI is installed (its entries file is the one the
	// printed `tapctl send` sends, so it is checked to exist either way).
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(live.String(), "Ctrl-C stops both regions."); {
		if time.Now().After(deadline) {
			t.Fatalf("no banner within 30s:\n%s", live.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var printed [][]string
	var awsLine string
	for _, line := range strings.Split(live.String(), "\n") {
		if strings.HasPrefix(line, "  tapctl ") {
			printed = append(printed, strings.Fields(line)[1:])
		}
		if strings.Contains(line, "aws events put-events") {
			file := line[strings.Index(line, "file://")+len("file://"):]
			if _, err := os.Stat(file); err != nil {
				t.Errorf("the banner's AWS CLI line names %s: %v", file, err)
			}
			awsLine = strings.TrimSpace(line)
		}
	}
	if !strings.Contains(live.String(), "-processor.log (appended): the processors' logs, and the errors a cut region causes") {
		t.Errorf("the banner does not name the log the raw lines go to:\n%s", live.String())
	}
	if len(printed) != 4 {
		t.Fatalf("banner has %d tapctl lines, want 4:\n%s", len(printed), live.String())
	}
	for _, args := range printed {
		until(ExitOK, args...)
	}
	if awsLine == "" {
		t.Errorf("the banner has no AWS CLI line:\n%s", live.String())
	} else if _, err := exec.LookPath("aws"); err != nil {
		t.Logf("the AWS CLI is not installed: its banner line was not run")
	} else {
		out, err := exec.Command("sh", "-c", awsLine).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"FailedEntryCount": 0`) {
			t.Errorf("the banner's AWS CLI line %q: %v\n%s", awsLine, err, out)
		}
	}

	// The one-region example names the one-region bus: refused at once,
	// naming the bus to use, rather than retried until --timeout.
	r := f.run("", "send", "--local", "--file", "../../examples/put-events.json")
	if r.code != ExitUsage || !contains(r.stderr, "names bus tap-local-trading", "bus is "+st.Regions[0].Bus, "leave it out") {
		t.Errorf("send --local of the one-region example: exit %d stderr %q, want a usage error naming both buses", r.code, r.stderr)
	}

	l := gen.Lifecycles(11, 1, gen.Options{Start: time.Now().Add(-time.Minute)})[0]
	good, bad := l.Events[0], l.Events[0]
	bad.EventID, bad.Side = "99999999-9999-4999-8999-999999999991", "HOLD"
	f.run(string(event.EncodeDetail(&good))+"\n"+string(event.EncodeDetail(&bad))+"\n", "send", "--local").want(t, ExitOK)

	// Reads go to the primary by default and to the region named.
	for _, region := range []string{"", "us-west-2"} {
		args := []string{"order", "get", good.OrderID, "--local", "-o", "json"}
		if region != "" {
			args = append(args, "--region", region)
		}
		var v orderView
		until(ExitOK, args...).decode(t, &v)
		if v.LastEventID != good.EventID {
			t.Errorf("order get in %q: last event %s, want %s", region, v.LastEventID, good.EventID)
		}
		dlqArgs := []string{"dlq", "list", "--queue", "processing", "--local", "-o", "json"}
		if region != "" {
			dlqArgs = append(dlqArgs, "--region", region)
		}
		for deadline := time.Now().Add(60 * time.Second); ; {
			var listing dlqListing
			f.run("", dlqArgs...).want(t, ExitOK).decode(t, &listing)
			if len(listing.Records) == 1 && listing.Records[0].EventID == bad.EventID {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("dlq list in %q: %+v, want the invalid event", region, listing.Records)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	r = f.run("", "order", "get", good.OrderID, "--local", "--region", "eu-west-1")
	if r.code != ExitUsage || !contains(r.stderr, "runs [us-east-1 us-west-2], not eu-west-1", "--region") {
		t.Errorf("order get in a region the pipeline does not run: exit %d stderr %q, want a usage error naming both", r.code, r.stderr)
	}

	// A cut primary refuses, and says what to do; the secondary still reads.
	fmt.Fprintln(typed, "cut us-east-1")
	r = until(ExitFailure, "order", "get", good.OrderID, "--local")
	if !contains(r.stderr, "heal REGION", "--region") {
		t.Errorf("order get from the cut primary says %q, want what to do", r.stderr)
	}
	until(ExitOK, "order", "get", good.OrderID, "--local", "--region", "us-west-2")
	// The cut region's pollers fail: their raw lines go to the log.
	logPath := strings.TrimSuffix(f.vars["TAPCTL_STATE"], filepath.Ext(f.vars["TAPCTL_STATE"])) + "-processor.log"
	for deadline := time.Now().Add(60 * time.Second); ; {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), "survived us-east-1: ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no survived error of the cut region in %s after 60s", logPath)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// While the primary is cut: send rides through the failover, and the
	// secondary's dead letters still list.
	next := l.Events[1]
	r = f.run(string(event.EncodeDetail(&next))+"\n", "send", "--local")
	if r.code != ExitOK || !contains(r.stdout+r.stderr, "1 of 1") {
		t.Errorf("send during the cut: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	f.run("", "dlq", "list", "--queue", "processing", "--local", "--region", "us-west-2").want(t, ExitOK)
	fmt.Fprintln(typed, "status")
	fmt.Fprintln(typed, "heal us-east-1")
	until(ExitOK, "order", "get", good.OrderID, "--local")

	// A region cut with hang never answers: a read gives up in bounded time
	// and says what to do.
	fmt.Fprintln(typed, "cut us-east-1 hang")
	r = until(ExitFailure, "order", "get", good.OrderID, "--local")
	if !contains(r.stderr, "cut REGION hang", "heal REGION", "--region") {
		t.Errorf("order get from the primary cut with hang says %q, want what to do", r.stderr)
	}
	fmt.Fprintln(typed, "heal us-east-1")
	until(ExitOK, "order", "get", next.OrderID, "--local")

	r = stop()
	r.want(t, ExitOK)
	if !contains(r.stderr, "stopping", "stopped: both regions") {
		t.Errorf("stderr lacks the stop:\n%s", r.stderr)
	}
	// On the terminal the cut is summed up, one line per change with the
	// count by region; the raw errors are not streamed.
	var cutLine, statusLine, summed bool
	for _, line := range strings.Split(r.stdout, "\n") {
		cutLine = cutLine || strings.Contains(line, "[cut refuse]")
		summed = summed || strings.Contains(line, "survived since the last line: ") && strings.Contains(line, "us-east-1 ")
		statusLine = statusLine || strings.Contains(line, "errors survived: ") && strings.Contains(line, "us-east-1 ")
	}
	if !cutLine || !summed || !statusLine {
		t.Errorf("stdout: a cut line %v, a line summing the cut region's errors %v, status with the totals %v, want all:\n%s", cutLine, summed, statusLine, r.stdout)
	}
	if out := r.stdout + live.String(); contains(out, "connection reset") || contains(out, "connection refused") || contains(out, "exceeded maximum number of attempts") {
		t.Errorf("raw errors of the cut region reached the terminal:\n%s", out)
	}
}
