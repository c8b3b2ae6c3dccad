package infra

import (
	"testing"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/deployspec"
)

// TestSpecValuesHaveCDKMembers: every CloudFormation value a Spec holds maps
// to a CDK enum member, so synthesis never stops on one (the stacks tests
// then hold the template equal to the Spec).
func TestSpecValuesHaveCDKMembers(t *testing.T) {
	s := deployspec.For(config.Defaults())
	for what, ok := range map[string]bool{
		"ComparisonOperator " + s.HealthAlarm.ComparisonOperator:       comparisonOperators[s.HealthAlarm.ComparisonOperator] != "",
		"TreatMissingData " + s.HealthAlarm.TreatMissingData:           treatMissingData[s.HealthAlarm.TreatMissingData] != "",
		"ProjectionType " + string(s.Table.Keys.Indexes[0].Projection): projectionTypes[string(s.Table.Keys.Indexes[0].Projection)] != "",
		"StreamViewType " + s.Table.StreamViewType:                     streamViewTypes[s.Table.StreamViewType] != "",
	} {
		if !ok {
			t.Errorf("%s has no CDK enum member", what)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("lookup of an unknown value did not panic")
		}
	}()
	lookup("TreatMissingData", treatMissingData, "BREACHING")
}

func TestEventPatternTakesEveryKey(t *testing.T) {
	p := eventPattern(map[string][]string{
		"source": {"s"}, "detail-type": {"d"}, "account": {"a"}, "region": {"r"},
		"resources": {"x"}, "id": {"i"}, "time": {"t"}, "version": {"v"},
	})
	for name, got := range map[string]*[]*string{
		"source": p.Source, "detail-type": p.DetailType, "account": p.Account, "region": p.Region,
		"resources": p.Resources, "id": p.Id, "time": p.Time, "version": p.Version,
	} {
		if got == nil || len(*got) != 1 {
			t.Errorf("%s was not rendered", name)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a key without an EventPattern field did not panic")
		}
	}()
	eventPattern(map[string][]string{"source": {"s"}, "detail.kind": {"k"}})
}
