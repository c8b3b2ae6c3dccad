package stacks

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/tap-trading/tap/contract"
	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/schema"
)

// The registry makes no run-time call and receives none: producers and
// people read it with their own credentials, and nothing in the pipeline
// does (TestEveryRuntimeCallIsAllowedOnBothSides).
func init() {
	passive["AWS::EventSchemas::Registry"] = "read by producers for code bindings, with their own credentials; nothing in the pipeline calls it"
	passive["AWS::EventSchemas::Schema"] = "a document in the registry; nothing in the pipeline reads it"
}

// TestSchemaRegistryInEachRegion: each region's processing stack, of the
// default app and of the nondefault one (another env and other regions),
// holds the registry of its env and one schema per contract document, with
// the document's content byte for byte, as JSONSchemaDraft4; the other
// stacks hold none.
func TestSchemaRegistryInEachRegion(t *testing.T) {
	for _, app := range []struct {
		name      string
		names     names.Names
		templates map[string]assertions.Template
		regions   []string
	}{
		{"default", cfg.Names(), tpl, []string{cfg.PrimaryRegion, cfg.SecondaryRegion}},
		{"nondefault", nondefault.cfg.Names(), nondefault.tpl, []string{nondefault.cfg.PrimaryRegion, nondefault.cfg.SecondaryRegion}},
	} {
		n := app.names
		for _, region := range app.regions {
			t.Run(app.name+"/"+region, func(t *testing.T) {
				tp := app.templates[n.ProcessingStack(region)]
				registry := logicalID(t, tp, "AWS::EventSchemas::Registry", map[string]any{
					"Properties": map[string]any{"RegistryName": n.SchemaRegistry()},
				})
				hasResource(t, tp, "AWS::EventSchemas::Registry", map[string]any{
					"RegistryName": n.SchemaRegistry(),
					"Description":  assertions.Match_StringLikeRegexp(strp("event contract")),
				})
				for _, s := range contract.Schemas() {
					hasResource(t, tp, "AWS::EventSchemas::Schema", map[string]any{
						"RegistryName": map[string]any{"Fn::GetAtt": getAtt(registry, "RegistryName")},
						"SchemaName":   n.EventSchema(schema.Source, s.DetailType),
						"Type":         "JSONSchemaDraft4",
						"Content":      s.Content,
					})
				}
				if got, want := len(resources(t, tp, "AWS::EventSchemas::Schema")), len(contract.Schemas()); got != want {
					t.Errorf("%d schemas, want one per contract document (%d)", got, want)
				}
				outputs := (*tp.ToJSON())["Outputs"].(map[string]any)
				if o, ok := outputs["SchemaRegistryName"].(map[string]any); !ok {
					t.Errorf("no SchemaRegistryName output")
				} else if _, exported := o["Export"]; exported {
					t.Errorf("output SchemaRegistryName is exported; stacks must not be coupled by exports")
				}
			})
		}
		for _, stack := range []string{n.DataStack(), n.FailoverStack()} {
			for _, typ := range []string{"AWS::EventSchemas::Registry", "AWS::EventSchemas::Schema"} {
				if got := resources(t, app.templates[stack], typ); len(got) != 0 {
					t.Errorf("%s holds %d %s: the registry belongs to each processing stack", stack, len(got), typ)
				}
			}
		}
	}
}
