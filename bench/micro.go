package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BenchstatVersion pins golang.org/x/perf/cmd/benchstat (the version the
// project's module list records as accepted on this Go).
const BenchstatVersion = "v0.0.0-20260908200009-22c9c6c9d4da"

// MicroPackages are the packages whose Go benchmarks cover decode, validate and
// write planning (and a full event against moto).
var MicroPackages = []string{"./internal/event/", "./internal/store/"}

// Micro is the micro-benchmark section of the report.
type Micro struct {
	// Command is the go test command that produced Raw.
	Command string
	// Raw is go test's output; Benchstat is benchstat's summary of it.
	Raw, Benchstat string
}

// RunMicro runs the Go benchmarks count times and summarizes them with benchstat.
func RunMicro(ctx context.Context, repoRoot, cacheDir string, count int, log Logf) (Micro, error) {
	args := append([]string{"test", "-run=^$", "-bench=.", "-benchmem", fmt.Sprintf("-count=%d", count)}, MicroPackages...)
	m := Micro{Command: "go " + joinArgs(args)}
	log("micro: %s", m.Command)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	m.Raw = string(out)
	if err != nil {
		return m, fmt.Errorf("micro-benchmarks: %w\n%s", err, out)
	}
	raw, err := filepath.Abs(filepath.Join(cacheDir, "micro.txt"))
	if err != nil {
		return m, err
	}
	if err := os.WriteFile(raw, out, 0o644); err != nil {
		return m, fmt.Errorf("micro-benchmarks: %w", err)
	}
	log("micro: benchstat %s", rel(raw))
	bs := exec.CommandContext(ctx, "go", "run", "golang.org/x/perf/cmd/benchstat@"+BenchstatVersion, "this-run="+raw)
	bs.Dir = repoRoot
	// go run pkg@version builds outside the main module; module flags from
	// the Makefile (GOFLAGS=-mod=readonly) do not apply to it.
	bs.Env = append(os.Environ(), "GOFLAGS=")
	sum, err := bs.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return m, fmt.Errorf("benchstat: %w\n%s", err, ee.Stderr)
		}
		return m, fmt.Errorf("benchstat: %w", err)
	}
	m.Benchstat = strings.TrimRight(string(sum), "\n")
	return m, nil
}
