package processor_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/schema"
)

// fullEnv is a complete processor environment, as the CDK app sets it.
func fullEnv() map[string]string {
	return map[string]string{
		processor.EnvTableName:        "tap-dev-orders",
		processor.EnvProcessingDLQURL: "https://sqs.eu-central-1.amazonaws.com/123456789012/tap-dev-processing-dlq",
		processor.EnvServiceName:      "tap-processor",
		processor.EnvMetricsNamespace: "TAP",
		processor.EnvLogLevel:         "DEBUG",
		processor.EnvRegion:           "eu-central-1",
		processor.EnvFunctionName:     "tap-dev-processor",
	}
}

// getenv looks up env, as os.Getenv would in a process with that environment.
func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func TestConfigFromEnvReadsEveryVariable(t *testing.T) {
	got, err := processor.ConfigFromEnv(getenv(fullEnv()))
	if err != nil {
		t.Fatalf("ConfigFromEnv(complete environment) error = %v", err)
	}
	want := processor.Config{
		TableName:        "tap-dev-orders",
		ProcessingDLQURL: "https://sqs.eu-central-1.amazonaws.com/123456789012/tap-dev-processing-dlq",
		ServiceName:      "tap-processor",
		MetricsNamespace: "TAP",
		LogLevel:         slog.LevelDebug,
		Region:           "eu-central-1",
		FunctionName:     "tap-dev-processor",
		TableConsistency: schema.Eventual, // the default: fullEnv leaves it unset
	}
	if got != want {
		t.Errorf("ConfigFromEnv = %+v, want %+v", got, want)
	}
}

func TestConfigFromEnvLogLevel(t *testing.T) {
	tests := []struct {
		value string
		want  slog.Level
	}{
		{"", slog.LevelInfo}, // the default
		{"DEBUG", slog.LevelDebug},
		{"info", slog.LevelInfo},
		{"WARN", slog.LevelWarn},
		{"warning", slog.LevelWarn},
		{"ERROR", slog.LevelError},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			env := fullEnv()
			env[processor.EnvLogLevel] = tc.value
			got, err := processor.ConfigFromEnv(getenv(env))
			if err != nil {
				t.Fatalf("ConfigFromEnv(%s=%q) error = %v", processor.EnvLogLevel, tc.value, err)
			}
			if got.LogLevel != tc.want {
				t.Errorf("ConfigFromEnv(%s=%q).LogLevel = %v, want %v", processor.EnvLogLevel, tc.value, got.LogLevel, tc.want)
			}
		})
	}
}

func TestConfigFromEnvTableConsistency(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  schema.Consistency
	}{{"", schema.Eventual}, {"eventual", schema.Eventual}, {"strong", schema.Strong}} {
		t.Run(tc.value, func(t *testing.T) {
			env := fullEnv()
			env[processor.EnvTableConsistency] = tc.value
			got, err := processor.ConfigFromEnv(getenv(env))
			if err != nil {
				t.Fatalf("ConfigFromEnv(%s=%q) error = %v", processor.EnvTableConsistency, tc.value, err)
			}
			if got.TableConsistency != tc.want {
				t.Errorf("ConfigFromEnv(%s=%q).TableConsistency = %q, want %q", processor.EnvTableConsistency, tc.value, got.TableConsistency, tc.want)
			}
		})
	}
}

func TestConfigFromEnvNamesWhatIsWrong(t *testing.T) {
	required := []string{
		processor.EnvTableName, processor.EnvProcessingDLQURL, processor.EnvServiceName,
		processor.EnvMetricsNamespace, processor.EnvRegion,
	}
	tests := []struct {
		name  string
		unset []string          // variables removed from fullEnv
		set   map[string]string // variables changed
		want  []string          // substrings of the error
		not   []string          // and what it must not name
	}{
		{name: "table", unset: []string{processor.EnvTableName}, want: []string{processor.EnvTableName},
			not: []string{processor.EnvProcessingDLQURL, processor.EnvServiceName, processor.EnvMetricsNamespace, processor.EnvRegion}},
		{name: "queue", unset: []string{processor.EnvProcessingDLQURL}, want: []string{processor.EnvProcessingDLQURL}},
		{name: "service", unset: []string{processor.EnvServiceName}, want: []string{processor.EnvServiceName}},
		{name: "namespace", unset: []string{processor.EnvMetricsNamespace}, want: []string{processor.EnvMetricsNamespace}},
		{name: "region", unset: []string{processor.EnvRegion}, want: []string{processor.EnvRegion}},
		{name: "all at once", unset: required, want: required},
		{name: "bad log level", set: map[string]string{processor.EnvLogLevel: "VERBOSE"},
			want: []string{processor.EnvLogLevel, `"VERBOSE"`, "DEBUG, INFO, WARN"}},
		{name: "bad table consistency", set: map[string]string{processor.EnvTableConsistency: "STRONG"},
			want: []string{processor.EnvTableConsistency, `"STRONG"`, `"eventual" or "strong"`}},
		{name: "missing beats bad level", unset: []string{processor.EnvTableName}, set: map[string]string{processor.EnvLogLevel: "VERBOSE"},
			want: []string{processor.EnvTableName}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := fullEnv()
			for _, k := range tc.unset {
				delete(env, k)
			}
			for k, v := range tc.set {
				env[k] = v
			}
			got, err := processor.ConfigFromEnv(getenv(env))
			if err == nil {
				t.Fatalf("ConfigFromEnv = %+v, nil; want an error naming %v", got, tc.want)
			}
			if got != (processor.Config{}) {
				t.Errorf("ConfigFromEnv returned %+v with its error, want the zero Config", got)
			}
			msg := err.Error()
			if strings.Count(msg, "\n") != 0 {
				t.Errorf("error %q spans several lines, want one message", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not name %s", msg, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(msg, n) {
					t.Errorf("error %q names %s, which is set", msg, n)
				}
			}
		})
	}
}

// A variable that is set but empty is as missing as an unset one: Lambda
// cannot tell them apart in its console, and neither can a broken template.
func TestConfigFromEnvTreatsEmptyAsMissing(t *testing.T) {
	env := fullEnv()
	env[processor.EnvProcessingDLQURL] = ""
	if _, err := processor.ConfigFromEnv(getenv(env)); err == nil || !strings.Contains(err.Error(), processor.EnvProcessingDLQURL) {
		t.Errorf("ConfigFromEnv(%s=\"\") error = %v, want one naming it", processor.EnvProcessingDLQURL, err)
	}
}

// The function name is optional: it is empty outside Lambda (tests, tapctl
// local).
func TestConfigFromEnvFunctionNameOptional(t *testing.T) {
	env := fullEnv()
	delete(env, processor.EnvFunctionName)
	got, err := processor.ConfigFromEnv(getenv(env))
	if err != nil {
		t.Fatalf("ConfigFromEnv without %s error = %v, want none", processor.EnvFunctionName, err)
	}
	if got.FunctionName != "" {
		t.Errorf("FunctionName = %q, want empty", got.FunctionName)
	}
}
