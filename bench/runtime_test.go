package bench

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/lambdaruntime"
)

// handlerJS is a tiny CommonJS Lambda handler for driving peer-runtime.mjs.
const handlerJS = `exports.handler = async (event, context) => {
  if (event.fail) { const e = new Error('bad ' + event.fail); e.name = 'ValidationError'; throw e; }
  return { echo: event.say, id: context.awsRequestId, trace: process.env._X_AMZN_TRACE_ID,
           remaining: context.getRemainingTimeInMillis() > 0 };
};
exports.notAFunction = 42;
`

// nodeRuntime writes the loop script and handlerJS to a temp dir and returns
// a Runtime running them with the given _HANDLER.
func nodeRuntime(t *testing.T, handler string) Runtime {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required by the benchmark harness (make setup installs it): %v", err)
	}
	dir := t.TempDir()
	for name, body := range map[string][]byte{"peer-runtime.mjs": peerRuntime, "index.js": []byte(handlerJS)} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Runtime{Name: "node-test", Path: node, Args: []string{filepath.Join(dir, "peer-runtime.mjs")},
		Dir: dir, Handler: handler, MemoryMB: 128, FunctionName: "node-test"}
}

func startRuntime(t *testing.T, rt Runtime) (*lambdaruntime.Server, *proc) {
	t.Helper()
	srv, err := lambdaruntime.Start()
	if err != nil {
		t.Fatal(err)
	}
	p, err := rt.start(srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(); _ = srv.Close() })
	return srv, p
}

func invokeOK(t *testing.T, srv *lambdaruntime.Server, payload string) lambdaruntime.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := srv.Invoke(ctx, []byte(payload))
	if err != nil {
		t.Fatalf("Invoke(%s) error = %v", payload, err)
	}
	return res
}

func TestPeerRuntimeLoop(t *testing.T) {
	srv, _ := startRuntime(t, nodeRuntime(t, "index.handler"))

	res := invokeOK(t, srv, `{"say":"hi"}`)
	var got struct {
		Echo, ID, Trace string
		Remaining       bool
	}
	if err := json.Unmarshal(res.Response, &got); err != nil || res.Failed() {
		t.Fatalf("response %s (error %s: %s): %v", res.Response, res.ErrorType, res.ErrorMessage, err)
	}
	if got.Echo != "hi" || got.ID != res.RequestID || !strings.HasPrefix(got.Trace, "Root=1-") || !got.Remaining {
		t.Errorf("handler saw %+v, want echo hi, id %s, the trace header in _X_AMZN_TRACE_ID, time remaining", got, res.RequestID)
	}

	res = invokeOK(t, srv, `{"fail":"qty"}`)
	if res.ErrorType != "ValidationError" || res.ErrorMessage != "bad qty" {
		t.Errorf("thrown error reported as %q %q, want ValidationError, bad qty", res.ErrorType, res.ErrorMessage)
	}
	if res := invokeOK(t, srv, `{"say":"again"}`); res.Failed() || !strings.Contains(string(res.Response), `"echo":"again"`) {
		t.Errorf("invoke after a handler error = %s %s, want a response", res.Response, res.ErrorMessage)
	}
}

func TestPeerRuntimeInitError(t *testing.T) {
	tests := []struct {
		handler  string
		wantType string
	}{
		{"missing.handler", "Runtime.Error"},
		{"index.notAFunction", "Runtime.HandlerNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.handler, func(t *testing.T) {
			srv, p := startRuntime(t, nodeRuntime(t, tt.handler))
			select {
			case <-srv.InitErrored():
			case <-time.After(20 * time.Second):
				t.Fatalf("no init error reported for _HANDLER=%s", tt.handler)
			}
			if ie := srv.InitError(); ie.ErrorType != tt.wantType {
				t.Errorf("init error type = %q (%s), want %q", ie.ErrorType, ie.ErrorMessage, tt.wantType)
			}
			select {
			case <-p.exited:
				if p.waitErr == nil {
					t.Errorf("runtime exited 0 after an init error, want non-zero")
				}
			case <-time.After(10 * time.Second):
				t.Errorf("runtime still running after an init error")
			}
		})
	}
}

func TestMeasurePhases(t *testing.T) {
	rt := nodeRuntime(t, "index.handler")
	events := make([][]byte, 20)
	for i := range events {
		events[i] = []byte(`{"say":"x"}`)
	}
	cur := NewCursor(events)
	ctx := context.Background()

	cs, err := MeasureColdStarts(ctx, rt, cur, 2, t.Logf)
	if err != nil {
		t.Fatalf("MeasureColdStarts() error = %v", err)
	}
	if len(cs.Total) != 2 || len(cs.Init) != 2 || cs.PeakRSS <= 0 {
		t.Errorf("cold starts = %+v, want 2 totals, 2 inits, a peak RSS", cs)
	}
	for i := range cs.Total {
		if cs.Init[i] <= 0 || cs.Total[i] < cs.Init[i] {
			t.Errorf("cold start %d: init %s, total %s: want 0 < init ≤ total", i, cs.Init[i], cs.Total[i])
		}
	}

	ph, err := MeasurePhase(ctx, rt, cur, 2, 4, 12, t.Logf)
	if err != nil {
		t.Fatalf("MeasurePhase() error = %v", err)
	}
	if ph.Events != 12 || len(ph.Latencies) != 12 || len(ph.Durations) != 12 || ph.Wall <= 0 || ph.PeakRSS <= 0 {
		t.Errorf("phase = events %d, %d latencies, %d durations, wall %s, rss %d; want 12, 12, 12, > 0, > 0",
			ph.Events, len(ph.Latencies), len(ph.Durations), ph.Wall, ph.PeakRSS)
	}
	if got, want := cur.Used(), 2+4+12; got != want {
		t.Errorf("events used = %d, want %d", got, want)
	}
	if _, err := MeasurePhase(ctx, rt, cur, 1, 0, 3, t.Logf); err == nil {
		t.Errorf("MeasurePhase() past the end of the events: no error, want exhausted")
	}
}

func TestMeasureFailsOnFunctionError(t *testing.T) {
	rt := nodeRuntime(t, "index.handler")
	cur := NewCursor([][]byte{[]byte(`{"say":"ok"}`), []byte(`{"fail":"qty"}`), []byte(`{"say":"ok"}`)})
	_, err := MeasurePhase(context.Background(), rt, cur, 1, 0, 3, t.Logf)
	if err == nil || !strings.Contains(err.Error(), "event 1 failed: ValidationError: bad qty") {
		t.Errorf("MeasurePhase() error = %v, want event 1's ValidationError", err)
	}
}

func TestMeasureFailsWhenRuntimeDies(t *testing.T) {
	rt := nodeRuntime(t, "index.handler")
	rt.Args = []string{"-e", "process.exit(7)"}
	_, err := MeasureColdStarts(context.Background(), rt, NewCursor([][]byte{[]byte(`{}`)}), 1, t.Logf)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 7 {
		t.Errorf("MeasureColdStarts() error = %v, want the runtime's exit status 7", err)
	}
}
