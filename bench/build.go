package bench

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// BuildBootstrap builds pkg (./cmd/processor) into cacheDir/tap/bootstrap the
// way the Makefile builds the deployed artifact (static, no RPC mode, trimmed,
// stripped), for the host's architecture so it can run here.
func BuildBootstrap(ctx context.Context, repoRoot, pkg, cacheDir string, log Logf) (string, error) {
	dir, err := filepath.Abs(filepath.Join(cacheDir, "tap"))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	out := filepath.Join(dir, "bootstrap")
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, pkg}
	log("tap: go %s (GOOS=linux GOARCH=%s CGO_ENABLED=0)", joinArgs(args), runtime.GOARCH)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bootstrap: go build: %w\n%s", err, b)
	}
	return out, nil
}

// ZipSize is the size of a zip holding the file at path under name: what a
// Lambda deployment package of that one file weighs.
func ZipSize(path, name string) (int64, error) {
	src, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("zip %s: %w", path, err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return 0, fmt.Errorf("zip %s: %w", path, err)
	}
	var n countWriter
	zw := zip.NewWriter(&n)
	hdr, err := zip.FileInfoHeader(st)
	if err != nil {
		return 0, fmt.Errorf("zip %s: %w", path, err)
	}
	hdr.Name, hdr.Method = name, zip.Deflate
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return 0, fmt.Errorf("zip %s: %w", path, err)
	}
	if _, err := io.Copy(w, src); err != nil {
		return 0, fmt.Errorf("zip %s: %w", path, err)
	}
	if err := zw.Close(); err != nil {
		return 0, fmt.Errorf("zip %s: %w", path, err)
	}
	return n.n.Load(), nil
}

// Logf reports progress.
type Logf func(format string, args ...any)

func joinArgs(args []string) string { return strings.Join(args, " ") }

// rel shortens path relative to the working directory for messages.
func rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil {
		return r
	}
	return path
}
