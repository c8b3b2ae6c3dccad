package infra

import "testing"

// Lambda's application level never filters above INFO: the EMF documents
// carry no level, count as INFO, and must always be shipped.
func TestLambdaApplicationLevel(t *testing.T) {
	for in, want := range map[string]string{"DEBUG": "DEBUG", "INFO": "INFO", "WARN": "INFO", "ERROR": "INFO"} {
		if got := lambdaApplicationLevel(in); got != want {
			t.Errorf("lambdaApplicationLevel(%q) = %q, want %q", in, got, want)
		}
	}
}
