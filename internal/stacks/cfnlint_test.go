package stacks

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tap-trading/tap/internal/infra/bundle"
)

// TestCfnLint runs cfn-lint with the repository's .cfnlintrc.yaml on the
// four templates of each synthesized app — the default one, the nondefault
// one (a strongly consistent table with three replicas) and the strong one
// (two replicas and a witness) — and fails on any error or warning.
func TestCfnLint(t *testing.T) {
	root, err := bundle.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		name   string
		set    Set
		outDir string
	}{
		{"default", set, outDir},
		{"nondefault", nondefault.set, nondefault.outDir},
		{"strong", strong.set, strong.outDir},
	} {
		t.Run(a.name, func(t *testing.T) {
			var templates []string
			for _, s := range a.set.All() {
				templates = append(templates, filepath.Join(a.outDir, *s.TemplateFile()))
			}
			if len(templates) != 4 {
				t.Fatalf("synthesized %d templates, want 4", len(templates))
			}
			args := append([]string{"--config-file", filepath.Join(root, ".cfnlintrc.yaml"), "--non-zero-exit-code", "warning", "--"}, templates...)
			out, err := exec.Command("cfn-lint", args...).CombinedOutput()
			if err != nil {
				t.Errorf("cfn-lint %v: %v\n%s", args, err, out)
			}
		})
	}
}
