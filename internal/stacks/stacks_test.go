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
