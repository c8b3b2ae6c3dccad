// Package motoserver starts and stops moto in server mode (`moto_server`), the
// local AWS of DESIGN §8, on a free loopback port. Tests and `tapctl local` use
// it; everything talks to it over HTTP with the real AWS SDK for Go.
package motoserver

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Binary is the moto server executable looked up on PATH.
const Binary = "moto_server"

// ErrNotInstalled is returned when moto_server is not on PATH.
var ErrNotInstalled = errors.New("moto_server not found on PATH: install it with `pip install 'moto[server]==5.2.1'` (README.md, section Quick start, lists what TAP needs)")

// Server is a running moto server owned by this process.
//
// Clients reach moto through a loopback proxy that runs DynamoDB requests one
// at a time. moto serves requests on threads without locking its tables, so
// two concurrent conditional writes to one item can both pass their condition
// — which real DynamoDB, whose conditional writes are atomic per item, never
// allows; that would break exactly the invariants (I1) the tests prove. Other
// services pass through concurrently, so SQS long polls don't block anything.
type Server struct {
	// Endpoint is the base URL clients use, e.g. http://127.0.0.1:41234.
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
	moto     string // moto's own URL, behind the proxy
	proxy    *http.Server

	callsMu sync.Mutex
	calls   map[string]CallStats
}

// CallStats are the requests of one operation the server answered, and
// the time they took through the proxy (for DynamoDB, with the wait for
// its turn).
type CallStats struct {
	Count int64
	Busy  time.Duration
}

// Calls returns the requests answered so far by operation: X-Amz-Target's
// "Service.Operation" (every JSON-protocol AWS API the project uses), else
// the method and path.
func (s *Server) Calls() map[string]CallStats {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	return maps.Clone(s.calls)
}

func (s *Server) count(op string, took time.Duration) {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	c := s.calls[op]
	c.Count++
	c.Busy += took
	s.calls[op] = c
}

// Start runs moto_server on a free loopback port and waits until it answers.
// logPath, if not empty, receives the server's output; otherwise it is discarded.
func Start(ctx context.Context, logPath string) (*Server, error) {
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, ErrNotInstalled
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("motoserver: find a free port: %w", err)
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	// Own process group, so Stop also ends anything moto spawned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, fmt.Errorf("motoserver: log file: %w", err)
		}
		// The child has its own copy once started; ours is not needed after.
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	shimDir, err := writeShim()
	if err != nil {
		return nil, err
	}
	// moto_server is a Python program: unbuffered output keeps its log
	// current, and the shim's directory leads its module path (see shim).
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "PYTHONPATH="+pythonPath(shimDir, os.Getenv("PYTHONPATH")))
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(shimDir)
		return nil, fmt.Errorf("motoserver: start %s: %w", bin, err)
	}
	s := &Server{moto: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{}), calls: map[string]CallStats{}}
	go func() { _ = cmd.Wait(); _ = os.RemoveAll(shimDir); close(s.done) }()
	if err := s.waitReady(ctx, 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.startProxy(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// startProxy serves Endpoint, forwarding to moto and serializing DynamoDB
// requests (see Server).
func (s *Server) startProxy() error {
	target, _ := url.Parse(s.moto)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// A client that gave up (a cancelled SQS long poll) is not an error.
		if r.Context().Err() == nil {
			http.Error(w, "motoserver proxy: "+err.Error(), http.StatusBadGateway)
		}
	}
	var dynamo sync.Mutex
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := r.Header.Get("X-Amz-Target")
		if op == "" {
			op = r.Method + " " + r.URL.Path
		}
		defer func(start time.Time) { s.count(op, time.Since(start)) }(time.Now())
		if strings.HasPrefix(op, "DynamoDB_") {
			dynamo.Lock()
			defer dynamo.Unlock()
		}
		rp.ServeHTTP(w, r)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("motoserver: proxy listen: %w", err)
	}
	s.proxy = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	s.Endpoint = "http://" + l.Addr().String()
	go func() { _ = s.proxy.Serve(l) }()
	return nil
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("motoserver: %s exited before it was ready", Binary)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get(s.moto + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("motoserver: not ready at %s after %s", s.Endpoint, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Reset drops every resource in the server (moto's reset API), so tests can
// share one server without seeing each other's tables and queues.
func Reset(endpoint string) error {
	resp, err := http.Post(endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return fmt.Errorf("motoserver: reset: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("motoserver: reset: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Stop terminates the server and its process group and waits for it to exit.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	if s.proxy != nil {
		_ = s.proxy.Close()
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
	}
}

// shim is a sitecustomize module that Python imports at start-up from the
// first directory of PYTHONPATH holding one. It stops moto 5.2.1 from
// redoing, on every request, work whose result cannot change (parsing the
// same JSONPath and UpdateExpression, finding the same host's service,
// sorting the table for one partition's Query; see the file), which was
// most of the local AWS's CPU per event (DESIGN §8.1, the twin's
// capacity); moto's answers are unchanged.
//
//go:embed shim/sitecustomize.py
var shim []byte

// writeShim writes the shim into a fresh directory, removed when the
// server exits.
func writeShim() (string, error) {
	dir, err := os.MkdirTemp("", "tap-moto-shim-")
	if err != nil {
		return "", fmt.Errorf("motoserver: shim directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sitecustomize.py"), shim, 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("motoserver: write the shim: %w", err)
	}
	return dir, nil
}

// pythonPath puts dir ahead of an existing PYTHONPATH. An installation's
// own sitecustomize further on is shadowed; moto's Python has none
// (assumed for others: the shim only memoizes, so moto works either way).
func pythonPath(dir, existing string) string {
	if existing == "" {
		return dir
	}
	return dir + string(os.PathListSeparator) + existing
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Runner is what a test binary's TestMain is given: *testing.M.
type Runner interface{ Run() int }

// RunTests is the TestMain of a package whose tests share one moto server:
// it starts the server, sets *endpoint to its URL, runs the tests and stops
// the server. It returns the exit code for os.Exit; a moto_server that is
// missing or does not start fails the package, saying why, under name.
func RunTests(m Runner, name string, endpoint *string) int {
	srv, err := Start(context.Background(), "")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s tests: %v\n", name, err)
		return 1
	}
	defer srv.Stop()
	*endpoint = srv.Endpoint
	return m.Run()
}

// CPUTime is the CPU time moto's process has used so far (user + system,
// from /proc/PID/stat on Linux; 0 where that cannot be read). moto is one
// Python process whose request threads share one interpreter lock, so
// about one second of CPU per second of wall time is its ceiling.
func (s *Server) CPUTime() time.Duration {
	if s == nil || s.cmd.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14 and stime 15 (proc(5)).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	// Clock ticks of USER_HZ, 100 on Linux's supported architectures
	// (assumed: Go reads no sysconf(_SC_CLK_TCK) without cgo).
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
