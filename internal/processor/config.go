package processor

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/tap-trading/tap/internal/logging"
	"github.com/tap-trading/tap/internal/schema"
)

// Config is the processor's configuration, read once at init from the
// environment the CDK app sets (DESIGN §4). The AWS SDK reads its own standard
// variables (region, credentials, AWS_ENDPOINT_URL) itself.
type Config struct {
	// TableName is the orders table (TABLE_NAME).
	TableName string
	// ProcessingDLQURL is the processing dead-letter queue (PROCESSING_DLQ_URL).
	ProcessingDLQURL string
	// ServiceName is the service key of logs and the metrics dimension
	// (POWERTOOLS_SERVICE_NAME).
	ServiceName string
	// MetricsNamespace is the EMF namespace (POWERTOOLS_METRICS_NAMESPACE).
	MetricsNamespace string
	// LogLevel is the minimum log level (POWERTOOLS_LOG_LEVEL; default INFO).
	LogLevel slog.Level
	// Region is the region this processor runs in (AWS_REGION), recorded as
	// processedRegion and sent with dead letters.
	Region string
	// FunctionName is AWS_LAMBDA_FUNCTION_NAME; empty outside Lambda.
	FunctionName string
	// TableConsistency is the global table's mode (TABLE_CONSISTENCY:
	// eventual, the default, or strong): what the store may rely on.
	TableConsistency schema.Consistency
}

// Environment variable names the processor reads.
const (
	EnvTableName        = "TABLE_NAME"
	EnvProcessingDLQURL = "PROCESSING_DLQ_URL"
	EnvServiceName      = "POWERTOOLS_SERVICE_NAME"
	EnvMetricsNamespace = "POWERTOOLS_METRICS_NAMESPACE"
	EnvLogLevel         = "POWERTOOLS_LOG_LEVEL"
	EnvRegion           = "AWS_REGION"
	EnvFunctionName     = "AWS_LAMBDA_FUNCTION_NAME"
	EnvTableConsistency = "TABLE_CONSISTENCY"
)

// ConfigFromEnv reads and validates the configuration. Every missing variable
// is named in one error, so a broken deployment is fixed in one go.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		TableName:        getenv(EnvTableName),
		ProcessingDLQURL: getenv(EnvProcessingDLQURL),
		ServiceName:      getenv(EnvServiceName),
		MetricsNamespace: getenv(EnvMetricsNamespace),
		Region:           getenv(EnvRegion),
		FunctionName:     getenv(EnvFunctionName),
		LogLevel:         slog.LevelInfo,
	}
	var missing []string
	for _, v := range []struct{ name, value string }{
		{EnvTableName, cfg.TableName},
		{EnvProcessingDLQURL, cfg.ProcessingDLQURL},
		{EnvServiceName, cfg.ServiceName},
		{EnvMetricsNamespace, cfg.MetricsNamespace},
		{EnvRegion, cfg.Region},
	} {
		if v.value == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		return Config{}, fmt.Errorf("processor config: missing environment variable(s) %s", strings.Join(missing, ", "))
	}
	if lvl := getenv(EnvLogLevel); lvl != "" {
		l, err := logging.ParseLevel(lvl)
		if err != nil {
			return Config{}, fmt.Errorf("processor config: %s: %w", EnvLogLevel, err)
		}
		cfg.LogLevel = l
	}
	c, err := schema.ParseConsistency(getenv(EnvTableConsistency))
	if err != nil {
		return Config{}, fmt.Errorf("processor config: %s: %w", EnvTableConsistency, err)
	}
	cfg.TableConsistency = c
	return cfg, nil
}
