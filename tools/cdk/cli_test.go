package cdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/infra/bundle"
)

// TestCLISynthMatchesMakeSynth runs `cdk synth` with the pinned CLI through
// cdk.json's app command and `make synth`'s command (go run ./cmd/tapcdk) side
// by side, without AWS credentials, and requires the same stacks with the same
// templates (compared as JSON; asset hashes included, the build is reproducible).
// It needs Node.js and, until .cache/cdk is installed, the npm registry; where
// either is missing it is skipped with the reason printed.
func TestCLISynthMatchesMakeSynth(t *testing.T) {
	if testing.Short() {
		skip(t, "-short: the CDK CLI synthesis takes minutes")
	}
	root, err := bundle.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if reason := unavailable(root); reason != "" {
		skip(t, reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	script := filepath.Join(root, "tools", "cdk", "cdk")
	if out, err := run(ctx, root, nil, script, "--install-only"); err != nil {
		t.Fatalf("installing the pinned CDK CLI: %v\n%s", err, out)
	}

	tmp := t.TempDir()
	env := offline(tmp)
	makeOut, cliOut := filepath.Join(tmp, "make.out"), filepath.Join(tmp, "cli.out")
	errs := make(chan error, 2)
	go func() {
		out, err := run(ctx, root, append(env, "CDK_OUTDIR="+makeOut), "go", "run", "./cmd/tapcdk")
		if err != nil {
			err = fmt.Errorf("make synth (go run ./cmd/tapcdk): %w\n%s", err, out)
		}
		errs <- err
	}()
	go func() {
		out, err := run(ctx, root, env, script, "synth", "--quiet", "--no-notices", "--output", cliOut)
		if err != nil {
			err = fmt.Errorf("cdk synth: %w\n%s", err, out)
		}
		errs <- err
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	want, got := templates(t, makeOut), templates(t, cliOut)
	if len(want) != 4 {
		t.Fatalf("make synth wrote %d templates %v, want 4", len(want), keys(want))
	}
	if !reflect.DeepEqual(keys(got), keys(want)) {
		t.Fatalf("cdk synth wrote templates %v, make synth %v", keys(got), keys(want))
	}
	for _, name := range keys(want) {
		for _, d := range diff(got[name], want[name], "") {
			t.Errorf("%s: cdk synth differs from make synth at %s", name, d)
		}
	}
}

// skip prints the reason on stdout too, so a skipped proof is never silent
// (go test prints t.Skip's reason only with -v).
func skip(t *testing.T, reason string) {
	t.Helper()
	fmt.Printf("SKIP TestCLISynthMatchesMakeSynth: %s\n", reason)
	t.Skip(reason)
}

// unavailable says why the CLI cannot run here, or "" when it can.
func unavailable(root string) string {
	for _, tool := range []string{"node", "npm", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not on PATH"
		}
	}
	if _, err := os.Stat(filepath.Join(root, ".cache", "cdk", "node_modules", ".bin", "cdk")); err == nil {
		return "" // installed; the script reinstalls only if the lockfile changed
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "npm", "ping").CombinedOutput(); err != nil {
		return fmt.Sprintf("the npm registry is unreachable (npm ping: %v: %s), and the pinned CLI is not installed in .cache/cdk", err, bytes.TrimSpace(out))
	}
	return ""
}

// offline is the environment of both synths: no AWS credentials or profile,
// no instance metadata lookups, the same alert email.
func offline(tmp string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "CDK_") && !strings.HasPrefix(kv, "TAP_") {
			env = append(env, kv)
		}
	}
	none := filepath.Join(tmp, "no-aws-config")
	return append(env,
		"AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none, "AWS_EC2_METADATA_DISABLED=true",
		config.EnvAlertEmail+"=ops@example.com")
}

func run(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	return cmd.CombinedOutput()
}

// templates reads the cloud assembly's templates by file name.
func templates(t *testing.T, dir string) map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = v
	}
	return out
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// diff lists the JSON paths where got and want differ.
func diff(got, want any, path string) []string {
	gm, gok := got.(map[string]any)
	wm, wok := want.(map[string]any)
	if gok && wok {
		var out []string
		all := map[string]any{}
		for k := range gm {
			all[k] = nil
		}
		for k := range wm {
			all[k] = nil
		}
		for _, k := range keys(all) {
			out = append(out, diff(gm[k], wm[k], path+"/"+k)...)
		}
		return out
	}
	gl, gok := got.([]any)
	wl, wok := want.([]any)
	if gok && wok && len(gl) == len(wl) {
		var out []string
		for i := range gl {
			out = append(out, diff(gl[i], wl[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	}
	if reflect.DeepEqual(got, want) {
		return nil
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	return []string{fmt.Sprintf("%s: got %s, want %s", path, g, w)}
}
