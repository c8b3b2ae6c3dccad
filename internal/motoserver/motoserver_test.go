package motoserver

import (
	"context"
	"net/http"
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
