// Package lambdaruntime is a loopback implementation of the AWS Lambda Runtime
// API (version 2018-06-01): the HTTP interface a custom runtime such as the
// processor's `bootstrap`, or a Node.js runtime loop, polls for events and posts
// results to. Tests use it to prove the artifact the CDK app ships really starts
// and answers the Lambda way; the benchmark harness uses it to drive the Go
// processor and the Node peer identically.
//
// One Server may serve several runtime processes at once, as Lambda serves
// several execution environments: each GET .../next takes the next queued event.
package lambdaruntime

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// APIVersion is the Runtime API version every path starts with.
const APIVersion = "2018-06-01"

// MaxResponseBytes is Lambda's synchronous response payload limit (6 MB);
// larger responses are refused with 413 like the service does.
const MaxResponseBytes = 6 * 1024 * 1024

// Headers of the Runtime API.
const (
	HeaderRequestID   = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMs  = "Lambda-Runtime-Deadline-Ms"
	HeaderFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID     = "Lambda-Runtime-Trace-Id"
	HeaderErrorType   = "Lambda-Runtime-Function-Error-Type"
)

// ErrorTypeResponseTooLarge is the error type recorded when a runtime posts a
// response over MaxResponseBytes.
const ErrorTypeResponseTooLarge = "Function.ResponseSizeTooLarge"

// ErrInitFailed is returned by Invoke when a runtime reported an init error
// (POST /runtime/init/error) before any runtime fetched the event.
var ErrInitFailed = errors.New("lambdaruntime: runtime reported an init error")

// ErrClosed is returned by Invoke once the server is closed.
var ErrClosed = errors.New("lambdaruntime: server closed")

// Result is the outcome of one invocation.
type Result struct {
	// RequestID is the Lambda-Runtime-Aws-Request-Id the runtime saw.
	RequestID string
	// Response is the body posted to /response; nil when the invocation failed.
	Response []byte
	// ErrorType is the function error type: the Lambda-Runtime-Function-Error-Type
	// header, or the body's errorType when the runtime sent no header (the Go
	// runtime, aws-lambda-go, sends only the body). Empty on success.
	ErrorType string
	// ErrorMessage is the body's errorMessage.
	ErrorMessage string
	// ErrorBody is the raw body posted to /error.
	ErrorBody []byte
	// Queued is when Invoke queued the event, Fetched when a runtime received it
	// from /next, Completed when the runtime posted its response or error.
	Queued, Fetched, Completed time.Time
}

// Failed reports whether the runtime posted an error for the invocation.
func (r Result) Failed() bool { return r.ErrorType != "" || r.ErrorMessage != "" || r.ErrorBody != nil }

// Duration is the time from fetch to completion: what Lambda bills.
func (r Result) Duration() time.Duration { return r.Completed.Sub(r.Fetched) }

// Latency is the time from queueing to completion: what a caller waits.
func (r Result) Latency() time.Duration { return r.Completed.Sub(r.Queued) }

// InitError is what a runtime posted to /runtime/init/error.
type InitError struct {
	ErrorType    string
	ErrorMessage string
	Body         []byte
	At           time.Time
}

// errorBody is the JSON body runtimes post to the /error endpoints.
type errorBody struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

type invocation struct {
	payload  []byte
	done     chan struct{}
	result   Result
	deadline time.Time
	traceID  string
}

// Server is a running loopback Runtime API.
type Server struct {
	// FunctionName and Region build the Lambda-Runtime-Invoked-Function-Arn
	// header. Defaults: "function", "us-east-1". Set before the first Invoke.
	FunctionName, Region string
	// Timeout sets Lambda-Runtime-Deadline-Ms (fetch time + Timeout), the
	// function's configured timeout. Default 30 s. Set before the first Invoke.
	Timeout time.Duration
	// Sampled sets Sampled=1 in the trace header; false by default, as for most
	// invocations of a busy function under X-Ray's default sampling rule.
	Sampled bool

	ln      net.Listener
	srv     *http.Server
	pending chan *invocation // unbuffered: an event is handed to exactly one /next
	closed  chan struct{}
	close   sync.Once
	served  chan struct{}

	waiting atomic.Int64 // runtimes blocked in GET /next

	mu       sync.Mutex
	active   map[string]*invocation // fetched, not yet completed
	initErr  *InitError
	initDone chan struct{} // closed on the first init error
}

// Start serves the Runtime API on a free loopback port.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdaruntime: listen: %w", err)
	}
	s := &Server{
		FunctionName: "function",
		Region:       "us-east-1",
		Timeout:      30 * time.Second,
		ln:           ln,
		pending:      make(chan *invocation),
		closed:       make(chan struct{}),
		served:       make(chan struct{}),
		active:       make(map[string]*invocation),
		initDone:     make(chan struct{}),
	}
	base := "/" + APIVersion + "/runtime"
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+base+"/invocation/next", s.next)
	mux.HandleFunc("POST "+base+"/invocation/{id}/response", s.response)
	mux.HandleFunc("POST "+base+"/invocation/{id}/error", s.invocationError)
	mux.HandleFunc("POST "+base+"/init/error", s.initError)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr is host:port, the value of AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Invoke hands payload to the next runtime that polls /next and waits until
// that runtime posts a response or an error. A function error is a Result with
// ErrorType set, not an error: err is non-nil only when the invocation did not
// complete (ctx done, server closed, or an init error before any runtime took
// the event). If a runtime dies after fetching the event, only ctx ends the wait.
func (s *Server) Invoke(ctx context.Context, payload []byte) (Result, error) {
	inv := &invocation{payload: payload, done: make(chan struct{})}
	inv.result.Queued = time.Now()
	select {
	case s.pending <- inv:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-s.closed:
		return Result{}, ErrClosed
	case <-s.initDone:
		ie := s.InitError()
		return Result{}, fmt.Errorf("%w: %s: %s", ErrInitFailed, ie.ErrorType, ie.ErrorMessage)
	}
	select {
	case <-inv.done:
		return inv.result, nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-s.closed:
		return Result{}, ErrClosed
	}
}

// Waiting is the number of runtimes blocked in GET /next: a runtime that
// finished init and is ready for an event. Callers wait for it to reach the
// number of processes they started before timing invocations, and for 0 after
// killing processes, so no event is handed to a connection that is going away.
func (s *Server) Waiting() int { return int(s.waiting.Load()) }

// InitError returns the first init error a runtime reported, or nil.
func (s *Server) InitError() *InitError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.initErr == nil {
		return nil
	}
	ie := *s.initErr
	return &ie
}

// InitErrored is closed when a runtime reports an init error.
func (s *Server) InitErrored() <-chan struct{} { return s.initDone }

// Close stops the server; pending Invokes return ErrClosed and runtimes
// blocked in /next get 503 (a runtime treats a failed /next as fatal and exits).
func (s *Server) Close() error {
	s.close.Do(func() { close(s.closed) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.served
	return err
}

func (s *Server) functionARN() string {
	return fmt.Sprintf("arn:aws:lambda:%s:123456789012:function:%s", s.Region, s.FunctionName)
}

// traceID builds an X-Ray trace header with a random root and parent.
func (s *Server) traceID(now time.Time) string {
	id := uuid.New()
	parent := uuid.New()
	sampled := 0
	if s.Sampled {
		sampled = 1
	}
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=%d",
		now.Unix(), hex.EncodeToString(id[:12]), hex.EncodeToString(parent[:8]), sampled)
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	var inv *invocation
	s.waiting.Add(1)
	select {
	case inv = <-s.pending:
		s.waiting.Add(-1)
	case <-r.Context().Done():
		s.waiting.Add(-1)
		return
	case <-s.closed:
		s.waiting.Add(-1)
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	now := time.Now()
	id := uuid.NewString()
	inv.result.RequestID = id
	inv.result.Fetched = now
	inv.deadline = now.Add(s.Timeout)
	inv.traceID = s.traceID(now)
	s.mu.Lock()
	s.active[id] = inv
	s.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(HeaderRequestID, id)
	h.Set(HeaderDeadlineMs, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set(HeaderFunctionARN, s.functionARN())
	h.Set(HeaderTraceID, inv.traceID)
	h.Set("Content-Length", strconv.Itoa(len(inv.payload)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// take removes the active invocation id, or answers 400 if there is none
// (unknown id, or already completed: Lambda accepts one result per request).
func (s *Server) take(w http.ResponseWriter, r *http.Request) *invocation {
	id := r.PathValue("id")
	s.mu.Lock()
	inv, ok := s.active[id]
	delete(s.active, id)
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusBadRequest, errorBody{
			ErrorType:    "InvalidRequestID",
			ErrorMessage: fmt.Sprintf("no invocation %q in progress", id),
		})
		return nil
	}
	return inv
}

func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	inv := s.take(w, r)
	if inv == nil {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxResponseBytes+1))
	now := time.Now()
	switch {
	case err != nil:
		inv.result.ErrorType = "Runtime.ResponseReadError"
		inv.result.ErrorMessage = err.Error()
	case len(body) > MaxResponseBytes:
		inv.result.ErrorType = ErrorTypeResponseTooLarge
		inv.result.ErrorMessage = fmt.Sprintf("response payload over %d bytes", MaxResponseBytes)
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{ErrorType: ErrorTypeResponseTooLarge, ErrorMessage: inv.result.ErrorMessage})
	default:
		inv.result.Response = body
	}
	inv.result.Completed = now
	close(inv.done)
	if err == nil && len(body) <= MaxResponseBytes {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "OK"})
	}
}

func (s *Server) invocationError(w http.ResponseWriter, r *http.Request) {
	inv := s.take(w, r)
	if inv == nil {
		return
	}
	typ, msg, body := readError(r)
	inv.result.ErrorType, inv.result.ErrorMessage, inv.result.ErrorBody = typ, msg, body
	inv.result.Completed = time.Now()
	close(inv.done)
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "OK"})
}

func (s *Server) initError(w http.ResponseWriter, r *http.Request) {
	typ, msg, body := readError(r)
	s.mu.Lock()
	if s.initErr == nil {
		s.initErr = &InitError{ErrorType: typ, ErrorMessage: msg, Body: body, At: time.Now()}
		close(s.initDone)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "OK"})
}

// readError reads an /error body: the type from the header (or, failing that,
// the body), the message from the body. A body that is not JSON is kept raw.
func readError(r *http.Request) (typ, msg string, body []byte) {
	body, _ = io.ReadAll(io.LimitReader(r.Body, MaxResponseBytes))
	if body == nil {
		body = []byte{}
	}
	var eb errorBody
	_ = json.Unmarshal(body, &eb)
	typ = r.Header.Get(HeaderErrorType)
	if typ == "" {
		typ = eb.ErrorType
	}
	if typ == "" {
		typ = "Unhandled"
	}
	return typ, eb.ErrorMessage, body
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
