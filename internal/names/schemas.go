package names

// SchemaRegistry is the EventBridge schema registry that publishes the event
// contract (contract/) for producers' code bindings, the same in both
// regions, e.g. tap-dev-schemas.
func (n Names) SchemaRegistry() string { return n.prefixed("schemas") }

// EventSchema is the name, in the schema registry, of the schema of the
// events with source and detailType: <source>@<detail-type>, the form of the
// names in EventBridge's own registry of AWS events (aws.ec2@…), e.g.
// tap.trading@ExecutionReport. The env is not in it: each env has its own
// registry.
func (n Names) EventSchema(source, detailType string) string { return source + "@" + detailType }
