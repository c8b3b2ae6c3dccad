package bundle

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"testing"
)

// TestBuildIsReproducible builds twice into different directories and expects
// byte-identical linux/arm64 binaries: the asset hash must depend on code only.
func TestBuildIsReproducible(t *testing.T) {
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	var bins [][]byte
	for _, d := range []string{t.TempDir(), t.TempDir()} {
		dir, err := Build(context.Background(), root, d)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, BinaryName))
		if err != nil {
			t.Fatal(err)
		}
		bins = append(bins, b)
	}
	if !bytes.Equal(bins[0], bins[1]) {
		t.Errorf("two builds of %s differ (%d vs %d bytes); want identical binaries", ProcessorPackage, len(bins[0]), len(bins[1]))
	}
	f, err := elf.NewFile(bytes.NewReader(bins[0]))
	if err != nil {
		t.Fatalf("bootstrap is not an ELF binary: %v", err)
	}
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("bootstrap machine = %v, want %v", f.Machine, elf.EM_AARCH64)
	}
	if f.Section(".interp") != nil {
		t.Error("bootstrap has an ELF interpreter (dynamically linked); want a static CGO_ENABLED=0 binary")
	}
}

func TestModuleRootFindsGoMod(t *testing.T) {
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("ModuleRoot(.) = %s, which has no go.mod", root)
	}
}
