package infra

import (
	"strings"
	"testing"

	"github.com/tap-trading/tap/contract"
	"github.com/tap-trading/tap/internal/names"
)

// TestSchemaRegistryNames: the contract's schemas get distinct names of the
// form <source>@<detail-type>; the stacks tests check the template.
func TestSchemaRegistryNames(t *testing.T) {
	got := checkSchemaRegistry(SchemaRegistryProps{Names: names.For("dev"), Schemas: contract.Schemas()})
	want := []string{"tap.trading@ExecutionReport", "tap.trading@Heartbeat"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("schema names = %v, want %v", got, want)
	}
}

// TestSchemaRegistryRefusesBadProps: what the registry would refuse at
// deploy time stops synthesis, with a message naming the registry and the
// schema, before any construct is built.
func TestSchemaRegistryRefusesBadProps(t *testing.T) {
	er := contract.ExecutionReport()
	broken := er
	broken.Content = er.Content[:len(er.Content)/2]
	for _, tc := range []struct {
		name    string
		schemas []contract.Schema
		want    string
	}{
		{"no schemas", nil, "schema registry tap-dev-schemas has no schemas"},
		{"a detail type twice", []contract.Schema{er, er}, "two schemas are named tap.trading@ExecutionReport"},
		{"content not JSON", []contract.Schema{broken}, "schema tap.trading@ExecutionReport (contract/execution-report.schema.json) is not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, tc.want) {
					t.Errorf("panic = %v, want a message containing %q", r, tc.want)
				}
			}()
			NewSchemaRegistry(nil, "SchemaRegistry", SchemaRegistryProps{Names: names.For("dev"), Schemas: tc.schemas})
		})
	}
}
