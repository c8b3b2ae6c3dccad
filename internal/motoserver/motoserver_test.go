package motoserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartServesAndStopEnds(t *testing.T) {
	s, err := Start(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := Reset(s.Endpoint); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	s.Stop()
	if _, err := http.Get(s.Endpoint + "/moto-api/"); err == nil {
		t.Fatalf("server at %s still answers after Stop", s.Endpoint)
	}
}

// TestNotInstalledPointsAtAnExistingSection: without moto_server on PATH,
// Start says how to install it and names a README section that exists.
func TestNotInstalledPointsAtAnExistingSection(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Start(context.Background(), "")
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "pip install 'moto[server]==5.2.1'") {
		t.Fatalf("Start without moto_server = %v, want ErrNotInstalled with the install command", err)
	}
	readme, rerr := os.ReadFile("../../README.md")
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !strings.Contains(err.Error(), "section Quick start") || !strings.Contains(string(readme), "\n## Quick start") {
		t.Errorf("error %q names a README section that README.md does not have", err)
	}
}

// TestShimMemoizesMotosJSONPathParse: the running moto has the shim first on
// its PYTHONPATH, the shim makes moto's own Python return one parsed
// JSONPath per distinct path (what moto's EventBridge re-parsed per event)
// unless TAP_MOTO_SHIM=off, and the shim's directory is gone once the
// server stops.
func TestShimMemoizesMotosJSONPathParse(t *testing.T) {
	s, err := Start(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	pid := s.cmd.Process.Pid
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	var pythonPath string
	for _, kv := range strings.Split(string(environ), "\x00") {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok {
			pythonPath = v
		}
	}
	dir, _, _ := strings.Cut(pythonPath, string(os.PathListSeparator))
	got, err := os.ReadFile(filepath.Join(dir, "sitecustomize.py"))
	if err != nil || !bytes.Equal(got, shim) {
		t.Fatalf("moto's PYTHONPATH %q: first directory's sitecustomize.py is not the shim (%v)", pythonPath, err)
	}

	// moto_server may be a wrapper (pyenv's shim is a shell script): the
	// interpreter that runs moto is the server process's executable.
	python, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	check := exec.Command(python, "-c", `import jsonpath_ng.ext as e, moto.events.utils as u
assert e.parse("$.detail") is e.parse("$.detail"), "parse is not memoized"
ev = {"id": "1", "detail": {"a": 1}, "ingestion-time": 0}
assert u.EventTemplateParser.parse("{\"d\": <detail>}", {"detail": "$.detail"}, ev) == {"d": {"a": 1}}
print("memoized")`)
	check.Env = append(os.Environ(), "PYTHONPATH="+pythonPath)
	out, err := check.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "memoized" {
		t.Fatalf("%s with the shim: %v\n%s", python, err, out)
	}
	// TAP_MOTO_SHIM=off leaves moto as it is.
	off := exec.Command(python, "-c", `import jsonpath_ng.ext as e
assert e.parse("$.detail") is not e.parse("$.detail"), "parse is memoized"
print("as moto is")`)
	off.Env = append(os.Environ(), "PYTHONPATH="+pythonPath, "TAP_MOTO_SHIM=off")
	if out, err := off.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "as moto is" {
		t.Errorf("%s with TAP_MOTO_SHIM=off: %v\n%s", python, err, out)
	}

	s.Stop()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("shim directory %s after Stop: %v, want it removed", dir, err)
	}
}

func TestPythonPathPutsTheShimFirst(t *testing.T) {
	sep := string(os.PathListSeparator)
	for _, c := range []struct{ existing, want string }{
		{"", "/shim"},
		{"/a", "/shim" + sep + "/a"},
		{"/a" + sep + "/b", "/shim" + sep + "/a" + sep + "/b"},
	} {
		if got := pythonPath("/shim", c.existing); got != c.want {
			t.Errorf("pythonPath(/shim, %q) = %q, want %q", c.existing, got, c.want)
		}
	}
}
