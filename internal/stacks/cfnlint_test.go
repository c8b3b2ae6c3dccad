package stacks

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tap-trading/tap/internal/infra/bundle"
)

// TestCfnLint runs cfn-lint on the four synthesized templates with the
// repository's .cfnlintrc.yaml and fails on any error or warning.
func TestCfnLint(t *testing.T) {
	root, err := bundle.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	var templates []string
	for _, s := range set.All() {
		templates = append(templates, filepath.Join(outDir, *s.TemplateFile()))
	}
	if len(templates) != 4 {
		t.Fatalf("synthesized %d templates, want 4", len(templates))
	}
	args := append([]string{"--config-file", filepath.Join(root, ".cfnlintrc.yaml"), "--non-zero-exit-code", "warning", "--"}, templates...)
	out, err := exec.Command("cfn-lint", args...).CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint %v: %v\n%s", args, err, out)
	}
}
