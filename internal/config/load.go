package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tap-trading/tap/internal/schema"
)

// Context keys (cdk.json "context", cdk.context.json, or `cdk synth -c key=value`).
const (
	KeyEnv                          = "tap:env"
	KeyAccount                      = "tap:account"
	KeyPrimaryRegion                = "tap:primaryRegion"
	KeySecondaryRegion              = "tap:secondaryRegion"
	KeyAlertEmail                   = "tap:alertEmail"
	KeyBillingMode                  = "tap:billingMode"
	KeyReadCapacityMin              = "tap:readCapacityMin"
	KeyReadCapacityMax              = "tap:readCapacityMax"
	KeyWriteCapacityMin             = "tap:writeCapacityMin"
	KeyWriteCapacityMax             = "tap:writeCapacityMax"
	KeyProcessorMemoryMB            = "tap:processorMemoryMB"
	KeyProcessorReservedConcurrency = "tap:processorReservedConcurrency"
	KeyProcessorTimeoutSeconds      = "tap:processorTimeoutSeconds"
	KeyTargetRetryAttempts          = "tap:targetRetryAttempts"
	KeyTargetMaxEventAgeSeconds     = "tap:targetMaxEventAgeSeconds"
	KeyAsyncRetryAttempts           = "tap:asyncRetryAttempts"
	KeyAsyncMaxEventAgeSeconds      = "tap:asyncMaxEventAgeSeconds"
	KeyLogRetentionDays             = "tap:logRetentionDays"
	KeyArchiveRetentionDays         = "tap:archiveRetentionDays"
	KeyLogLevel                     = "tap:logLevel"
	KeyDLQRetentionDays             = "tap:dlqRetentionDays"
	KeyHealthCheckInsufficientData  = "tap:healthCheckInsufficientData"
	KeyTableConsistency             = "tap:tableConsistency"
	KeyMRSCThirdRegion              = "tap:mrscThirdRegion"
	KeyMRSCThirdRegionRole          = "tap:mrscThirdRegionRole"
)

// Environment variables for the settings that say where to deploy. Context wins
// over them, so an explicit `-c` is never silently overridden. The table's
// consistency and MRSC third region are among them: like the regions, they
// are fixed when the table is created (a global table's consistency mode
// cannot change, nor can an MRSC table gain or lose a replica or witness), so
// they belong to the environment, not to tuning in cdk.json.
const (
	EnvEnv                 = "TAP_ENV"
	EnvAccount             = "TAP_ACCOUNT"
	EnvDefaultAccount      = "CDK_DEFAULT_ACCOUNT" // set by the CDK CLI from the credentials
	EnvPrimaryRegion       = "TAP_PRIMARY_REGION"
	EnvSecondaryRegion     = "TAP_SECONDARY_REGION"
	EnvAlertEmail          = "TAP_ALERT_EMAIL"
	EnvTableConsistency    = "TAP_TABLE_CONSISTENCY"
	EnvMRSCThirdRegion     = "TAP_MRSC_THIRD_REGION"
	EnvMRSCThirdRegionRole = "TAP_MRSC_THIRD_REGION_ROLE"
)

// PlaceholderAlertEmail is used when no alert email is configured, so that
// `make synth` works out of the box; alarms would notify nobody real.
const PlaceholderAlertEmail = "tap-alerts@example.com"

// Service limits the retry settings must respect.
const (
	maxTargetRetryAttempts = 185       // EventBridge RetryPolicy.MaximumRetryAttempts
	minTargetEventAge      = 60        // EventBridge RetryPolicy.MaximumEventAgeInSeconds
	maxTargetEventAge      = 86400     //
	maxAsyncRetryAttempts  = 2         // Lambda EventInvokeConfig.MaximumRetryAttempts
	minAsyncEventAge       = 60        // Lambda EventInvokeConfig.MaximumEventAgeInSeconds
	maxAsyncEventAge       = 21600     //
	minMemoryMB            = 128       // Lambda MemorySize
	maxMemoryMB            = 10240     //
	maxTimeoutSeconds      = 900       // Lambda Timeout
	maxReservedConcurrency = 1_000_000 // far above any account quota; Lambda enforces the real one
	minDLQRetentionDays    = 1         // SQS MessageRetentionPeriod: 60 s to 14 days, in whole days here
	maxDLQRetentionDays    = 14        //
)

// LogRetentionValues are the retention periods CloudWatch Logs accepts, in days.
var LogRetentionValues = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// InsufficientDataHealthStatuses are the values Route 53 accepts for a
// CLOUDWATCH_METRIC health check's InsufficientDataHealthStatus.
var InsufficientDataHealthStatuses = []string{"Healthy", "Unhealthy", "LastKnownStatus"}

// LogLevels are the processor log levels (POWERTOOLS_LOG_LEVEL).
var LogLevels = []string{"DEBUG", "INFO", "WARN", "ERROR"}

var (
	envNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,14}[a-z0-9]$|^[a-z]$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-(central|north|south|east|west|northeast|northwest|southeast|southwest)-[1-9]$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
)

// Defaults returns the configuration used for every setting nobody set.
// cdk.json repeats the tuning defaults (a test keeps the two equal).
func Defaults() Config {
	return Config{
		Env:                  "dev",
		PrimaryRegion:        "us-east-1",
		SecondaryRegion:      "us-west-2",
		BillingMode:          OnDemand,
		TableConsistency:     schema.Eventual,
		ReadCapacity:         Capacity{Min: 5, Max: 100},
		WriteCapacity:        Capacity{Min: 5, Max: 100},
		ProcessorMemoryMB:    1769,
		ProcessorTimeout:     30 * time.Second,
		TargetRetryAttempts:  maxTargetRetryAttempts,
		TargetMaxEventAge:    maxTargetEventAge * time.Second,
		AsyncRetryAttempts:   maxAsyncRetryAttempts,
		AsyncMaxEventAge:     maxAsyncEventAge * time.Second,
		LogRetentionDays:     30,
		ArchiveRetentionDays: 90,
		LogLevel:             "INFO",
		DLQRetention:         maxDLQRetentionDays * 24 * time.Hour,
		// Unhealthy, so the endpoint fails over when the primary's
		// CloudWatch cannot evaluate the alarm in a regional outage (the
		// evidence is in DESIGN §1).
		HealthCheckInsufficientData: "Unhealthy",
	}
}

// Load builds the configuration from CDK context values (key → value as CDK
// holds them: strings from `-c`, JSON numbers/strings from cdk.json) and
// environment variables. It is pure, so every rule is unit-tested; all invalid
// settings are reported together, one line each.
func Load(context map[string]any, env map[string]string) (Config, error) {
	c := Defaults()
	r := reader{ctx: context, env: env}

	c.Env = r.str(KeyEnv, EnvEnv, c.Env)
	c.Account = r.str(KeyAccount, EnvAccount, r.str("", EnvDefaultAccount, ""))
	c.PrimaryRegion = r.str(KeyPrimaryRegion, EnvPrimaryRegion, c.PrimaryRegion)
	c.SecondaryRegion = r.str(KeySecondaryRegion, EnvSecondaryRegion, c.SecondaryRegion)
	c.AlertEmail = r.str(KeyAlertEmail, EnvAlertEmail, "")
	c.BillingMode = BillingMode(r.str(KeyBillingMode, "", string(c.BillingMode)))
	c.ReadCapacity.Min = r.integer(KeyReadCapacityMin, c.ReadCapacity.Min)
	c.ReadCapacity.Max = r.integer(KeyReadCapacityMax, c.ReadCapacity.Max)
	c.WriteCapacity.Min = r.integer(KeyWriteCapacityMin, c.WriteCapacity.Min)
	c.WriteCapacity.Max = r.integer(KeyWriteCapacityMax, c.WriteCapacity.Max)
	c.ProcessorMemoryMB = r.integer(KeyProcessorMemoryMB, c.ProcessorMemoryMB)
	c.ProcessorReservedConcurrency = r.integer(KeyProcessorReservedConcurrency, c.ProcessorReservedConcurrency)
	c.ProcessorTimeout = r.seconds(KeyProcessorTimeoutSeconds, c.ProcessorTimeout)
	c.TargetRetryAttempts = r.integer(KeyTargetRetryAttempts, c.TargetRetryAttempts)
	c.TargetMaxEventAge = r.seconds(KeyTargetMaxEventAgeSeconds, c.TargetMaxEventAge)
	c.AsyncRetryAttempts = r.integer(KeyAsyncRetryAttempts, c.AsyncRetryAttempts)
	c.AsyncMaxEventAge = r.seconds(KeyAsyncMaxEventAgeSeconds, c.AsyncMaxEventAge)
	c.LogRetentionDays = r.integer(KeyLogRetentionDays, c.LogRetentionDays)
	c.ArchiveRetentionDays = r.integer(KeyArchiveRetentionDays, c.ArchiveRetentionDays)
	c.LogLevel = strings.ToUpper(r.str(KeyLogLevel, "", c.LogLevel))
	c.DLQRetention = time.Duration(r.integer(KeyDLQRetentionDays, int(c.DLQRetention/(24*time.Hour)))) * 24 * time.Hour
	c.HealthCheckInsufficientData = r.str(KeyHealthCheckInsufficientData, "", c.HealthCheckInsufficientData)
	if v := r.str(KeyTableConsistency, EnvTableConsistency, ""); v != "" {
		mode, err := schema.ParseConsistency(v)
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s=%q: must be %q (multi-Region eventual consistency, MREC, the default) or %q (multi-Region strong consistency, MRSC)",
				KeyTableConsistency, v, schema.Eventual, schema.Strong))
		} else {
			c.TableConsistency = mode
		}
	}
	// The third region and its role are read as given, so validation can
	// tell one set under eventual consistency (an error) from a default.
	c.MRSCThirdRegion = r.str(KeyMRSCThirdRegion, EnvMRSCThirdRegion, "")
	c.MRSCThirdRegionRole = ThirdRegionRole(r.str(KeyMRSCThirdRegionRole, EnvMRSCThirdRegionRole, ""))
	if c.TableConsistency == schema.Strong {
		if c.MRSCThirdRegionRole == "" {
			c.MRSCThirdRegionRole = Witness
		}
		if c.MRSCThirdRegion == "" {
			c.MRSCThirdRegion = defaultThirdRegion(c.PrimaryRegion, c.SecondaryRegion)
		}
	}

	if c.AlertEmail == "" {
		c.AlertEmail = PlaceholderAlertEmail
		c.Warnings = append(c.Warnings, fmt.Sprintf(
			"WARNING: %s is not set; alarms will notify the placeholder %s. Set -c %s=<address> or %s before cdk deploy.",
			KeyAlertEmail, PlaceholderAlertEmail, KeyAlertEmail, EnvAlertEmail))
	}

	errs := append(r.errs, c.validate()...)
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("invalid TAP configuration:\n%w", errors.Join(errs...))
	}
	return c, nil
}

// validate checks every setting against what the services accept.
func (c Config) validate() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if !envNameRE.MatchString(c.Env) {
		bad("%s=%q: must be 1-16 characters of a-z, 0-9 and '-', starting with a letter and not ending with '-' (it prefixes every resource name)", KeyEnv, c.Env)
	}
	if c.Account != "" && !accountRE.MatchString(c.Account) {
		bad("%s=%q: must be a 12-digit AWS account ID (or unset to use the deploying credentials' account)", KeyAccount, c.Account)
	}
	for _, kv := range [][2]string{{KeyPrimaryRegion, c.PrimaryRegion}, {KeySecondaryRegion, c.SecondaryRegion}} {
		if !regionRE.MatchString(kv[1]) {
			bad("%s=%q: not an AWS region name; expected the form us-east-1, eu-west-2, ap-southeast-1", kv[0], kv[1])
		}
	}
	if c.PrimaryRegion == c.SecondaryRegion {
		bad("%s and %s are both %q: the secondary region must differ from the primary (failover needs two regions)", KeyPrimaryRegion, KeySecondaryRegion, c.PrimaryRegion)
	}
	if addr, err := mail.ParseAddress(c.AlertEmail); err != nil || addr.Address != c.AlertEmail || addr.Name != "" {
		bad("%s=%q: must be a plain email address like ops@example.com", KeyAlertEmail, c.AlertEmail)
	}
	switch c.BillingMode {
	case OnDemand, Provisioned:
	default:
		bad("%s=%q: must be %q or %q", KeyBillingMode, c.BillingMode, OnDemand, Provisioned)
	}
	if c.BillingMode == Provisioned {
		checkCapacity := func(minKey, maxKey string, cap Capacity) {
			if cap.Min < 1 {
				bad("%s=%d: must be at least 1 capacity unit", minKey, cap.Min)
			}
			if cap.Min > cap.Max {
				bad("%s=%d is greater than %s=%d: the minimum must be at most the maximum", minKey, cap.Min, maxKey, cap.Max)
			}
		}
		checkCapacity(KeyReadCapacityMin, KeyReadCapacityMax, c.ReadCapacity)
		checkCapacity(KeyWriteCapacityMin, KeyWriteCapacityMax, c.WriteCapacity)
	}
	inRange := func(key string, v, lo, hi int, unit string) {
		if v < lo || v > hi {
			bad("%s=%d: must be from %d to %d%s", key, v, lo, hi, unit)
		}
	}
	inRange(KeyProcessorMemoryMB, c.ProcessorMemoryMB, minMemoryMB, maxMemoryMB, " MB")
	if c.ProcessorReservedConcurrency != 0 {
		inRange(KeyProcessorReservedConcurrency, c.ProcessorReservedConcurrency, 1, maxReservedConcurrency, " (0 or unset: unreserved)")
	}
	inRange(KeyProcessorTimeoutSeconds, int(c.ProcessorTimeout/time.Second), 1, maxTimeoutSeconds, " seconds")
	inRange(KeyTargetRetryAttempts, c.TargetRetryAttempts, 0, maxTargetRetryAttempts, " (EventBridge target retry limit)")
	inRange(KeyTargetMaxEventAgeSeconds, int(c.TargetMaxEventAge/time.Second), minTargetEventAge, maxTargetEventAge, " seconds (EventBridge target limit)")
	inRange(KeyAsyncRetryAttempts, c.AsyncRetryAttempts, 0, maxAsyncRetryAttempts, " (Lambda asynchronous invocation limit)")
	inRange(KeyAsyncMaxEventAgeSeconds, int(c.AsyncMaxEventAge/time.Second), minAsyncEventAge, maxAsyncEventAge, " seconds (Lambda asynchronous invocation limit)")
	if !slices.Contains(LogRetentionValues, c.LogRetentionDays) {
		bad("%s=%d: must be one of the CloudWatch Logs retention periods %v", KeyLogRetentionDays, c.LogRetentionDays, LogRetentionValues)
	}
	if c.ArchiveRetentionDays < 0 {
		bad("%s=%d: must be 0 (keep forever) or a positive number of days", KeyArchiveRetentionDays, c.ArchiveRetentionDays)
	}
	inRange(KeyDLQRetentionDays, int(c.DLQRetention/(24*time.Hour)), minDLQRetentionDays, maxDLQRetentionDays, " days (SQS retention limit)")
	if !slices.Contains(InsufficientDataHealthStatuses, c.HealthCheckInsufficientData) {
		bad("%s=%q: must be one of %s (Route 53's InsufficientDataHealthStatus)", KeyHealthCheckInsufficientData, c.HealthCheckInsufficientData, strings.Join(InsufficientDataHealthStatuses, ", "))
	}
	if !slices.Contains(LogLevels, c.LogLevel) {
		bad("%s=%q: must be one of %s", KeyLogLevel, c.LogLevel, strings.Join(LogLevels, ", "))
	}
	return append(errs, c.validateConsistency()...)
}

// reader looks settings up in context first, then in the environment, and
// collects parse errors instead of stopping at the first.
type reader struct {
	ctx  map[string]any
	env  map[string]string
	errs []error
}

// raw returns the setting's value as text and whether it was set.
func (r *reader) raw(key, envKey string) (string, bool) {
	if key != "" {
		if v, ok := r.ctx[key]; ok && v != nil {
			switch v := v.(type) {
			case string:
				if v != "" {
					return v, true
				}
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64), true
			case json.Number:
				return v.String(), true
			case int:
				return strconv.Itoa(v), true
			default:
				return fmt.Sprint(v), true
			}
		}
	}
	if envKey != "" {
		if v := strings.TrimSpace(r.env[envKey]); v != "" {
			return v, true
		}
	}
	return "", false
}

func (r *reader) str(key, envKey, def string) string {
	if v, ok := r.raw(key, envKey); ok {
		return strings.TrimSpace(v)
	}
	return def
}

func (r *reader) integer(key string, def int) int {
	v, ok := r.raw(key, "")
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: must be a whole number", key, v))
		return def
	}
	return int(f)
}

func (r *reader) seconds(key string, def time.Duration) time.Duration {
	return time.Duration(r.integer(key, int(def/time.Second))) * time.Second
}
