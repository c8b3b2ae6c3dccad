package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/schema"
)

// validEnv is an environment whose settings are all valid, so each case below
// breaks exactly one thing.
var validEnv = map[string]string{EnvAlertEmail: "ops@example.com"}

func TestLoadRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		ctx  map[string]any
		want string // substring of the error naming the setting and allowed values
	}{
		{"same region twice", map[string]any{KeyPrimaryRegion: "eu-west-1", KeySecondaryRegion: "eu-west-1"},
			`tap:primaryRegion and tap:secondaryRegion are both "eu-west-1": the secondary region must differ`},
		{"unknown primary region format", map[string]any{KeyPrimaryRegion: "useast1"},
			`tap:primaryRegion="useast1": not an AWS region name; expected the form us-east-1`},
		{"unknown secondary region format", map[string]any{KeySecondaryRegion: "US-WEST-2"},
			`tap:secondaryRegion="US-WEST-2": not an AWS region name`},
		{"malformed email", map[string]any{KeyAlertEmail: "ops-at-example.com"},
			`tap:alertEmail="ops-at-example.com": must be a plain email address`},
		{"email with display name", map[string]any{KeyAlertEmail: "Ops <ops@example.com>"},
			`tap:alertEmail="Ops <ops@example.com>": must be a plain email address`},
		{"env name with capitals", map[string]any{KeyEnv: "Prod"},
			`tap:env="Prod": must be 1-16 characters of a-z, 0-9 and '-'`},
		{"env name too long", map[string]any{KeyEnv: "abcdefghijklmnopq"},
			`tap:env="abcdefghijklmnopq": must be 1-16 characters`},
		{"env name ending in dash", map[string]any{KeyEnv: "dev-"},
			`tap:env="dev-": must be 1-16 characters`},
		{"malformed account", map[string]any{KeyAccount: "12345"},
			`tap:account="12345": must be a 12-digit AWS account ID`},
		{"DLQ retention above the SQS maximum", map[string]any{KeyDLQRetentionDays: "15"},
			"tap:dlqRetentionDays=15: must be from 1 to 14 days"},
		{"unknown insufficient-data status", map[string]any{KeyHealthCheckInsufficientData: "Sometimes"},
			`tap:healthCheckInsufficientData="Sometimes": must be one of Healthy, Unhealthy, LastKnownStatus`},
		{"target retries above EventBridge max", map[string]any{KeyTargetRetryAttempts: 186.0},
			`tap:targetRetryAttempts=186: must be from 0 to 185`},
		{"target retries negative", map[string]any{KeyTargetRetryAttempts: "-1"},
			`tap:targetRetryAttempts=-1: must be from 0 to 185`},
		{"target event age below EventBridge min", map[string]any{KeyTargetMaxEventAgeSeconds: "59"},
			`tap:targetMaxEventAgeSeconds=59: must be from 60 to 86400 seconds`},
		{"target event age above EventBridge max", map[string]any{KeyTargetMaxEventAgeSeconds: 86401.0},
			`tap:targetMaxEventAgeSeconds=86401: must be from 60 to 86400 seconds`},
		{"async retries above Lambda max", map[string]any{KeyAsyncRetryAttempts: "3"},
			`tap:asyncRetryAttempts=3: must be from 0 to 2`},
		{"async event age below Lambda min", map[string]any{KeyAsyncMaxEventAgeSeconds: "30"},
			`tap:asyncMaxEventAgeSeconds=30: must be from 60 to 21600 seconds`},
		{"async event age above Lambda max", map[string]any{KeyAsyncMaxEventAgeSeconds: "21601"},
			`tap:asyncMaxEventAgeSeconds=21601: must be from 60 to 21600 seconds`},
		{"provisioned read min above max", map[string]any{KeyBillingMode: "provisioned", KeyReadCapacityMin: 50.0, KeyReadCapacityMax: 10.0},
			`tap:readCapacityMin=50 is greater than tap:readCapacityMax=10`},
		{"provisioned write min above max", map[string]any{KeyBillingMode: "provisioned", KeyWriteCapacityMin: "20", KeyWriteCapacityMax: "5"},
			`tap:writeCapacityMin=20 is greater than tap:writeCapacityMax=5`},
		{"provisioned min zero", map[string]any{KeyBillingMode: "provisioned", KeyWriteCapacityMin: "0"},
			`tap:writeCapacityMin=0: must be at least 1`},
		{"unknown billing mode", map[string]any{KeyBillingMode: "PAY_PER_REQUEST"},
			`tap:billingMode="PAY_PER_REQUEST": must be "on-demand" or "provisioned"`},
		{"memory too small", map[string]any{KeyProcessorMemoryMB: "64"},
			`tap:processorMemoryMB=64: must be from 128 to 10240 MB`},
		{"timeout above Lambda max", map[string]any{KeyProcessorTimeoutSeconds: "901"},
			`tap:processorTimeoutSeconds=901: must be from 1 to 900 seconds`},
		{"negative reserved concurrency", map[string]any{KeyProcessorReservedConcurrency: "-5"},
			`tap:processorReservedConcurrency=-5: must be from 1 to`},
		{"log retention not a CloudWatch period", map[string]any{KeyLogRetentionDays: "10"},
			`tap:logRetentionDays=10: must be one of the CloudWatch Logs retention periods [1 3 5 7 14 30`},
		{"negative archive retention", map[string]any{KeyArchiveRetentionDays: "-1"},
			`tap:archiveRetentionDays=-1: must be 0 (keep forever) or a positive number of days`},
		{"unknown log level", map[string]any{KeyLogLevel: "verbose"},
			`tap:logLevel="VERBOSE": must be one of DEBUG, INFO, WARN, ERROR`},
		{"not a number", map[string]any{KeyProcessorMemoryMB: "lots"},
			`tap:processorMemoryMB="lots": must be a whole number`},
		{"fractional number", map[string]any{KeyAsyncRetryAttempts: 1.5},
			`tap:asyncRetryAttempts="1.5": must be a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.ctx, validEnv)
			if err == nil {
				t.Fatalf("Load(%v) = nil error, want one containing %q", tt.ctx, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%v) error =\n%v\nwant it to contain %q", tt.ctx, err, tt.want)
			}
		})
	}
}

func TestLoadReportsEveryBadSettingAtOnce(t *testing.T) {
	_, err := Load(map[string]any{KeyEnv: "BAD", KeyAsyncRetryAttempts: "9"}, validEnv)
	if err == nil {
		t.Fatal("Load = nil error, want errors for tap:env and tap:asyncRetryAttempts")
	}
	for _, want := range []string{KeyEnv, KeyAsyncRetryAttempts} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load error = %v, want it to name %s", err, want)
		}
	}
}

func TestLoadDefaults(t *testing.T) {
	got, err := Load(nil, nil)
	if err != nil {
		t.Fatalf("Load(nil, nil) error = %v, want defaults", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Env", got.Env, "dev"},
		{"Account", got.Account, ""},
		{"PrimaryRegion", got.PrimaryRegion, "us-east-1"},
		{"SecondaryRegion", got.SecondaryRegion, "us-west-2"},
		{"AlertEmail", got.AlertEmail, PlaceholderAlertEmail},
		{"BillingMode", got.BillingMode, OnDemand},
		{"TargetRetryAttempts", got.TargetRetryAttempts, 185},
		{"TargetMaxEventAge", got.TargetMaxEventAge, 24 * time.Hour},
		{"AsyncRetryAttempts", got.AsyncRetryAttempts, 2},
		{"AsyncMaxEventAge", got.AsyncMaxEventAge, 6 * time.Hour},
		{"LogLevel", got.LogLevel, "INFO"},
		{"TableConsistency", got.TableConsistency, schema.Eventual},
		{"MRSCThirdRegion", got.MRSCThirdRegion, ""},
		{"MRSCThirdRegionRole", got.MRSCThirdRegionRole, ThirdRegionRole("")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("default %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLoadWarnsWhenAlertEmailDefaulted(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantWarn bool
	}{
		{"unset", nil, true},
		{"from environment", map[string]string{EnvAlertEmail: "ops@example.com"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(nil, tt.env)
			if err != nil {
				t.Fatalf("Load error = %v", err)
			}
			warned := len(c.Warnings) == 1 && strings.Contains(c.Warnings[0], KeyAlertEmail)
			if warned != tt.wantWarn {
				t.Errorf("Warnings = %q, want a tap:alertEmail warning: %v", c.Warnings, tt.wantWarn)
			}
		})
	}
}

func TestLoadPrecedence(t *testing.T) {
	tests := []struct {
		name string
		ctx  map[string]any
		env  map[string]string
		get  func(Config) string
		want string
	}{
		{"account from CDK_DEFAULT_ACCOUNT", nil, map[string]string{EnvDefaultAccount: "111111111111"},
			func(c Config) string { return c.Account }, "111111111111"},
		{"TAP_ACCOUNT over CDK_DEFAULT_ACCOUNT", nil, map[string]string{EnvDefaultAccount: "111111111111", EnvAccount: "222222222222"},
			func(c Config) string { return c.Account }, "222222222222"},
		{"context account over environment", map[string]any{KeyAccount: "333333333333"}, map[string]string{EnvAccount: "222222222222"},
			func(c Config) string { return c.Account }, "333333333333"},
		{"env name from TAP_ENV", nil, map[string]string{EnvEnv: "staging"},
			func(c Config) string { return c.Env }, "staging"},
		{"context env over TAP_ENV", map[string]any{KeyEnv: "prod"}, map[string]string{EnvEnv: "staging"},
			func(c Config) string { return c.Env }, "prod"},
		{"regions from environment", nil, map[string]string{EnvPrimaryRegion: "eu-west-1", EnvSecondaryRegion: "eu-central-1"},
			func(c Config) string { return c.PrimaryRegion + "," + c.SecondaryRegion }, "eu-west-1,eu-central-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.ctx, tt.env)
			if err != nil {
				t.Fatalf("Load error = %v", err)
			}
			if got := tt.get(c); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadParsesContextTypes(t *testing.T) {
	// `-c key=value` yields strings; cdk.json yields JSON numbers.
	for _, v := range []any{"512", 512.0} {
		c, err := Load(map[string]any{KeyProcessorMemoryMB: v}, validEnv)
		if err != nil {
			t.Fatalf("Load(memory=%#v) error = %v", v, err)
		}
		if c.ProcessorMemoryMB != 512 {
			t.Errorf("Load(memory=%#v).ProcessorMemoryMB = %d, want 512", v, c.ProcessorMemoryMB)
		}
	}
}

func TestPeer(t *testing.T) {
	c := Defaults()
	if got := c.Peer("us-east-1"); got != "us-west-2" {
		t.Errorf("Peer(us-east-1) = %s, want us-west-2", got)
	}
	if got := c.Peer("us-west-2"); got != "us-east-1" {
		t.Errorf("Peer(us-west-2) = %s, want us-east-1", got)
	}
}

// TestCDKJSONMatchesDefaults keeps the tuning defaults written in cdk.json equal
// to Defaults(), so the documented default is the one synthesized either way.
func TestCDKJSONMatchesDefaults(t *testing.T) {
	ctx, err := ContextFiles("../..")
	if err != nil {
		t.Fatalf("ContextFiles error = %v", err)
	}
	fromFiles, err := Load(ctx, validEnv)
	if err != nil {
		t.Fatalf("Load(cdk.json context) error = %v", err)
	}
	fromDefaults, err := Load(nil, validEnv)
	if err != nil {
		t.Fatalf("Load(nil) error = %v", err)
	}
	if fmtConfig(fromFiles) != fmtConfig(fromDefaults) {
		t.Errorf("config from cdk.json =\n%s\nwant the defaults\n%s", fmtConfig(fromFiles), fmtConfig(fromDefaults))
	}
	for _, k := range []string{KeyEnv, KeyAccount, KeyPrimaryRegion, KeySecondaryRegion, KeyAlertEmail,
		KeyTableConsistency, KeyMRSCThirdRegion, KeyMRSCThirdRegionRole} {
		if _, ok := ctx[k]; ok {
			t.Errorf("cdk.json sets %s; it must not, or its environment variable could never take effect", k)
		}
	}
}

func fmtConfig(c Config) string {
	c.Warnings = nil
	return fmt.Sprintf("%+v", c)
}

// strong is the context of a strongly consistent table; each case adds to it.
func strong(kv ...any) map[string]any {
	ctx := map[string]any{KeyTableConsistency: "strong"}
	for i := 0; i+1 < len(kv); i += 2 {
		ctx[kv[i].(string)] = kv[i+1]
	}
	return ctx
}

// TestLoadRejectsBadConsistency: every MRSC rule, each error naming the
// setting, the rule AWS documents (with its page) and the fix.
func TestLoadRejectsBadConsistency(t *testing.T) {
	tests := []struct {
		name string
		ctx  map[string]any
		env  map[string]string
		want []string // substrings of one error line
	}{
		{"unknown mode", map[string]any{KeyTableConsistency: "linearizable"}, nil,
			[]string{`tap:tableConsistency="linearizable": must be "eventual"`, `or "strong"`}},
		{"replicas in two region sets", strong(KeyPrimaryRegion, "us-east-1", KeySecondaryRegion, "eu-west-1"), nil,
			[]string{`tap:secondaryRegion="eu-west-1"`, "cannot span Region sets", "not in the US (us-east-1, us-east-2, us-west-2) Region set of the primary", pageMRSC,
				"Fix: choose tap:secondaryRegion from us-east-2 or us-west-2, or set tap:tableConsistency=eventual"}},
		{"primary in no region set", strong(KeyPrimaryRegion, "sa-east-1", KeySecondaryRegion, "us-east-1"), nil,
			[]string{`tap:primaryRegion="sa-east-1"`, "available only in the Region sets US (us-east-1, us-east-2, us-west-2), EU (", pageMRSC,
				"Fix: choose tap:primaryRegion and tap:secondaryRegion in one of these sets"}},
		{"witness equal to the primary replica", strong(KeyMRSCThirdRegion, "us-east-1"), nil,
			[]string{`tap:mrscThirdRegion="us-east-1" is also tap:primaryRegion`, "a witness must be in a different Region than the two replicas", pageWitness,
				"Fix: set tap:mrscThirdRegion to us-east-2"}},
		{"witness equal to the secondary replica", strong(KeyMRSCThirdRegion, "us-west-2"), nil,
			[]string{`tap:mrscThirdRegion="us-west-2" is also tap:secondaryRegion`, pageWitness}},
		{"third replica equal to a replica", strong(KeyMRSCThirdRegion, "us-west-2", KeyMRSCThirdRegionRole, "replica"), nil,
			[]string{`tap:mrscThirdRegion="us-west-2" is also tap:secondaryRegion: a third replica must be in a different Region`}},
		{"witness in another region set", strong(KeyMRSCThirdRegion, "eu-west-1"), nil,
			[]string{`tap:mrscThirdRegion="eu-west-1" is not in the US (us-east-1, us-east-2, us-west-2) Region set of the replicas`, "within the same Region set", pageWitness,
				"Fix: set tap:mrscThirdRegion to us-east-2"}},
		{"witness in no region set", strong(KeyMRSCThirdRegion, "us-west-1"), nil,
			[]string{`tap:mrscThirdRegion="us-west-1" is not in the US (`}},
		{"malformed third region", strong(KeyMRSCThirdRegion, "ohio"), nil,
			[]string{`tap:mrscThirdRegion="ohio": not an AWS region name`}},
		{"third region required where the set has a choice", strong(KeyPrimaryRegion, "eu-west-1", KeySecondaryRegion, "eu-central-1"), nil,
			[]string{"tap:mrscThirdRegion is required with tap:tableConsistency=strong in the EU", "exactly three Regions", pageMRSC,
				"Fix: set tap:mrscThirdRegion to eu-west-2 or eu-west-3"}},
		{"unknown role", strong(KeyMRSCThirdRegionRole, "observer"), nil,
			[]string{`tap:mrscThirdRegionRole="observer": must be "witness"`, `or "replica"`}},
		{"third region in eventual mode", map[string]any{KeyMRSCThirdRegion: "us-east-2"}, nil,
			[]string{`tap:mrscThirdRegion="us-east-2" is set, but tap:tableConsistency is "eventual"`, "exists only in a strongly consistent (MRSC)", pageWitness,
				"Fix: remove tap:mrscThirdRegion, or set tap:tableConsistency=strong"}},
		{"third region role in eventual mode", map[string]any{KeyMRSCThirdRegionRole: "witness"}, nil,
			[]string{`tap:mrscThirdRegionRole="witness" is set, but tap:tableConsistency is "eventual"`,
				"Fix: remove tap:mrscThirdRegionRole, or set tap:tableConsistency=strong"}},
		{"third region from the environment in eventual mode", nil, map[string]string{EnvMRSCThirdRegion: "us-east-2"},
			[]string{`tap:mrscThirdRegion="us-east-2" is set, but tap:tableConsistency is "eventual"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{EnvAlertEmail: "ops@example.com"}
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := Load(tt.ctx, env)
			if err == nil {
				t.Fatalf("Load(%v) = nil error, want one containing %q", tt.ctx, tt.want)
			}
			var line string
			for _, l := range strings.Split(err.Error(), "\n") {
				if strings.Contains(l, tt.want[0]) {
					line = l
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("Load(%v) error =\n%v\nwant a line containing %q", tt.ctx, err, w)
				}
			}
		})
	}
}

// TestLoadConsistency: the accepted forms, the default third region and
// role, and that eventual consistency carries no third region.
func TestLoadConsistency(t *testing.T) {
	tests := []struct {
		name      string
		ctx       map[string]any
		env       map[string]string
		mode      schema.Consistency
		third     string
		role      ThirdRegionRole
		describes string
	}{
		{"default is eventual", nil, nil, schema.Eventual, "", "", "consistency=eventual"},
		{"explicit eventual", map[string]any{KeyTableConsistency: "eventual"}, nil, schema.Eventual, "", "", "consistency=eventual"},
		{"strong defaults to the US set's third region as witness", strong(), nil, schema.Strong, "us-east-2", Witness,
			"consistency=strong witness=us-east-2"},
		{"strong from the environment", nil, map[string]string{EnvTableConsistency: "strong"}, schema.Strong, "us-east-2", Witness, ""},
		{"strong, us-east-2 + us-west-2 → us-east-1", strong(KeyPrimaryRegion, "us-east-2", KeySecondaryRegion, "us-west-2"), nil,
			schema.Strong, "us-east-1", Witness, ""},
		{"strong, AP set", strong(KeyPrimaryRegion, "ap-northeast-1", KeySecondaryRegion, "ap-northeast-3"), nil,
			schema.Strong, "ap-northeast-2", Witness, ""},
		{"strong, EU set with the third region given", strong(KeyPrimaryRegion, "eu-west-1", KeySecondaryRegion, "eu-central-1", KeyMRSCThirdRegion, "eu-west-3"), nil,
			schema.Strong, "eu-west-3", Witness, ""},
		{"strong with a third replica", strong(KeyMRSCThirdRegionRole, "replica"), nil, schema.Strong, "us-east-2", ThirdReplica,
			"consistency=strong replica=us-east-2"},
		{"third region from the environment", strong(), map[string]string{EnvMRSCThirdRegion: "us-east-2", EnvMRSCThirdRegionRole: "replica"},
			schema.Strong, "us-east-2", ThirdReplica, ""},
		// MRSC supports provisioned capacity (its quotas are given for both
		// modes, ServiceQuotas.html#gt-limits-throughput), so TAP's billing
		// settings stand in strong mode.
		{"strong with provisioned billing", strong(KeyBillingMode, "provisioned"), nil, schema.Strong, "us-east-2", Witness, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{EnvAlertEmail: "ops@example.com"}
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := Load(tt.ctx, env)
			if err != nil {
				t.Fatalf("Load(%v) error = %v", tt.ctx, err)
			}
			if c.TableConsistency != tt.mode || c.MRSCThirdRegion != tt.third || c.MRSCThirdRegionRole != tt.role {
				t.Errorf("Load(%v) = consistency %q, third region %q, role %q; want %q, %q, %q",
					tt.ctx, c.TableConsistency, c.MRSCThirdRegion, c.MRSCThirdRegionRole, tt.mode, tt.third, tt.role)
			}
			if d := c.Describe(); tt.describes != "" && !strings.HasSuffix(d, " "+tt.describes) {
				t.Errorf("Describe() = %q, want it to end with %q", d, tt.describes)
			}
		})
	}
}

// TestEveryMRSCRegionIsARegionName: the sets are spelled as the region
// names the other settings take.
func TestEveryMRSCRegionIsARegionName(t *testing.T) {
	seen := map[string]string{}
	for _, s := range MRSCRegionSets {
		for _, r := range s.Regions {
			if !regionRE.MatchString(r) {
				t.Errorf("MRSC set %s: %q is not a region name", s.Name, r)
			}
			if prev, dup := seen[r]; dup {
				t.Errorf("%s is in the %s and %s sets; a region belongs to one", r, prev, s.Name)
			}
			seen[r] = s.Name
		}
	}
}
