package motoserver

import (
	"context"
	"errors"
	"net/http"
	"os"
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
