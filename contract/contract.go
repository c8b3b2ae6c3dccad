// Package contract is TAP's event contract (DESIGN §2) in machine-readable
// form: one JSON Schema, draft-04, per detail type, in the files beside this
// one, embedded here. The CDK app publishes them, as they are, in each
// region's EventBridge schema registry (internal/infra, NewSchemaRegistry),
// from which producers download code bindings
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-schema-code-bindings.html).
//
// Draft-04, because the registry takes JSONSchemaDraft4 or OpenApi3
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-eventschemas-schema.html)
// and AWS recommends JSON Schema for validating events before they are sent
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-schema-create.html):
// so one document is both the repository's contract and the registry's
// content. Each describes the whole event as EventBridge delivers it, in the
// layout of the schemas EventBridge discovers from events
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-schemas-infer-from-json.html):
// the envelope, the detail in definitions/<DetailType> ("detail" refers to
// it), and "x-amazon-events-source" / "x-amazon-events-detail-type". A
// producer validates the Detail it puts against "#/definitions/<DetailType>".
//
// The tests hold each schema equal to the processor's decoder
// (internal/event): every example, every input of the decoder's fuzz corpus
// and a probe at every limit of every rule are accepted by both or rejected
// by both, except inputs the decoder rejects for one of the schema's
// Unstated rules, which its description lists. divergence_test.go pins the
// known cases where the decoder's JSON and time parsing, not a rule, make
// them differ.
package contract

import (
	_ "embed"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/schema"
)

// Type is the schema registry's name for the documents' format
// (AWS::EventSchemas::Schema's Type).
const Type = "JSONSchemaDraft4"

// UnstatedHeading is the line of a schema's description after which its
// Unstated rules are listed, one "- REASON: text" line each.
const UnstatedHeading = "Rules not stated here (reason code: rule):"

var (
	//go:embed execution-report.schema.json
	executionReport string
	//go:embed heartbeat.schema.json
	heartbeat string
)

// Rule is a rule of DESIGN §2 that the decoder enforces and a schema does not
// state.
type Rule struct {
	// Reason is the decoder's reason code when the rule is broken.
	Reason event.Reason
	// Text states the rule, exactly as the schema's description does.
	Text string
}

// Schema is the JSON Schema of one detail type.
type Schema struct {
	// DetailType is the envelope's detail-type the schema describes.
	DetailType string
	// File is the schema's file name in this directory.
	File string
	// Content is the document, byte for byte as in File.
	Content string
	// Unstated are the rules the schema does not state, in its
	// description's order.
	Unstated []Rule
}

// tooLarge is the one whole-event rule: JSON Schema sees the parsed value,
// never the bytes it came from.
var tooLarge = Rule{event.ReasonTooLarge, "the whole event is at most 262144 bytes (256 KiB, EventBridge's entry limit)"}

// ExecutionReport returns the schema of the ExecutionReport event.
func ExecutionReport() Schema {
	return Schema{
		DetailType: schema.DetailTypeExecutionReport,
		File:       "execution-report.schema.json",
		Content:    executionReport,
		Unstated: []Rule{
			tooLarge,
			// JSON Schema sees a number's value, not its text: draft-04 says an
			// integer has no fraction or exponent, but its test suite makes
			// that optional, and validators (santhosh-tekuri/jsonschema among
			// them) accept 2.0.
			{event.ReasonInvalidSeq, "seq is written as plain digits: 2.0 and 2e0 are rejected, though a JSON Schema validator may count them as integers"},
			// A pattern could count the digits only as a union of 39
			// alternatives; the length bound is stated (maxLength 64).
			{event.ReasonDecimalPrecision, "a decimal has at most 38 significant digits (DynamoDB's precision); the patterns bound only its length, 64 characters"},
			// Comparisons and sums of two fields' decimal values: JSON Schema
			// has no keyword that relates two values.
			{event.ReasonCumExceedsOrder, "cumQty <= orderQty"},
			// Statable in draft-04 only with an anyOf over execType, which
			// code-binding generators turn into union types: left to the
			// decoder so the bindings stay plain classes.
			{event.ReasonTerminalLeaves, "FILL, CANCELED, REJECTED and EXPIRED have leavesQty = 0"},
			{event.ReasonFillIncomplete, "a FILL has cumQty = orderQty"},
			{event.ReasonLeavesMismatch, "NEW, PARTIAL_FILL and REPLACED have leavesQty = orderQty - cumQty, exactly"},
			// Relative to the processor's clock, which a schema cannot know.
			{event.ReasonFutureTime, "transactTime is at most 5 minutes ahead of the processor's clock"},
		},
	}
}

// Heartbeat returns the schema of the Heartbeat event.
func Heartbeat() Schema {
	return Schema{
		DetailType: schema.DetailTypeHeartbeat,
		File:       "heartbeat.schema.json",
		Content:    heartbeat,
		Unstated: []Rule{
			tooLarge,
			{event.ReasonFutureTime, "sentAt is at most 5 minutes ahead of the processor's clock"},
		},
	}
}

// Schemas returns the schema of every detail type the processor accepts
// (schema.ProcessorPattern), ExecutionReport first.
func Schemas() []Schema { return []Schema{ExecutionReport(), Heartbeat()} }
