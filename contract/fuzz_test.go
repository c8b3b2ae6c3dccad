package contract

import "testing"

// FuzzSchemaMatchesDecoder is the differential test on arbitrary bytes:
// `go test -fuzz FuzzSchemaMatchesDecoder ./contract/` searches for an event
// the decoder and the schemas judge differently. It starts from the
// decoder's fuzz corpus and the examples, and skips the known divergences
// (knownDivergence), which are the decoder's to fix.
func FuzzSchemaMatchesDecoder(f *testing.F) {
	for _, in := range corpus(f) {
		f.Add(in.raw)
	}
	for _, in := range examples(f) {
		f.Add(in.raw)
	}
	v := schemas(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg := v.disagreement("fuzz input", raw)
		if msg == "" {
			return
		}
		if why := knownDivergence(raw); why != "" {
			t.Skip(why)
		}
		t.Fatalf("%s\n\tinput: %q", msg, raw)
	})
}
