// Package bundle builds the processor's Lambda `bootstrap` binary for the
// CDK asset. The build is reproducible (no paths, VCS stamp or build ID in the
// binary), so the asset hash, and with it the deployed function, changes only
// when the code does.
package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ProcessorPackage is the processor's entrypoint, relative to the module root.
const ProcessorPackage = "./cmd/processor"

// BinaryName is the file name the provided.al2023 runtime executes.
const BinaryName = "bootstrap"

// Args returns the `go` arguments that build pkg into outDir/bootstrap.
// lambda.norpc drops the legacy RPC mode provided.al2023 never uses.
func Args(outDir, pkg string) []string {
	return []string{
		"build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid=",
		"-o", filepath.Join(outDir, BinaryName), pkg,
	}
}

// Env returns environ with the cross-compilation settings for Lambda arm64
// (a static binary: no cgo).
func Env(environ []string) []string {
	return append(environ, "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
}

// Build compiles the processor at moduleRoot into outDir/bootstrap and returns
// outDir, the directory to hand to lambda.Code_FromAsset.
func Build(ctx context.Context, moduleRoot, outDir string) (string, error) {
	abs, err := filepath.Abs(outDir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", Args(abs, ProcessorPackage)...)
	cmd.Dir = moduleRoot
	cmd.Env = Env(os.Environ())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s for the Lambda asset: %w\n%s", ProcessorPackage, err, stderr.String())
	}
	return abs, nil
}

// ModuleRoot walks up from dir to the directory holding go.mod.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above " + dir)
		}
		dir = parent
	}
}
