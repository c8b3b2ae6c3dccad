package infra

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2/awseventschemas"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tap-trading/tap/contract"
	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/schema"
)

// SchemaRegistryProps configure the registry that publishes the event
// contract.
type SchemaRegistryProps struct {
	// Names gives the registry's name and its schemas' names. Required.
	Names names.Names
	// Schemas are the documents published, one registry schema each.
	// Required: contract.Schemas().
	Schemas []contract.Schema
}

// SchemaRegistry is an EventBridge schema registry and its schemas.
type SchemaRegistry struct {
	constructs.Construct
	Registry awseventschemas.CfnRegistry
	// Schemas are the registry's schemas, in the order of the props'.
	Schemas []awseventschemas.CfnSchema
}

// NewSchemaRegistry creates a custom schema registry holding each contract
// document as it is in contract/, in the format the registry calls
// JSONSchemaDraft4
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-eventschemas-schema.html),
// so producers download code bindings for the events from it
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-schema-code-bindings.html)
// and read the same contract the processor's decoder is tested against. A new
// Content is a new schema version; the registry keeps the earlier ones.
//
// Custom registries and schemas cost nothing; only schema discovery, which
// TAP does not turn on, is charged. There is no run-time call: nothing in the
// pipeline reads the registry.
func NewSchemaRegistry(scope constructs.Construct, id string, p SchemaRegistryProps) *SchemaRegistry {
	schemaNames := checkSchemaRegistry(p)
	c := constructs.NewConstruct(scope, jsii.String(id))
	registry := awseventschemas.NewCfnRegistry(c, jsii.String("Registry"), &awseventschemas.CfnRegistryProps{
		RegistryName: jsii.String(p.Names.SchemaRegistry()),
		Description:  jsii.String("TAP " + p.Names.Env + ": the " + schema.Source + " event contract (DESIGN section 2), one JSON Schema per detail type"),
	})
	out := &SchemaRegistry{Construct: c, Registry: registry}
	for i, s := range p.Schemas {
		out.Schemas = append(out.Schemas, awseventschemas.NewCfnSchema(c, jsii.String("Schema"+s.DetailType), &awseventschemas.CfnSchemaProps{
			// The attribute, not the name, so CloudFormation creates the
			// registry first.
			RegistryName: registry.AttrRegistryName(),
			SchemaName:   jsii.String(schemaNames[i]),
			Type:         jsii.String(contract.Type),
			Content:      jsii.String(s.Content),
			Description:  jsii.String("TAP's " + s.DetailType + " event, envelope and detail; the rules it does not state are listed in its description (contract/" + s.File + ")"),
		}))
	}
	return out
}

// checkSchemaRegistry checks the props before anything is built and returns
// each schema's name: the registry would refuse a schema that is not JSON,
// or a second one of the same name, only at deploy time.
func checkSchemaRegistry(p SchemaRegistryProps) []string {
	registry := p.Names.SchemaRegistry()
	if len(p.Schemas) == 0 {
		panic("infra: schema registry " + registry + " has no schemas: want contract.Schemas()")
	}
	out := make([]string, 0, len(p.Schemas))
	for _, s := range p.Schemas {
		name := p.Names.EventSchema(schema.Source, s.DetailType)
		if slices.Contains(out, name) {
			panic(fmt.Sprintf("infra: schema registry %s: two schemas are named %s", registry, name))
		}
		if !json.Valid([]byte(s.Content)) {
			panic(fmt.Sprintf("infra: schema registry %s: schema %s (contract/%s) is not valid JSON", registry, name, s.File))
		}
		out = append(out, name)
	}
	return out
}
