package lambdaruntime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fnBinary is the testdata/fn Lambda function, built once by TestMain with
// aws-lambda-go, the way the processor's bootstrap is built.
var fnBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambdaruntime-fn")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fnBinary = filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", fnBinary, "./testdata/fn")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build testdata/fn: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func startServer(t *testing.T) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// runtimeProc is a running fn process; exited is closed when it ends.
type runtimeProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's result, valid after exited is closed
	stderr bytes.Buffer
}

func runFn(t *testing.T, s *Server, mode string) *runtimeProc {
	t.Helper()
	p := &runtimeProc{exited: make(chan struct{})}
	p.cmd = exec.Command(fnBinary)
	p.cmd.Env = append(s.Env("test-fn", "bootstrap", 128), "FN_MODE="+mode)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start fn: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

func invoke(t *testing.T, s *Server, payload string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := s.Invoke(ctx, []byte(payload))
	if err != nil {
		t.Fatalf("Invoke(%s) error = %v", payload, err)
	}
	return res
}

func TestInvokeRunsGoFunction(t *testing.T) {
	s := startServer(t)
	runFn(t, s, "")
	// Two invocations: the second proves the runtime loop survives in a warm environment.
	for _, say := range []string{"hello", "again"} {
		res := invoke(t, s, fmt.Sprintf(`{"say":%q}`, say))
		if res.Failed() {
			t.Fatalf("Invoke(%q) failed: %s: %s", say, res.ErrorType, res.ErrorMessage)
		}
		var got struct {
			Echo, RequestID, Function string
			Deadline                  bool
		}
		if err := json.Unmarshal(res.Response, &got); err != nil {
			t.Fatalf("response %s: %v", res.Response, err)
		}
		if got.Echo != say || got.RequestID != res.RequestID || got.Function != "test-fn" || !got.Deadline {
			t.Errorf("response = %+v, want echo %q, requestId %q, function test-fn, a deadline", got, say, res.RequestID)
		}
		if res.Fetched.Before(res.Queued) || res.Completed.Before(res.Fetched) {
			t.Errorf("timestamps queued %v, fetched %v, completed %v: want non-decreasing", res.Queued, res.Fetched, res.Completed)
		}
	}
}

func TestInvokeReportsFunctionErrors(t *testing.T) {
	s := startServer(t)
	p := runFn(t, s, "")

	res := invoke(t, s, `{"fail":"bad qty"}`)
	if res.ErrorType != "rejectedError" || res.ErrorMessage != "rejected: bad qty" || res.Response != nil {
		t.Errorf("error result = type %q message %q response %q, want rejectedError, %q, none",
			res.ErrorType, res.ErrorMessage, res.Response, "rejected: bad qty")
	}
	// A returned error leaves the environment warm.
	if res := invoke(t, s, `{"say":"still here"}`); res.Failed() {
		t.Errorf("invoke after a function error failed: %s", res.ErrorMessage)
	}

	// A panic is reported through /error, then the runtime exits, as in Lambda.
	res = invoke(t, s, `{"panic":true}`)
	if res.ErrorType != "string" || res.ErrorMessage != "told to panic" {
		t.Errorf("panic result = type %q message %q, want string, told to panic", res.ErrorType, res.ErrorMessage)
	}
	select {
	case <-p.exited:
		if p.err == nil {
			t.Errorf("runtime exited cleanly after a panic, want a non-zero exit")
		}
	case <-time.After(10 * time.Second):
		t.Errorf("runtime still running 10s after a panic")
	}
}

func TestInitFailureIsObserved(t *testing.T) {
	for _, mode := range []string{"exit", "panic"} {
		t.Run(mode, func(t *testing.T) {
			s := startServer(t)
			p := runFn(t, s, mode)
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-p.exited:
				case <-time.After(20 * time.Second):
				}
				cancel()
			}()
			_, err := s.Invoke(ctx, []byte(`{"say":"never"}`))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Invoke() error = %v, want context.Canceled once the process exits", err)
			}
			select {
			case <-p.exited:
			default:
				t.Fatalf("Invoke returned while the process still runs")
			}
			if p.err == nil {
				t.Errorf("process exited cleanly, want a non-zero exit; stderr: %s", p.stderr.String())
			}
		})
	}
}

// post is a runtime's POST, for the protocol tests that need no process.
func post(t *testing.T, s *Server, path, errorType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+s.Addr()+"/"+APIVersion+"/runtime/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if errorType != "" {
		req.Header.Set(HeaderErrorType, errorType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// next is a runtime's GET /next.
func next(t *testing.T, s *Server) (string, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr() + "/" + APIVersion + "/runtime/invocation/next")
	if err != nil {
		t.Fatalf("GET next: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET next = %d, want 200", resp.StatusCode)
	}
	return resp.Header.Get(HeaderRequestID), resp.Header, b.Bytes()
}

// invokeAsync runs Invoke in the background; the channel yields its outcome.
func invokeAsync(s *Server, payload string) <-chan error {
	ch := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := s.Invoke(ctx, []byte(payload))
		ch <- err
	}()
	return ch
}

func TestNextHeaders(t *testing.T) {
	s := startServer(t)
	s.FunctionName = "tap-dev-processor"
	done := invokeAsync(s, `{"a":1}`)
	id, h, body := next(t, s)
	if string(body) != `{"a":1}` {
		t.Errorf("next body = %s, want the payload", body)
	}
	deadline := h.Get(HeaderDeadlineMs)
	if id == "" || deadline == "" || !strings.HasPrefix(h.Get(HeaderTraceID), "Root=1-") ||
		h.Get(HeaderFunctionARN) != "arn:aws:lambda:us-east-1:123456789012:function:tap-dev-processor" {
		t.Errorf("next headers = %v, want request id, deadline, trace id and the function ARN", h)
	}
	if code, _ := post(t, s, "invocation/"+id+"/response", "", `{}`); code != http.StatusAccepted {
		t.Errorf("POST response = %d, want 202", code)
	}
	if err := <-done; err != nil {
		t.Errorf("Invoke() error = %v", err)
	}
}

func TestResultProtocol(t *testing.T) {
	tests := []struct {
		name          string
		endpoint      string // "response" or "error"
		errorType     string // header
		body          string
		wantCode      int
		wantErrorType string
		wantMessage   string
		wantResponse  string
	}{
		{name: "response", endpoint: "response", body: `{"ok":true}`, wantCode: 202, wantResponse: `{"ok":true}`},
		{name: "error with header", endpoint: "error", errorType: "Runtime.HandlerError",
			body: `{"errorMessage":"boom","errorType":"TypeError"}`, wantCode: 202, wantErrorType: "Runtime.HandlerError", wantMessage: "boom"},
		{name: "error type from body", endpoint: "error",
			body: `{"errorMessage":"boom","errorType":"TypeError"}`, wantCode: 202, wantErrorType: "TypeError", wantMessage: "boom"},
		{name: "error not JSON", endpoint: "error", body: `oops`, wantCode: 202, wantErrorType: "Unhandled"},
		{name: "response too large", endpoint: "response", body: strings.Repeat("x", MaxResponseBytes+1),
			wantCode: 413, wantErrorType: ErrorTypeResponseTooLarge, wantMessage: "response payload over 6291456 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t)
			type outcome struct {
				res Result
				err error
			}
			ch := make(chan outcome, 1)
			go func() {
				res, err := s.Invoke(context.Background(), []byte(`{}`))
				ch <- outcome{res, err}
			}()
			id, _, _ := next(t, s)
			code, _ := post(t, s, "invocation/"+id+"/"+tt.endpoint, tt.errorType, tt.body)
			if code != tt.wantCode {
				t.Errorf("POST %s = %d, want %d", tt.endpoint, code, tt.wantCode)
			}
			o := <-ch
			if o.err != nil {
				t.Fatalf("Invoke() error = %v", o.err)
			}
			if o.res.ErrorType != tt.wantErrorType || o.res.ErrorMessage != tt.wantMessage || string(o.res.Response) != tt.wantResponse {
				t.Errorf("result = type %q message %q response %.40q, want %q %q %.40q",
					o.res.ErrorType, o.res.ErrorMessage, o.res.Response, tt.wantErrorType, tt.wantMessage, tt.wantResponse)
			}
			if o.res.RequestID != id {
				t.Errorf("result request id = %q, want %q", o.res.RequestID, id)
			}
			// One result per request: a second post is refused.
			if code, _ := post(t, s, "invocation/"+id+"/response", "", `{}`); code != http.StatusBadRequest {
				t.Errorf("second POST = %d, want 400", code)
			}
		})
	}
}

func TestUnknownRequestIDRefused(t *testing.T) {
	s := startServer(t)
	for _, ep := range []string{"response", "error"} {
		if code, body := post(t, s, "invocation/nope/"+ep, "", `{}`); code != http.StatusBadRequest || !strings.Contains(body, "InvalidRequestID") {
			t.Errorf("POST %s for an unknown id = %d %s, want 400 InvalidRequestID", ep, code, body)
		}
	}
}

func TestInitErrorEndpoint(t *testing.T) {
	s := startServer(t)
	pending := invokeAsync(s, `{}`)
	code, _ := post(t, s, "init/error", "Runtime.ImportModuleError", `{"errorMessage":"Cannot find module","errorType":"Error"}`)
	if code != http.StatusAccepted {
		t.Errorf("POST init/error = %d, want 202", code)
	}
	ie := s.InitError()
	if ie == nil || ie.ErrorType != "Runtime.ImportModuleError" || ie.ErrorMessage != "Cannot find module" {
		t.Fatalf("InitError() = %+v, want type Runtime.ImportModuleError, message Cannot find module", ie)
	}
	select {
	case <-s.InitErrored():
	default:
		t.Errorf("InitErrored() not closed after an init error")
	}
	if err := <-pending; !errors.Is(err, ErrInitFailed) {
		t.Errorf("pending Invoke() error = %v, want ErrInitFailed", err)
	}
}

func TestNoInitErrorByDefault(t *testing.T) {
	s := startServer(t)
	if ie := s.InitError(); ie != nil {
		t.Errorf("InitError() = %+v on a fresh server, want nil", ie)
	}
}

func TestConcurrentRuntimesShareOneServer(t *testing.T) {
	s := startServer(t)
	for range 3 {
		runFn(t, s, "")
	}
	const n = 30
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ids := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			say := fmt.Sprintf("event-%d", i)
			res, err := s.Invoke(ctx, []byte(fmt.Sprintf(`{"say":%q}`, say)))
			if err != nil {
				errs <- err
				return
			}
			if !strings.Contains(string(res.Response), `"echo":"`+say+`"`) {
				errs <- fmt.Errorf("Invoke(%s) response = %s, want its own echo", say, res.Response)
			}
			ids <- res.RequestID
		}()
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("request id %s used twice", id)
		}
		seen[id] = true
	}
}

func TestInvokeAfterClose(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	if _, err := s.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke() after Close error = %v, want ErrClosed", err)
	}
}

func TestEnv(t *testing.T) {
	s := startServer(t)
	env := map[string]string{}
	for _, kv := range s.Env("tap-dev-processor", "bootstrap", 256) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	want := map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          s.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME":        "tap-dev-processor",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/tap-dev-processor",
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                "/var/task",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("Env()[%s] = %q, want %q", k, env[k], v)
		}
	}
	if !strings.Contains(env["AWS_LAMBDA_LOG_STREAM_NAME"], "[$LATEST]") {
		t.Errorf("Env()[AWS_LAMBDA_LOG_STREAM_NAME] = %q, want a [$LATEST] stream", env["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
}

func TestWaitingCountsIdleRuntimes(t *testing.T) {
	s := startServer(t)
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for s.Waiting() != want {
			if time.Now().After(deadline) {
				t.Fatalf("Waiting() = %d after 10s, want %d", s.Waiting(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(0)
	p1 := runFn(t, s, "")
	runFn(t, s, "")
	waitFor(2)
	// A fetched event takes its runtime out of the count until it polls again.
	if res := invoke(t, s, `{"say":"x"}`); res.Failed() {
		t.Fatalf("invoke failed: %s", res.ErrorMessage)
	}
	waitFor(2)
	// A killed runtime's parked request ends, so no event is handed to it.
	_ = p1.cmd.Process.Kill()
	<-p1.exited
	waitFor(1)
}
