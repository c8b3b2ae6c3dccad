package cdk

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/infra/bundle"
)

// TestPrecheckNamesTheFix: a command that calls AWS, started without what it
// needs, stops before the CLI (and before any npm install) with the setting
// to fix named; no network, no credentials, no Node.js needed.
func TestPrecheckNamesTheFix(t *testing.T) {
	root, err := bundle.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "tools", "cdk", "cdk")
	tmp := t.TempDir()
	base := append(offline(tmp), "HOME="+tmp, "TAP_CDK_CACHE="+filepath.Join(tmp, "no-cache"))
	regionOnly := filepath.Join(tmp, "config-region-only")
	if err := os.WriteFile(regionOnly, []byte("[default]\nregion = us-east-1\n\n[profile other]\naws_access_key_id = AKIAEXAMPLE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		says []string
	}{
		{"no credentials", nil, []string{"deploy", "--all"},
			[]string{"`cdk deploy` needs AWS credentials", "AWS_PROFILE", "TAP_ACCOUNT=<its 12-digit ID>"}},
		{"no credentials, global options first", nil, []string{"--require-approval", "never", "diff"},
			[]string{"`cdk diff` needs AWS credentials"}},
		{"an account that is not one", []string{"TAP_ACCOUNT=12345", "AWS_PROFILE=dev"}, []string{"deploy"},
			[]string{"TAP_ACCOUNT=12345 is not an AWS account ID: want its 12 digits"}},
		{"a default profile with a region only", []string{"AWS_CONFIG_FILE=" + regionOnly}, []string{"deploy"},
			[]string{"`cdk deploy` needs AWS credentials", "no default profile with credentials"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := run(ctx, root, append(base, tc.env...), script, tc.args...)
			if err == nil {
				t.Fatalf("tools/cdk/cdk %v succeeded, want a refusal:\n%s", tc.args, out)
			}
			for _, want := range tc.says {
				if !strings.Contains(string(out), want) {
					t.Errorf("tools/cdk/cdk %v said %q, want %q", tc.args, out, want)
				}
			}
			if strings.Contains(string(out), "npm ci") {
				t.Errorf("the check ran after the CLI install: %s", out)
			}
		})
	}
}
