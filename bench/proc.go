package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tap-trading/tap/internal/lambdaruntime"
)

// clockTick is USER_HZ, the unit of utime/stime in /proc/<pid>/stat: 100 on
// every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// Runtime describes how to start one side's Lambda execution environment.
type Runtime struct {
	// Name labels the side in progress output and the report.
	Name string
	// Path and Args are the process to exec (the bootstrap, or node with the loop script).
	Path string
	Args []string
	// Dir is the working directory and LAMBDA_TASK_ROOT.
	Dir string
	// Handler is _HANDLER; MemoryMB is AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
	Handler  string
	MemoryMB int
	// FunctionName is AWS_LAMBDA_FUNCTION_NAME.
	FunctionName string
	// Env is the function's configuration and the SDK's variables.
	Env []string
}

// proc is one running execution environment.
type proc struct {
	cmd     *exec.Cmd
	started time.Time
	stdout  countWriter
	stderr  tailWriter
	exited  chan struct{}
	waitErr error
}

// start execs rt against srv. The child dies with the harness (Pdeathsig).
func (rt Runtime) start(srv *lambdaruntime.Server) (*proc, error) {
	p := &proc{exited: make(chan struct{})}
	p.cmd = exec.Command(rt.Path, rt.Args...)
	p.cmd.Dir = rt.Dir
	env := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")},
		srv.Env(rt.FunctionName, rt.Handler, rt.MemoryMB)...)
	env = append(env, "LAMBDA_TASK_ROOT="+rt.Dir)
	p.cmd.Env = append(env, rt.Env...)
	// Lambda ships stdout and stderr to CloudWatch Logs through a pipe; a drained
	// pipe costs the writer the same here.
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", rt.Name, rt.Path, err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

// alive reports whether the process is still running.
func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop kills the environment (Lambda does not let a runtime shut down gracefully
// between invocations either) and waits for it.
func (p *proc) stop() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// exitError describes why the process ended early, with its last stderr.
func (p *proc) exitError() error {
	if p.waitErr == nil {
		return fmt.Errorf("runtime process exited with status 0; stderr tail:\n%s", p.stderr.String())
	}
	return fmt.Errorf("runtime process exited: %w; stderr tail:\n%s", p.waitErr, p.stderr.String())
}

// cpu is the process's user+system CPU time so far, all threads included.
func (p *proc) cpu() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	return parseStatCPU(data)
}

// parseStatCPU reads utime+stime (fields 14 and 15) from /proc/<pid>/stat.
func parseStatCPU(data []byte) (time.Duration, error) {
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("read cpu time: bad /proc stat %q", data)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("read cpu time: short /proc stat %q", data)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("read cpu time: bad /proc stat %q", data)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// peakRSS is the process's resident set high-water mark (VmHWM) in bytes.
func (p *proc) peakRSS() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	return parseHWM(data)
}

// parseHWM reads VmHWM from /proc/<pid>/status, in bytes.
func parseHWM(data []byte) (int64, error) {
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read peak RSS: %q: %w", line, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("read peak RSS: no VmHWM in /proc status")
}

// countWriter discards what it is given and counts the bytes.
type countWriter struct{ n atomic.Int64 }

func (w *countWriter) Write(b []byte) (int, error) {
	w.n.Add(int64(len(b)))
	return len(b), nil
}

// tailWriter keeps the last tailBytes written, for error messages, and counts
// every byte.
type tailWriter struct {
	n   atomic.Int64
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 4096

func (w *tailWriter) Write(b []byte) (int, error) {
	w.n.Add(int64(len(b)))
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	if len(w.buf) > tailBytes {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-tailBytes:]...)
	}
	return len(b), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
