package contract

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSchemaAgreesWithDecoder runs every input of the decoder's fuzz corpus,
// every example and every probe through both the decoder and the schemas:
// both accept it or both reject it, except an input the decoder rejects for
// a rule the accepting schema lists as Unstated. A disagreement names the
// input and both verdicts.
func TestSchemaAgreesWithDecoder(t *testing.T) {
	v := schemas(t)
	var inputs []input
	inputs = append(inputs, corpus(t)...)
	inputs = append(inputs, examples(t)...)
	inputs = append(inputs, probes()...)
	var accepted, rejected, unstated int
	for _, in := range inputs {
		if msg := v.disagreement(in.name, in.raw); msg != "" {
			t.Error(msg)
			continue
		}
		switch d, s := decoderSays(in.raw, now), v.says(in.raw); {
		case d.ok:
			accepted++
		case s.ok:
			unstated++
		default:
			rejected++
		}
	}
	t.Logf("%d inputs: %d accepted by both, %d rejected by both, %d rejected by the decoder for an unstated rule", len(inputs), accepted, rejected, unstated)
	for _, want := range []struct {
		what string
		n    int
	}{{"accepted by both", accepted}, {"rejected by both", rejected}, {"rejected for an unstated rule", unstated}} {
		if want.n == 0 {
			t.Errorf("no input was %s: the inputs no longer cover the contract", want.what)
		}
	}
}

// TestDisagreementNamesWhatDiffers breaks the schema in ways it could drift
// from the decoder and checks that the comparison catches each, naming the
// input, the decoder's verdict and the schema's.
func TestDisagreementNamesWhatDiffers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(detail map[string]any)
		input string // the input's name
		want  []string
	}{
		{"symbol's pattern loosened", func(d map[string]any) {
			property(d, "symbol")["pattern"] = "^[A-Za-z0-9./-]{1,16}$"
		}, "fuzz corpus FuzzDecodeValidate/invalid_symbol", []string{
			"input fuzz corpus FuzzDecodeValidate/invalid_symbol:", "decoder: rejects: INVALID_SYMBOL", "schema:  valid (execution-report.schema.json)",
			"rejects for INVALID_SYMBOL, a rule execution-report.schema.json states",
		}},
		{"seq's maximum raised", func(d map[string]any) {
			property(d, "seq")["maximum"] = 99999999999
		}, `probe ExecutionReport detail.seq = 10000000000`, []string{
			"decoder: rejects: INVALID_SEQ", "is not for the rule the schema leaves unstated (seq is written as plain digits",
		}},
		{"a required field dropped", func(d map[string]any) {
			var required []any
			for _, f := range d["required"].([]any) {
				if f != "avgPx" {
					required = append(required, f)
				}
			}
			d["required"] = required
		}, "probe ExecutionReport detail without avgPx", []string{"decoder: rejects: MISSING_FIELD: avgPx is missing", "schema:  valid"}},
		{"the price scale tightened", func(d map[string]any) {
			property(d, "price")["pattern"] = `^(?:|0*[1-9][0-9]*(?:\.[0-9]{1,7}0*)?|0+\.[0-9]{0,6}[1-9]0*)$`
		}, `probe ExecutionReport detail.price = "1.55555555"`, []string{
			"decoder: accepts", "schema:  rejects: execution-report.schema.json: at '/detail/price'", "the schema rejects an event the decoder accepts",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			er := ExecutionReport()
			var doc map[string]any
			if err := json.Unmarshal([]byte(er.Content), &doc); err != nil {
				t.Fatal(err)
			}
			tc.edit(doc["definitions"].(map[string]any)[er.DetailType].(map[string]any))
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			er.Content = string(b)
			v, err := compile([]Schema{er, Heartbeat()})
			if err != nil {
				t.Fatal(err)
			}
			var inputs []input
			inputs = append(inputs, corpus(t)...)
			inputs = append(inputs, probes()...)
			for _, in := range inputs {
				if in.name != tc.input {
					continue
				}
				msg := v.disagreement(in.name, in.raw)
				if msg == "" {
					t.Fatalf("no disagreement on %s", in.name)
				}
				for _, want := range tc.want {
					if !strings.Contains(msg, want) {
						t.Errorf("the message does not say %q:\n%s", want, msg)
					}
				}
				return
			}
			t.Fatalf("no input is named %q", tc.input)
		})
	}
}

// property returns the schema of a detail's property.
func property(detail map[string]any, name string) map[string]any {
	return detail["properties"].(map[string]any)[name].(map[string]any)
}
