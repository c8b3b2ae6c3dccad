package infra

import (
	"testing"

	"github.com/tap-trading/tap/internal/config"
)

// TestEveryConfigRetentionMapsToCDK: config accepts exactly the CloudWatch Logs
// periods; each must map to a CDK enum value instead of panicking at synth.
func TestEveryConfigRetentionMapsToCDK(t *testing.T) {
	seen := map[string]int{}
	for _, days := range config.LogRetentionValues {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("retentionDays(%d) panicked: %v", days, r)
				}
			}()
			got := string(retentionDays(days))
			if prev, dup := seen[got]; dup {
				t.Errorf("retentionDays(%d) = %s, the same as retentionDays(%d)", days, got, prev)
			}
			seen[got] = days
		}()
	}
}

func TestProcessorPropsDefaults(t *testing.T) {
	got := ProcessorProps{}.withDefaults()
	want := config.Defaults()
	if got.MemoryMB != want.ProcessorMemoryMB || got.LogRetentionDays != want.LogRetentionDays ||
		got.LogLevel != want.LogLevel || got.TableConsistency != want.TableConsistency {
		t.Errorf("ProcessorProps defaults = %+v, want the config defaults %+v", got, want)
	}
}
