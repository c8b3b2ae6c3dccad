package config

import "strings"

// Keys lists every context key Load reads.
func Keys() []string {
	return []string{
		KeyEnv, KeyAccount, KeyPrimaryRegion, KeySecondaryRegion, KeyAlertEmail,
		KeyBillingMode, KeyReadCapacityMin, KeyReadCapacityMax, KeyWriteCapacityMin, KeyWriteCapacityMax,
		KeyProcessorMemoryMB, KeyProcessorReservedConcurrency, KeyProcessorTimeoutSeconds,
		KeyTargetRetryAttempts, KeyTargetMaxEventAgeSeconds, KeyAsyncRetryAttempts, KeyAsyncMaxEventAgeSeconds,
		KeyLogRetentionDays, KeyArchiveRetentionDays, KeyLogLevel, KeyDLQRetentionDays, KeyHealthCheckInsufficientData,
		KeyTableConsistency, KeyMRSCThirdRegion, KeyMRSCThirdRegionRole,
	}
}

// ContextReader is the part of a CDK construct node Load needs
// (awscdk.App.Node() satisfies it).
type ContextReader interface {
	TryGetContext(key *string) interface{}
}

// FromCDK reads every TAP context key from node and the environment (as
// os.Environ returns it) and loads the configuration.
func FromCDK(node ContextReader, environ []string) (Config, error) {
	ctx := make(map[string]any)
	for _, k := range Keys() {
		if v := node.TryGetContext(&k); v != nil {
			ctx[k] = v
		}
	}
	return Load(ctx, EnvMap(environ))
}

// EnvMap turns "KEY=value" pairs into a map.
func EnvMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
