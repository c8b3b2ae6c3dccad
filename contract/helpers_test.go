package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/schema"
)

// now is the processing clock of the tests: the one the decoder's fuzz corpus
// was written for (internal/event's testNow). The examples' times are before
// it too.
var now = time.Date(2026, 3, 2, 15, 4, 5, 0, time.UTC)

// corpusDir is the decoder's committed fuzz corpus.
var corpusDir = filepath.Join("..", "internal", "event", "testdata", "fuzz", "FuzzDecodeValidate")

// validator validates events against a set of schema documents.
type validator struct {
	schemas []Schema
	// event and detail hold, by detail type, the compiled whole-event
	// schema and its definitions/<DetailType> (what a producer's Detail is).
	event, detail map[string]*jsonschema.Schema
}

// compile compiles schemas with santhosh-tekuri/jsonschema, which checks each
// document against the draft-04 meta-schema its "$schema" names; draft-04
// validators assert "format", so date-time is checked too.
func compile(schemas []Schema) (*validator, error) {
	c := jsonschema.NewCompiler()
	v := &validator{schemas: schemas, event: map[string]*jsonschema.Schema{}, detail: map[string]*jsonschema.Schema{}}
	for _, s := range schemas {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s.Content))
		if err != nil {
			return nil, fmt.Errorf("%s is not JSON: %w", s.File, err)
		}
		if err := c.AddResource(s.File, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", s.File, err)
		}
	}
	for _, s := range schemas {
		var err error
		if v.event[s.DetailType], err = c.Compile(s.File); err != nil {
			return nil, fmt.Errorf("%s does not compile: %w", s.File, err)
		}
		if v.detail[s.DetailType], err = c.Compile(s.File + "#/definitions/" + s.DetailType); err != nil {
			return nil, fmt.Errorf("%s has no definitions/%s: %w", s.File, s.DetailType, err)
		}
	}
	return v, nil
}

var repoSchemas = sync.OnceValues(func() (*validator, error) { return compile(Schemas()) })

// schemas returns the repository's schemas, compiled once.
func schemas(t testing.TB) *validator {
	t.Helper()
	v, err := repoSchemas()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// verdict is what the decoder or the schemas say of one input.
type verdict struct {
	ok bool
	// why is the decoder's "REASON: message" or the schema's errors when
	// rejected; for a schema acceptance, the file that accepted it.
	why string
	// reason is the decoder's reason code when it rejects.
	reason event.Reason
	// detailType is the detail type of the schema that accepted the input.
	detailType string
}

func (v verdict) String() string {
	switch {
	case v.ok && v.why != "":
		return "valid (" + v.why + ")"
	case v.ok:
		return "accepts"
	}
	return "rejects: " + v.why
}

// decoderSays runs raw through the processor's decoder.
func decoderSays(raw []byte, clock time.Time) verdict {
	_, err := event.Decode(raw, clock)
	if err == nil {
		return verdict{ok: true}
	}
	return verdict{why: err.Error(), reason: event.ReasonOf(err)}
}

// says validates raw, a whole event, against every detail type's schema: the
// contract accepts it when one of them does.
func (v *validator) says(raw []byte) verdict {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return verdict{why: "not JSON: " + err.Error()}
	}
	var whys []string
	for _, s := range v.schemas {
		err := v.event[s.DetailType].Validate(doc)
		if err == nil {
			return verdict{ok: true, why: s.File, detailType: s.DetailType}
		}
		why := s.File + ": " + schemaErrors(err)
		// The schema of the event's own detail type says why it is wrong;
		// the others only that the detail-type is not theirs.
		if m, ok := doc.(map[string]any); ok && m["detail-type"] == s.DetailType {
			return verdict{why: why}
		}
		whys = append(whys, why)
	}
	return verdict{why: strings.Join(whys, "; ")}
}

// saysDetail validates a detail alone against definitions/<detailType>.
func (v *validator) saysDetail(detailType string, detail []byte) verdict {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(detail))
	if err != nil {
		return verdict{why: "not JSON: " + err.Error()}
	}
	if err := v.detail[detailType].Validate(doc); err != nil {
		return verdict{why: schemaErrors(err)}
	}
	return verdict{ok: true, why: "definitions/" + detailType, detailType: detailType}
}

// schemaErrors flattens a validation error to its leaf errors, each with
// the instance location, and shortens long patterns.
func schemaErrors(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	lines := strings.Split(ve.Error(), "\n")[1:]
	for i, l := range lines {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- "))
		if len(l) > 160 {
			l = l[:160] + "…"
		}
		lines[i] = l
	}
	return strings.Join(lines, " | ")
}

// disagreement returns "" when the decoder and the schemas agree on raw,
// else a message naming the input, the decoder's verdict and the schemas'.
// They agree when both accept or both reject, or when the decoder rejects
// the input for one of the Unstated rules of the schema that accepts it.
func (v *validator) disagreement(name string, raw []byte) string {
	d, s := decoderSays(raw, now), v.says(raw)
	if d.ok == s.ok {
		return ""
	}
	msg := fmt.Sprintf("input %s:\n\tdecoder: %s\n\tschema:  %s\n\t", name, d, s)
	if d.ok {
		return msg + "the schema rejects an event the decoder accepts"
	}
	for _, sc := range v.schemas {
		if sc.DetailType != s.detailType {
			continue
		}
		for _, r := range sc.Unstated {
			if r.Reason != d.reason {
				continue
			}
			if confirm := confirms[r.Reason]; confirm != nil && !confirm(raw) {
				return msg + fmt.Sprintf("the decoder's %s is not for the rule the schema leaves unstated (%s)", r.Reason, r.Text)
			}
			return ""
		}
		return msg + fmt.Sprintf("the schema accepts an event the decoder rejects for %s, a rule %s states (not in its Unstated rules)", d.reason, sc.File)
	}
	return msg + "no schema of the detail type accepted it"
}

// confirms check, for the reason codes the decoder gives both for an
// unstated rule and for rules the schema states, that raw breaks the
// unstated one; otherwise a schema that lost, say, seq's minimum would pass
// as "unstated".
var confirms = map[event.Reason]func(raw []byte) bool{
	event.ReasonTooLarge: func(raw []byte) bool { return len(raw) > event.MaxEventBytes },
	event.ReasonInvalidSeq: func(raw []byte) bool {
		var e struct {
			Detail struct {
				Seq json.RawMessage `json:"seq"`
			} `json:"detail"`
		}
		_ = json.Unmarshal(raw, &e)
		return bytes.ContainsAny(e.Detail.Seq, ".eE")
	},
	event.ReasonDecimalPrecision: func(raw []byte) bool {
		var e struct {
			Detail map[string]any `json:"detail"`
		}
		_ = json.Unmarshal(raw, &e)
		for _, f := range []string{"orderQty", "cumQty", "leavesQty", "lastQty", "price", "lastPx", "avgPx"} {
			if s, ok := e.Detail[f].(string); ok && len(s) <= 64 && significantDigits(s) > event.MaxDecimalDigits {
				return true
			}
		}
		return false
	},
}

// significantDigits counts a plain decimal's significant digits the way
// DESIGN §2 does: no leading zeros, no trailing zeros after the point.
func significantDigits(s string) int {
	intPart, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	intPart, frac = strings.TrimLeft(intPart, "0"), strings.TrimRight(frac, "0")
	if intPart == "" {
		return len(strings.TrimLeft(frac, "0"))
	}
	return len(intPart) + len(frac)
}

// deliver wraps a detail in the envelope EventBridge delivers it in, with
// the detail type tapctl send would choose (examples/examples_test.go): a
// detail with sentAt and no eventId is a Heartbeat.
func deliver(t testing.TB, detail []byte) (detailType string, raw []byte) {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(detail, &fields); err != nil {
		t.Fatalf("detail %s is not a JSON object: %v", detail, err)
	}
	detailType = schema.DetailTypeExecutionReport
	_, hasSentAt := fields["sentAt"]
	_, hasEventID := fields["eventId"]
	if hasSentAt && !hasEventID {
		detailType = schema.DetailTypeHeartbeat
	}
	return detailType, wrap(detailType, detail)
}

// wrap puts a detail in a delivered envelope of detailType.
func wrap(detailType string, detail []byte) []byte {
	return event.EncodeEnvelope(event.Envelope{
		ID: "6a7e8feb-b491-4cf7-a9f1-bf3703467718", Source: schema.Source, DetailType: detailType,
		Account: "111122223333", Region: "eu-west-1", Time: time.Date(2026, 3, 2, 15, 0, 1, 0, time.UTC), Detail: detail,
	})
}

// input is one event the decoder and the schemas are both asked about.
type input struct {
	name string
	raw  []byte
}

// corpus reads every seed of the decoder's fuzz corpus ("go test fuzz v1",
// one []byte value each).
func corpus(t testing.TB) []input {
	t.Helper()
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatalf("read the decoder's fuzz corpus: %v", err)
	}
	var out []input
	for _, e := range entries {
		path := filepath.Join(corpusDir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		header, body, _ := strings.Cut(string(b), "\n")
		body = strings.TrimSpace(body)
		if header != "go test fuzz v1" || !strings.HasPrefix(body, "[]byte(") || !strings.HasSuffix(body, ")") {
			t.Fatalf("%s is not a go test fuzz v1 []byte seed", path)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(body, "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, input{"fuzz corpus " + filepath.Base(corpusDir) + "/" + e.Name(), []byte(s)})
	}
	if len(out) == 0 {
		t.Fatalf("the fuzz corpus %s is empty", corpusDir)
	}
	return out
}

// exampleFile is one file of examples/valid or examples/invalid.
type exampleFile struct {
	path       string
	detail     []byte
	detailType string
	event      []byte
}

func exampleFiles(t testing.TB, dir string) []exampleFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "examples", dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples in examples/%s (%v)", dir, err)
	}
	var out []exampleFile
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.TrimSpace(b)
		dt, raw := deliver(t, b)
		out = append(out, exampleFile{path: filepath.ToSlash(p), detail: b, detailType: dt, event: raw})
	}
	return out
}

// examples returns every example event of examples/ as delivered: the valid
// and invalid files, lifecycle.jsonl's lines and put-events.json's entries.
func examples(t testing.TB) []input {
	t.Helper()
	var out []input
	for _, dir := range []string{"valid", "invalid"} {
		for _, f := range exampleFiles(t, dir) {
			out = append(out, input{f.path, f.event})
		}
	}
	b, err := os.ReadFile(filepath.Join("..", "examples", "lifecycle.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		_, raw := deliver(t, line)
		out = append(out, input{fmt.Sprintf("examples/lifecycle.jsonl line %d", i+1), raw})
	}
	b, err = os.ReadFile(filepath.Join("..", "examples", "put-events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct{ DetailType, Detail string }
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatalf("examples/put-events.json: %v", err)
	}
	for i, e := range entries {
		out = append(out, input{fmt.Sprintf("examples/put-events.json entry %d", i), wrap(e.DetailType, []byte(e.Detail))})
	}
	return out
}
