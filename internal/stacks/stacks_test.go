package stacks

import (
	"testing"
)

// TestStacksHaveExplicitRegions: every stack is created with its own region
// (no region-agnostic stack, no stack nested across regions).
func TestStacksHaveExplicitRegions(t *testing.T) {
	n := cfg.Names()
	want := map[string]string{
		n.DataStack():                          cfg.PrimaryRegion,
		n.ProcessingStack(cfg.PrimaryRegion):   cfg.PrimaryRegion,
		n.ProcessingStack(cfg.SecondaryRegion): cfg.SecondaryRegion,
		n.FailoverStack():                      cfg.PrimaryRegion,
	}
	all := set.All()
	if len(all) != len(want) {
		t.Fatalf("app has %d stacks, want %d", len(all), len(want))
	}
	for _, s := range all {
		if got := *s.Region(); got != want[*s.StackName()] {
			t.Errorf("stack %s region = %s, want %s", *s.StackName(), got, want[*s.StackName()])
		}
	}
}

// TestStrongModeDeploysNoStackInTheThirdRegion: the witness is owned and
// managed by DynamoDB and a third replica is the table's own, so strong mode
// has the same four stacks in the same two regions.
func TestStrongModeDeploysNoStackInTheThirdRegion(t *testing.T) {
	for _, a := range []app{strong, nondefault} {
		all := a.set.All()
		if len(all) != 4 {
			t.Errorf("%s: %d stacks, want 4", a.cfg.Env, len(all))
		}
		for _, s := range all {
			if r := *s.Region(); r != a.cfg.PrimaryRegion && r != a.cfg.SecondaryRegion {
				t.Errorf("%s: stack %s in %s, want only %s and %s", a.cfg.Env, *s.StackName(), r, a.cfg.PrimaryRegion, a.cfg.SecondaryRegion)
			}
		}
	}
}

// TestOutputsForTapctl: the outputs tapctl reads exist and none is exported.
func TestOutputsForTapctl(t *testing.T) {
	n := cfg.Names()
	want := map[string][]string{
		n.DataStack():                          {"TableName", "TableArn"},
		n.ProcessingStack(cfg.PrimaryRegion):   {"BusName", "BusArn", "DeliveryDlqUrl", "ProcessingDlqUrl", "ProcessorName", "AlertTopicArn", "DashboardName"},
		n.ProcessingStack(cfg.SecondaryRegion): {"BusName", "BusArn", "DeliveryDlqUrl", "ProcessingDlqUrl", "ProcessorName", "AlertTopicArn", "DashboardName"},
		n.FailoverStack():                      {"EndpointId", "EndpointUrl", "EndpointArn", "HealthAlarmName", "HealthCheckId"},
	}
	for stack, keys := range want {
		t.Run(stack, func(t *testing.T) {
			outputs := (*tpl[stack].ToJSON())["Outputs"].(map[string]any)
			for _, k := range keys {
				o, ok := outputs[k].(map[string]any)
				if !ok {
					t.Errorf("output %s missing", k)
					continue
				}
				if _, exported := o["Export"]; exported {
					t.Errorf("output %s is exported; stacks must not be coupled by exports", k)
				}
			}
		})
	}
}
