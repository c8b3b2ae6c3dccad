package contract

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/schema"
)

func parse(t *testing.T, s Schema) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(s.Content), &doc); err != nil {
		t.Fatalf("%s: %v", s.File, err)
	}
	return doc
}

// TestSchemasCompile: each document is valid draft-04 (the validator checks
// it against the meta-schema its "$schema" names) and is its file, byte for
// byte.
func TestSchemasCompile(t *testing.T) {
	schemas(t)
	for _, s := range Schemas() {
		b, err := os.ReadFile(s.File)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != s.Content {
			t.Errorf("%s: Content is not the file", s.File)
		}
		if got := parse(t, s)["$schema"]; got != "http://json-schema.org/draft-04/schema#" {
			t.Errorf("%s: $schema = %v, want draft-04: the registry's type is %s", s.File, got, Type)
		}
	}
}

// TestSchemasCoverTheProcessorPattern: one schema per detail type the
// processor's rule admits, each in the layout of EventBridge's event schemas
// (the envelope, detail in definitions/<DetailType>, x-amazon-events-*).
func TestSchemasCoverTheProcessorPattern(t *testing.T) {
	var detailTypes []string
	for _, s := range Schemas() {
		detailTypes = append(detailTypes, s.DetailType)
		doc := parse(t, s)
		props := doc["properties"].(map[string]any)
		for _, c := range []struct {
			what      string
			got, want any
		}{
			{"title", doc["title"], s.DetailType},
			{"x-amazon-events-source", doc["x-amazon-events-source"], schema.Source},
			{"x-amazon-events-detail-type", doc["x-amazon-events-detail-type"], s.DetailType},
			{"source's enum", props["source"].(map[string]any)["enum"], []any{schema.Source}},
			{"detail-type's enum", props["detail-type"].(map[string]any)["enum"], []any{s.DetailType}},
			{"detail", props["detail"], map[string]any{"$ref": "#/definitions/" + s.DetailType}},
		} {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s: %s = %v, want %v", s.File, c.what, c.got, c.want)
			}
		}
	}
	if want := schema.ProcessorPattern()["detail-type"]; !slices.Equal(detailTypes, want) {
		t.Errorf("schemas for %v, want one per detail type of the processor's rule, %v", detailTypes, want)
	}
}

// TestEnvelopesAreOne: the schemas describe the same envelope; only
// detail-type and detail differ.
func TestEnvelopesAreOne(t *testing.T) {
	var first map[string]any
	for i, s := range Schemas() {
		doc := parse(t, s)
		env := map[string]any{"required": doc["required"], "type": doc["type"]}
		for k, v := range doc["properties"].(map[string]any) {
			if k != "detail-type" && k != "detail" {
				env[k] = v
			}
		}
		if i == 0 {
			first = env
		} else if !reflect.DeepEqual(env, first) {
			t.Errorf("%s's envelope differs from %s's", s.File, Schemas()[0].File)
		}
	}
}

// TestTimePatternIsOne: every time field has the one pattern (the envelope's
// time also allows "", which the decoder reads as absent).
func TestTimePatternIsOne(t *testing.T) {
	er, hb := parse(t, ExecutionReport()), parse(t, Heartbeat())
	field := func(doc map[string]any, dt, f string) map[string]any {
		return doc["definitions"].(map[string]any)[dt].(map[string]any)["properties"].(map[string]any)[f].(map[string]any)
	}
	pattern := field(er, schema.DetailTypeExecutionReport, "transactTime")["pattern"].(string)
	for _, f := range []map[string]any{field(er, schema.DetailTypeExecutionReport, "transactTime"), field(hb, schema.DetailTypeHeartbeat, "sentAt")} {
		if f["pattern"] != pattern || f["format"] != "date-time" {
			t.Errorf("time field %v: want pattern %s and format date-time", f, pattern)
		}
	}
	for _, doc := range []map[string]any{er, hb} {
		if got := doc["properties"].(map[string]any)["time"].(map[string]any)["pattern"]; got != "^$|"+pattern {
			t.Errorf("envelope time's pattern = %v, want ^$| and the detail's", got)
		}
	}
}

// TestUnstatedRulesAreInTheDescription: each schema's description lists its
// Unstated rules after UnstatedHeading, exactly and in order, and each is a
// reason code of the decoder.
func TestUnstatedRulesAreInTheDescription(t *testing.T) {
	for _, s := range Schemas() {
		desc, _ := parse(t, s)["description"].(string)
		_, list, found := strings.Cut(desc, "\n"+UnstatedHeading+"\n")
		if !found {
			t.Errorf("%s: the description has no line %q", s.File, UnstatedHeading)
			continue
		}
		got := strings.Split(list, "\n")
		var want []string
		for _, r := range s.Unstated {
			want = append(want, "- "+string(r.Reason)+": "+r.Text)
			if !slices.Contains(event.Reasons(), r.Reason) {
				t.Errorf("%s: unstated rule %s is not a reason code of the decoder", s.File, r.Reason)
			}
		}
		for _, l := range got {
			if !slices.Contains(want, l) {
				t.Errorf("%s: the description lists %q, which is not in Unstated", s.File, l)
			}
		}
		for _, l := range want {
			if !slices.Contains(got, l) {
				t.Errorf("%s: Unstated has %q, which the description does not list", s.File, l)
			}
		}
		if !slices.Equal(got, want) && len(got) == len(want) {
			t.Errorf("%s: the description lists the rules in another order than Unstated:\n%s", s.File, list)
		}
	}
	if !strings.Contains(tooLarge.Text, strconv.Itoa(event.MaxEventBytes)+" bytes") {
		t.Errorf("TOO_LARGE's text %q does not state the decoder's limit, %d bytes", tooLarge.Text, event.MaxEventBytes)
	}
}
