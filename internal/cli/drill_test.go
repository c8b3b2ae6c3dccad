package cli

import (
	"strings"
	"testing"
)

func TestDrillUsageErrorsNameTheFlag(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"local", "drill", "--regions", "us-east-1,us-east-1"}, "--regions"},
		{[]string{"local", "drill", "--regions", "us-east-1"}, "PRIMARY,SECONDARY"},
		{[]string{"local", "drill", "--regions", "us-east-1,mars-1"}, "not an AWS region name"},
		{[]string{"local", "drill", "--scenario", "flood"}, "region-loss, region-loss-hang, brownout, secondary-loss, partition, monitoring-lost, lambda-refusal, processor-failure, or all"},
		{[]string{"local", "drill", "--insufficient-data", "Maybe"}, "--insufficient-data"},
		{[]string{"local", "drill", "--skew", "5s"}, "--skew"},
		{[]string{"local", "drill", "--period", "0s"}, "--period"},
		{[]string{"local", "drill", "--rate", "0"}, "--rate"},
		{[]string{"local", "drill", "--warmup", "1s"}, "--warmup"},
		{[]string{"local", "drill", "--phase-timeout", "1s"}, "--phase-timeout"},
		{[]string{"local", "drill", "--capacity", "lots"}, "--capacity"},
		{[]string{"local", "drill", "--scenario", "region-loss", "--rate", "30", "--capacity", "20"}, "--rate 30 is above the twin's capacity on this machine, 20 events/s"},
		{[]string{"local", "drill", "--consistency", "maybe"}, "--consistency \"maybe\": want eventual, strong or both"},
		{[]string{"local", "drill", "--consistency", "strong", "--regions", "us-east-1,eu-west-1"}, "an MRSC global table cannot span Region sets"},
		{[]string{"local", "drill", "--consistency", "both", "--regions", "us-east-1,eu-west-1"}, "Fix: choose tap:secondaryRegion from us-east-2 or us-west-2"},
		{[]string{"local", "--regions", "us-east-1,eu-west-1", "--demo"}, "--demo"},
		{[]string{"local", "--regions", "eu-west-1,eu-west-1"}, "--regions"},
	} {
		r := f.run("", tt.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("tapctl %v: exit %d, stderr %q; want %d naming %q", tt.args, r.code, r.stderr, ExitUsage, tt.want)
		}
	}
}
