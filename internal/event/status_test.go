package event

import "testing"

func TestExecTypeStatusAndTerminal(t *testing.T) {
	tests := []struct {
		t        ExecType
		status   OrderStatus
		terminal bool
	}{
		{ExecNew, StatusNew, false},
		{ExecPartialFill, StatusPartiallyFilled, false},
		{ExecFill, StatusFilled, true},
		{ExecCanceled, StatusCanceled, true},
		{ExecReplaced, StatusReplaced, false},
		{ExecRejected, StatusRejected, true},
		{ExecExpired, StatusExpired, true},
		{"", "", false},
		{"new", "", false},
		{"PENDING_CANCEL", "", false},
	}
	for _, tt := range tests {
		if got := tt.t.Status(); got != tt.status {
			t.Errorf("ExecType(%q).Status() = %q, want %q", tt.t, got, tt.status)
		}
		if got := tt.t.Terminal(); got != tt.terminal {
			t.Errorf("ExecType(%q).Terminal() = %v, want %v", tt.t, got, tt.terminal)
		}
		if got, want := tt.t.Valid(), tt.status != ""; got != want {
			t.Errorf("ExecType(%q).Valid() = %v, want %v", tt.t, got, want)
		}
	}
}

func TestSideValid(t *testing.T) {
	for s, want := range map[Side]bool{SideBuy: true, SideSell: true, SideSellShort: true, "": false, "buy": false, "SHORT": false} {
		if got := s.Valid(); got != want {
			t.Errorf("Side(%q).Valid() = %v, want %v", s, got, want)
		}
	}
}
