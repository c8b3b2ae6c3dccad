package bench

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// EsbuildVersion is the bundler the peer is built with, pinned so the bundle
// (and its size in BENCHMARKS.md) is reproducible.
const EsbuildVersion = "0.28.2"

// peerLock pins every npm dependency of the peer's package.json (resolved once
// with `npm install` and committed): `npm install` honours it, so each run bundles
// the same code. It lists versions only; none of the peer's code is in the repo.
//
//go:embed peer/package-lock.json
var peerLock []byte

// peerRuntime is the Node.js Runtime API loop the peer runs under (peer-runtime.mjs).
//
//go:embed peer-runtime.mjs
var peerRuntime []byte

// PeerBuild is the built peer in the cache directory.
type PeerBuild struct {
	// Dir is the npm project (.cache/peer); Bundle is Dir/dist/index.js.
	Dir, Bundle string
	// Runtime is the Runtime API loop script written beside the bundle.
	Runtime string
}

// peerInputs are the files copied from the peer's directory in shared/.
var peerInputs = []string{"index.fixed.ts", "package.json"}

// BuildPeer installs and bundles the seed's Node processor from srcDir
// (../shared/peers/seed-node-processor) into cacheDir/peer, which git ignores:
// the project never carries the peer's code. It skips the npm and esbuild work
// when the bundle was built from the same inputs (a stamp of their hash).
func BuildPeer(ctx context.Context, srcDir, cacheDir string, log Logf) (PeerBuild, error) {
	dir, err := filepath.Abs(filepath.Join(cacheDir, "peer"))
	if err != nil {
		return PeerBuild{}, err
	}
	b := PeerBuild{Dir: dir, Bundle: filepath.Join(dir, "dist", "index.js"), Runtime: filepath.Join(dir, "peer-runtime.mjs")}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return b, fmt.Errorf("peer: %w", err)
	}
	// The loop script is ours and cheap to write: always refresh it.
	if err := os.WriteFile(b.Runtime, peerRuntime, 0o644); err != nil {
		return b, fmt.Errorf("peer: %w", err)
	}
	stamp, err := inputStamp(srcDir)
	if err != nil {
		return b, err
	}
	if bundleFresh(dir, b.Bundle, stamp) {
		log("peer: bundle %s is up to date", rel(b.Bundle))
		return b, nil
	}
	for _, name := range peerInputs {
		data, err := os.ReadFile(filepath.Join(srcDir, name))
		if err != nil {
			return b, fmt.Errorf("peer: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return b, fmt.Errorf("peer: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), peerLock, 0o644); err != nil {
		return b, fmt.Errorf("peer: %w", err)
	}
	steps := [][]string{
		{"npm", "install", "--no-audit", "--no-fund"},
		{"npm", "install", "--no-audit", "--no-fund", "--save-exact", "esbuild@" + EsbuildVersion},
		{"npx", "--no-install", "esbuild", "index.fixed.ts", "--bundle", "--platform=node", "--target=node20", "--outfile=dist/index.js", "--log-level=warning"},
	}
	for _, args := range steps {
		log("peer: %s", joinArgs(args))
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("peer: %s: %w\n%s", joinArgs(args), err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, stampName), []byte(stamp), 0o644); err != nil {
		return b, fmt.Errorf("peer: %w", err)
	}
	return b, nil
}

// stampName records what the cached bundle was built from.
const stampName = ".built-from"

// inputStamp hashes everything the bundle depends on: the peer's sources, the
// pinned lock and the esbuild version.
func inputStamp(srcDir string) (string, error) {
	h := sha256.New()
	for _, name := range peerInputs {
		data, err := os.ReadFile(filepath.Join(srcDir, name))
		if err != nil {
			return "", fmt.Errorf("peer: read %s (is ../shared beside the repo?): %w", name, err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	h.Write(peerLock)
	fmt.Fprintf(h, "esbuild@%s\n", EsbuildVersion)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// bundleFresh reports whether the bundle exists and was built from stamp.
func bundleFresh(dir, bundle, stamp string) bool {
	if _, err := os.Stat(bundle); err != nil {
		return false
	}
	got, err := os.ReadFile(filepath.Join(dir, stampName))
	return err == nil && string(got) == stamp
}
