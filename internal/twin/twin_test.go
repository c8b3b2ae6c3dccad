package twin

import (
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/partition"
)

func TestUnknownRegionIsNamed(t *testing.T) {
	var e Env
	for name, f := range map[string]func() error{
		"Cut":               func() error { return e.Cut("eu-west-9", partition.Refuse) },
		"Heal":              func() error { return e.Heal("eu-west-9") },
		"FailProcessor":     func() error { return e.FailProcessor("eu-west-9") },
		"Slow":              func() error { return e.Slow("eu-west-9", time.Second) },
		"LoseMonitoring":    func() error { return e.LoseMonitoring("eu-west-9") },
		"RefuseInvocations": func() error { return e.RefuseInvocations("eu-west-9") },
	} {
		if err := f(); err == nil || !strings.Contains(err.Error(), "not a region of this run") {
			t.Errorf("%s(eu-west-9) = %v, want an error naming the run's regions", name, err)
		}
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	same := DeploymentDefaults()
	same.SecondaryRegion = same.PrimaryRegion
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Deployment: same}, "--regions"},
		{Config{Period: 100 * time.Millisecond}, "--period"},
		{Config{Period: 2 * time.Minute}, "--period"},
		{Config{LagJitter: -time.Second}, "--lag"},
		{Config{Period: 2 * time.Second, Skew: 2 * time.Second}, "--skew"},
		{Config{Period: 2 * time.Second, Skew: -3 * time.Second}, "--skew"},
		{Config{Concurrency: -1}, "--concurrency"},
	} {
		if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tt.cfg, err, tt.want)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

func TestScaleIsOneFactorBothWays(t *testing.T) {
	s := NewScale(2*time.Second, time.Minute)
	if got := s.Local(30 * time.Second); got != time.Second {
		t.Errorf("Local(30s) = %s, want 1s at 2s per minute", got)
	}
	if got := s.Local(24 * time.Hour); got != 48*time.Minute {
		t.Errorf("Local(24h) = %s, want 48m", got)
	}
	if got := s.AWS(7 * time.Second); got != 210*time.Second {
		t.Errorf("AWS(7s) = %s, want 3m30s", got)
	}
}
