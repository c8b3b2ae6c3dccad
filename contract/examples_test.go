package contract

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tap-trading/tap/internal/event"
)

// TestValidExamplesValidate: every examples/valid file is accepted by the
// decoder, validates as a delivered event against its detail type's schema,
// and validates as a Detail (what a producer puts) against
// definitions/<DetailType>.
func TestValidExamplesValidate(t *testing.T) {
	v := schemas(t)
	for _, f := range exampleFiles(t, "valid") {
		dec := decoderSays(f.event, now)
		if !dec.ok {
			t.Errorf("%s: the decoder %s; examples/ must hold only valid events here", f.path, dec)
		}
		if s := v.says(f.event); !s.ok || s.detailType != f.detailType {
			t.Errorf("%s, as a delivered %s event:\n\tdecoder: %s\n\tschema:  %s", f.path, f.detailType, dec, s)
		}
		if s := v.saysDetail(f.detailType, f.detail); !s.ok {
			t.Errorf("%s, as the Detail of a %s event:\n\tdecoder: %s\n\tschema:  %s", f.path, f.detailType, dec, s)
		}
	}
}

// TestInvalidExamplesFail: every examples/invalid/REASON.json is rejected by
// the decoder with REASON, and by the schema, as an event and as a Detail;
// unless REASON is one of the schema's Unstated rules, and then the schema
// accepts it, since each example breaks exactly one rule.
func TestInvalidExamplesFail(t *testing.T) {
	v := schemas(t)
	unstated := map[string]map[event.Reason]bool{}
	for _, s := range Schemas() {
		unstated[s.DetailType] = map[event.Reason]bool{}
		for _, r := range s.Unstated {
			unstated[s.DetailType][r.Reason] = true
		}
	}
	for _, f := range exampleFiles(t, "invalid") {
		reason := event.Reason(strings.TrimSuffix(filepath.Base(f.path), ".json"))
		dec := decoderSays(f.event, now)
		if dec.ok || dec.reason != reason {
			t.Errorf("%s: the decoder %s, want %s (examples/examples_test.go holds this too)", f.path, dec, reason)
			continue
		}
		// Only an unstated rule makes the schema accept it: INVALID_SEQ and
		// DECIMAL_PRECISION are also the reasons of rules it states.
		wantValid := unstated[f.detailType][reason] && (confirms[reason] == nil || confirms[reason](f.event))
		for _, s := range []struct {
			as string
			verdict
		}{{"a delivered " + f.detailType + " event", v.says(f.event)}, {"the Detail of a " + f.detailType + " event", v.saysDetail(f.detailType, f.detail)}} {
			if s.ok != wantValid {
				want := "rejects it, as the decoder does"
				if wantValid {
					want = "accepts it: " + string(reason) + " is a rule it does not state"
				}
				t.Errorf("%s, as %s:\n\tdecoder: %s\n\tschema:  %s\n\twant: the schema %s", f.path, s.as, dec, s.verdict, want)
			}
		}
	}
}
