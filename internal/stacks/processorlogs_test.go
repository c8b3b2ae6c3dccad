package stacks

import "testing"

// The processor's logs are JSON with Lambda's log levels set: the application
// level is the configured one (INFO by default; never above INFO, see
// infra.lambdaApplicationLevel), and Lambda's own START/END/REPORT lines
// (INFO) are not shipped — more than half of the log bytes per event
// otherwise (issue 11).
func TestProcessorLoggingConfig(t *testing.T) {
	for _, region := range cfg.Regions() {
		t.Run(region, func(t *testing.T) {
			hasResource(t, processingTemplate(region), "AWS::Lambda::Function", map[string]any{
				"MemorySize": cfg.ProcessorMemoryMB,
				"LoggingConfig": map[string]any{
					"LogFormat":           "JSON",
					"ApplicationLogLevel": cfg.LogLevel,
					"SystemLogLevel":      "WARN",
				},
			})
		})
	}
}
