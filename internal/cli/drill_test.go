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
		{[]string{"local", "drill", "--regions", "us-east-1,mars-1"}, "not a region name"},
		{[]string{"local", "drill", "--scenario", "flood"}, "region-loss, processor-failure or all"},
		{[]string{"local", "drill", "--partition", "drop"}, "refuse or hang"},
		{[]string{"local", "drill", "--period", "0s"}, "--period"},
		{[]string{"local", "drill", "--periods", "0"}, "--periods"},
		{[]string{"local", "drill", "--rate", "0"}, "--rate"},
		{[]string{"local", "drill", "--warmup", "1s"}, "--warmup"},
		{[]string{"local", "drill", "--phase-timeout", "1s"}, "--phase-timeout"},
		{[]string{"local", "--regions", "us-east-1,eu-west-1", "--demo"}, "--demo"},
		{[]string{"local", "--regions", "eu-west-1,eu-west-1"}, "--regions"},
	} {
		r := f.run("", tt.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("tapctl %v: exit %d, stderr %q; want %d naming %q", tt.args, r.code, r.stderr, ExitUsage, tt.want)
		}
	}
}
