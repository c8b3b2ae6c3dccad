package stacks

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// check runs a CDK assertion, turning its panic (how jsii reports a failed
// assertion) into a test error so one failure does not abort the binary.
func check(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assertion()
}

// hasResource asserts that template has a resource of typ whose properties match props.
func hasResource(t *testing.T, template assertions.Template, typ string, props any) {
	t.Helper()
	check(t, typ, func() { template.HasResourceProperties(jsii.String(typ), props) })
}

// resources returns the template's resources of typ by logical ID.
func resources(t *testing.T, template assertions.Template, typ string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for id, r := range *template.FindResources(jsii.String(typ), nil) {
		out[id] = *r
	}
	return out
}

// logicalID returns the logical ID of the one resource of typ matching props.
func logicalID(t *testing.T, template assertions.Template, typ string, props any) string {
	t.Helper()
	found := *template.FindResources(jsii.String(typ), props)
	if len(found) != 1 {
		t.Fatalf("found %d %s resources matching %v, want exactly 1", len(found), typ, props)
	}
	for id := range found {
		return id
	}
	return ""
}

func processingTemplate(region string) assertions.Template {
	return tpl[cfg.Names().ProcessingStack(region)]
}

func ref(id string) map[string]any   { return map[string]any{"Ref": id} }
func getAtt(id, attr string) []any   { return []any{id, attr} }
func arnOf(id string) map[string]any { return map[string]any{"Fn::GetAtt": getAtt(id, "Arn")} }

func strp(s string) *string  { return &s }
func num(n float64) *float64 { return &n }
