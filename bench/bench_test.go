package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/event"
)

func TestEventsAreValidAndCarryTheSeedsID(t *testing.T) {
	now := time.Now()
	events, orders := Events(5, 300, "us-east-1")
	if len(events) != 300 {
		t.Fatalf("Events(5, 300) gave %d events, want 300", len(events))
	}
	again, _ := Events(5, 300, "us-east-1")
	seen := map[string]bool{}
	orderIDs := map[string]bool{}
	for i, raw := range events {
		if !bytes.Equal(raw, again[i]) {
			t.Fatalf("event %d differs between two calls with the same seed", i)
		}
		d, err := event.Decode(raw, now)
		if err != nil {
			t.Fatalf("event %d does not decode: %v\n%s", i, err, raw)
		}
		var wire struct {
			Detail struct {
				ID string `json:"id"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(raw, &wire); err != nil {
			t.Fatal(err)
		}
		if wire.Detail.ID != d.Report.EventID {
			t.Errorf("event %d: detail.id = %q, want the eventId %q", i, wire.Detail.ID, d.Report.EventID)
		}
		if seen[d.Report.EventID] {
			t.Errorf("event %d: eventId %s repeated", i, d.Report.EventID)
		}
		seen[d.Report.EventID] = true
		orderIDs[d.Report.OrderID] = true
	}
	if orders != len(orderIDs) {
		t.Errorf("Events reported %d orders, the events hold %d", orders, len(orderIDs))
	}
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{name: "plain", stat: "42 (node) S 1 42 42 0 -1 4194304 100 0 0 0 250 30 0 0 20 0 11 0",
			want: 280 * clockTick},
		{name: "name with spaces and parens", stat: "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 5 6 0 0",
			want: 11 * clockTick},
		{name: "short", stat: "7 (x) R 1 2", wantErr: true},
		{name: "no name", stat: "garbage", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.stat))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStatCPU(%q) = %v, %v; want %v, error %v", tt.stat, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseHWM(t *testing.T) {
	got, err := parseHWM([]byte("Name:\tnode\nVmPeak:\t  900 kB\nVmHWM:\t   65536 kB\nVmRSS:\t 1 kB\n"))
	if err != nil || got != 64<<20 {
		t.Errorf("parseHWM() = %d, %v; want %d", got, err, 64<<20)
	}
	if _, err := parseHWM([]byte("Name:\tx\n")); err == nil {
		t.Errorf("parseHWM() without VmHWM: no error, want one")
	}
}

func TestPercentileAndMedian(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 of 1..100", hundred, 100, 100 * time.Millisecond},
		{"p99 of 3", ms(1, 2, 3), 99, 3 * time.Millisecond},
		{"empty", nil, 50, 0},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: percentile = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := median(ms(9, 1, 5)); got != 5*time.Millisecond {
		t.Errorf("median(9,1,5) = %v, want 5ms", got)
	}
	if got := median(ms(4, 1, 3, 2)); got != 2500*time.Microsecond {
		t.Errorf("median(4,1,3,2) = %v, want 2.5ms", got)
	}
}

func TestCost(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	// 1M events × 10 ms × 1 GB × x86 price, plus requests.
	side := SideResult{Arch: "x86_64", MemoryMB: 1024, Seq: Phase{Events: 2,
		Durations: []time.Duration{9100 * time.Microsecond, 10 * time.Millisecond}, CPU: 4 * time.Millisecond}}
	got := side.MeasuredCost()
	if !near(got.BilledMs, 10) || !near(got.Dollars, 0.20+1e6*0.010*PriceX86GBSecond) {
		t.Errorf("MeasuredCost() = %+v, want 10 ms billed (9.1 rounds up), $%.4f", got, 0.20+1e6*0.010*PriceX86GBSecond)
	}
	// CPU 2 ms/event at 1024 MB (share 1024/1769): 8 ms waiting + 2/share ms of CPU.
	scaled := side.ScaledCost()
	want := math.Ceil((9.1-2)+2/(1024.0/MBPerVCPU))/2 + math.Ceil((10-2)+2/(1024.0/MBPerVCPU))/2
	if !near(scaled.BilledMs, want) {
		t.Errorf("ScaledCost().BilledMs = %v, want %v", scaled.BilledMs, want)
	}
	arm := SideResult{Arch: "arm64", MemoryMB: 256, Seq: Phase{Events: 1, Durations: []time.Duration{time.Millisecond}}}
	if got := arm.MeasuredCost(); !near(got.Dollars, 0.20+1e6*0.001*0.25*PriceArm64GBSecond) {
		t.Errorf("arm64 256 MB MeasuredCost() = %+v, want $%.6f", got, 0.20+1e6*0.001*0.25*PriceArm64GBSecond)
	}
}

func TestVerify(t *testing.T) {
	ok := Counts{TapExecutions: 100, TapItems: 130, PeerItems: 100}
	tests := []struct {
		name    string
		c       Counts
		tapSent int
		wantErr string
	}{
		{name: "all accounted for", c: ok, tapSent: 100},
		{name: "TAP lost an execution", c: Counts{TapExecutions: 99, TapItems: 129, PeerItems: 100}, tapSent: 100, wantErr: "99 execution items for 100 events"},
		{name: "dead-lettered", c: Counts{TapExecutions: 100, TapItems: 130, PeerItems: 100, DLQ: 2}, tapSent: 100, wantErr: "dead-lettered 2"},
		{name: "peer overwrote", c: Counts{TapExecutions: 100, TapItems: 130, PeerItems: 97}, tapSent: 100, wantErr: "peer's table holds 97 items"},
		{name: "order states", c: Counts{TapExecutions: 100, TapItems: 131, PeerItems: 100}, tapSent: 100, wantErr: "31 order states for 30 orders"},
		{name: "different sends", c: ok, tapSent: 101, wantErr: "different numbers of events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify(tt.c, tt.tapSent, 100, 30)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("verify() error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestZipSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bootstrap")
	data := bytes.Repeat([]byte("compressible "), 10000)
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := ZipSize(path, "bootstrap")
	if err != nil {
		t.Fatalf("ZipSize() error = %v", err)
	}
	if got <= 0 || got >= int64(len(data))/10 {
		t.Errorf("ZipSize() = %d for %d compressible bytes, want deflated well below a tenth", got, len(data))
	}
}

func TestPeerInputStamp(t *testing.T) {
	src := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("index.fixed.ts", "export const handler = 1;")
	write("package.json", "{}")
	a, err := inputStamp(src)
	if err != nil {
		t.Fatal(err)
	}
	write("index.fixed.ts", "export const handler = 2;")
	b, err := inputStamp(src)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("inputStamp unchanged after the source changed")
	}

	cache := t.TempDir()
	bundle := filepath.Join(cache, "dist", "index.js")
	if bundleFresh(cache, bundle, b) {
		t.Errorf("bundleFresh() with no bundle = true, want false")
	}
	if err := os.MkdirAll(filepath.Dir(bundle), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bundle, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, stampName), []byte(b), 0o644); err != nil {
		t.Fatal(err)
	}
	if !bundleFresh(cache, bundle, b) || bundleFresh(cache, bundle, a) {
		t.Errorf("bundleFresh() must be true only for the stamp the bundle was built from")
	}
}

func TestReportWrites(t *testing.T) {
	side := func(name string, cpu time.Duration) SideResult {
		ph := Phase{InFlight: 1, Events: 10, Wall: time.Second, CPU: 10 * cpu, PeakRSS: 20 << 20,
			Latencies: []time.Duration{time.Millisecond}, Durations: []time.Duration{time.Millisecond}}
		return SideResult{Name: name, Arch: "arm64", MemoryMB: 256, Seq: ph, Conc: ph, Artifact: 4 << 20,
			Cold: ColdStarts{Total: []time.Duration{time.Second}, Init: []time.Duration{time.Second / 2}, PeakRSS: 10 << 20}}
	}
	pass := func(cpu time.Duration, logs float64) PassStats {
		return PassStats{Events: 10, CPU: cpu, SelfP50: cpu, SelfMean: cpu, LogBytes: logs,
			Calls: CallCounts{PutOK: 1, UpdateOK: 1}, Created: 0.3}
	}
	_, funcs := ParsePprofTop(pprofSample)
	r := Report{Plan: Plan{ColdStarts: 1, Events: 10, Warmup: 1, InFlight: 8, Rounds: 2, RoundEvents: 10},
		Tap: side(TapName, time.Millisecond), Peer: side(PeerName, 10*time.Millisecond),
		Micro: Micro{Command: "go test", Benchstat: "BenchmarkX 1 ns/op"},
		Deployed: Deployed{BaseRev: "2c78c30", RoundEvents: 10, Sizes: ItemSizes{Execution: 354, State: 437, IndexKeys: 120},
			TapA: pass(3*time.Millisecond, 400), TapB: pass(time.Millisecond, 250), Raw: pass(time.Millisecond, 0),
			Rounds: []Round{
				{TapFirst: true, Tap: pass(2*time.Millisecond, 280), SDK: pass(1800*time.Microsecond, 0)},
				{Tap: pass(2200*time.Microsecond, 290), SDK: pass(2*time.Millisecond, 0)},
			}},
		Profiles: []Profile{
			{Name: "handler", Label: "TAP", Benchmark: "BenchmarkHandlerApply", Command: "go test …", Iterations: 301, NsPerOp: 2e6,
				Total: 400 * time.Millisecond, Packages: ByPackage(funcs), Top: "top of TAP"},
			{Name: "floor", Label: "SDK floor", Benchmark: "BenchmarkFloorApply", Unavailable: "there is no BenchmarkFloorApply yet"},
		}}
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| CPU time per event, 1 in flight (user+sys ÷ events) | 1.00 ms | 10.0 ms | 0.10× |",
		"CPU per event (1 in flight): 10.0× less (goal 5×) — met",
		"cold start: 1.0× less (goal 3×) — **missed**",
		"BenchmarkX 1 ns/op",
		"Lambda compute per million events",
		"The whole bill per million events, as deployed (issue 15)",
		"### Interleaved rounds",
		"| 1 | TAP | 2.00 ms | 1.80 ms | 1.11× |",
		"| 2 | SDK floor | 2.20 ms | 2.00 ms | 1.10× |",
		"| **median**<br>min – max | | 2.10 ms<br>2.00 ms – 2.20 ms |",
		"TAP now, publishing region (median of 2 rounds)",
		"### Targets (issue 15: goals, not assertions)",
		"CPU per event ≤ 1.15× the SDK-minimal floor's",
		"log bytes per successful invocation ≤ 300 B, in either region: publishing region 285 B (median of rounds), other region 250 B — met",
		"## Where TAP's CPU goes",
		"SDK floor, `BenchmarkFloorApply`: profile not available: there is no BenchmarkFloorApply yet",
		"| encoding/json | 25.0 % | 332 µs |",
		"| **all sampled CPU** | 100.0 % | 1329 µs |",
		"TAP before** (`2c78c30`, the processor before issue 15)",
		"Capacity plan",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// pprofSample is go tool pprof -top's text, trimmed.
const pprofSample = `File: processor.test
Type: cpu
Duration: 1.51s, Total samples = 400ms (26.49%)
Showing nodes accounting for 400ms, 100% of 400ms total
      flat  flat%   sum%        cum   cum%
     100ms 25.00% 25.00%      100ms 25.00%  encoding/json.unquoteBytes
     100ms 25.00% 50.00%      100ms 25.00%  github.com/aws/smithy-go/middleware.(*stack).HandleMiddleware
      50ms 12.50% 62.50%       50ms 12.50%  internal/runtime/atomic.(*Pointer[go.shape.struct { runtime.spanSetBlockHeader2; runtime.spans [512]runtime.atomicMSpanPointer }]).StoreNoWB (inline)
      50ms 12.50% 75.00%       50ms 12.50%  runtime.mallocgc
      40ms 10.00% 85.00%       40ms 10.00%  github.com/tap-trading/tap/internal/event.decode
      30ms  7.50% 92.50%       30ms  7.50%  net/http.(*persistConn).readLoop
      20ms  5.00% 97.50%       20ms  5.00%  crypto/internal/fips140/sha256.blockAVX2
      10ms  2.50%   100%       10ms  2.50%  github.com/shopspring/decimal.NewFromString
         0     0%   100%      100ms 25.00%  encoding/json.Unmarshal
`

func TestParsePprofTop(t *testing.T) {
	total, funcs := ParsePprofTop(pprofSample)
	if total != 400*time.Millisecond || len(funcs) != 9 {
		t.Fatalf("ParsePprofTop = %v, %d functions; want 400ms, 9", total, len(funcs))
	}
	if f := funcs[2]; f.Flat != 50*time.Millisecond || !strings.HasSuffix(f.Name, ".StoreNoWB") {
		t.Errorf("third function = %+v, want 50ms of …StoreNoWB without (inline)", f)
	}
	pkgs := ByPackage(funcs)
	want := []Flat{
		{"encoding/json", 100 * time.Millisecond}, {"github.com/aws/smithy-go/middleware", 100 * time.Millisecond},
		{"internal/runtime/atomic", 50 * time.Millisecond}, {"runtime", 50 * time.Millisecond},
		{"github.com/tap-trading/tap/internal/event", 40 * time.Millisecond}, {"net/http", 30 * time.Millisecond},
		{"crypto/internal/fips140/sha256", 20 * time.Millisecond}, {"github.com/shopspring/decimal", 10 * time.Millisecond},
	}
	if !slices.Equal(pkgs, want) {
		t.Errorf("ByPackage = %v, want %v", pkgs, want)
	}
	var sum time.Duration
	groups := map[string]time.Duration{}
	for _, g := range ByGroup(pkgs) {
		sum += g.Flat
		groups[g.Name] = g.Flat
	}
	if sum != total {
		t.Errorf("groups sum to %v, want the total %v", sum, total)
	}
	if got := groups[GroupOf("runtime")]; got != 100*time.Millisecond {
		t.Errorf("runtime group = %v, want runtime + internal/runtime/atomic = 100ms", got)
	}
}

func TestGroupOf(t *testing.T) {
	for _, tc := range []struct{ pkg, wantPrefix string }{
		{"github.com/aws/aws-sdk-go-v2/service/dynamodb", "AWS SDK"},
		{"github.com/aws/smithy-go/middleware", "AWS SDK"},
		{"github.com/aws/aws-lambda-go/lambda", "aws-lambda-go"},
		{"go.opentelemetry.io/otel/trace", "OpenTelemetry"},
		{"github.com/tap-trading/tap/internal/processor", "TAP's own"},
		{"encoding/json", "encoding/json"},
		{"crypto/hmac", "crypto"},
		{"net/http", "net/http"},
		{"net", "net/http"},
		{"syscall", "net/http"},
		{"runtime", "runtime"},
		{"internal/runtime/maps", "runtime"},
		{"reflect", "reflect"},
		{"encoding/base64", "reflect"},
		{"netip", "reflect"}, // not net: a prefix matches whole path elements
		{"github.com/google/uuid", "other modules"},
	} {
		if got := GroupOf(tc.pkg); !strings.HasPrefix(got, tc.wantPrefix) {
			t.Errorf("GroupOf(%q) = %q, want %q…", tc.pkg, got, tc.wantPrefix)
		}
	}
	if got := PackageOf("net/http.(*Transport).roundTrip"); got != "net/http" {
		t.Errorf("PackageOf = %q, want net/http", got)
	}
	if got := GroupOf(PackageOf("memeqbody")); !strings.HasPrefix(got, "runtime") {
		t.Errorf("GroupOf(PackageOf(memeqbody)) = %q, want the runtime's group", got)
	}
}

func TestParseBenchLine(t *testing.T) {
	out := "goos: linux\nBenchmarkHandlerApplyX-2   \t 10\t 5 ns/op\nBenchmarkHandlerApply-2   \t     300\t   1834567 ns/op\t  1 B/op\nPASS\n"
	n, ns, ok := parseBenchLine(out, "BenchmarkHandlerApply")
	if !ok || n != 300 || ns != 1834567 {
		t.Errorf("parseBenchLine = %d, %v, %v; want 300, 1834567, true", n, ns, ok)
	}
	if _, _, ok := parseBenchLine("PASS\nok  \tgithub.com/x\t0.1s\n", "BenchmarkFloorApply"); ok {
		t.Errorf("parseBenchLine found a benchmark go test did not run")
	}
}

// Restamp moves a generated event to now: the envelope's time to the second,
// transactTime to the millisecond, everything else byte for byte.
func TestRestamp(t *testing.T) {
	events, _ := Events(5, 3, "us-east-1")
	now := time.Date(2026, time.December, 5, 17, 30, 12, 345678901, time.UTC)
	for i, raw := range events {
		got := Restamp(raw, now)
		d, err := event.Decode(got, now)
		if err != nil {
			t.Fatalf("event %d restamped does not decode: %v\n%s", i, err, got)
		}
		if want := now.Truncate(time.Second); !d.Envelope.Time.Equal(want) {
			t.Errorf("event %d envelope time = %v, want %v", i, d.Envelope.Time, want)
		}
		if d.Report == nil || !d.Report.TransactTime.Equal(now.Truncate(time.Millisecond)) {
			t.Errorf("event %d transactTime = %+v, want %v", i, d.Report, now.Truncate(time.Millisecond))
		}
		orig, _ := event.Decode(raw, now)
		if orig.Report == nil || orig.Report.EventID != d.Report.EventID || orig.Report.Seq != d.Report.Seq || orig.Envelope.ID != d.Envelope.ID {
			t.Errorf("event %d: restamping changed more than the times:\n%s\n%s", i, raw, got)
		}
	}
	plain := []byte(`{"say":"ok"}`)
	if got := Restamp(plain, now); !bytes.Equal(got, plain) {
		t.Errorf("Restamp(%s) = %s, want it unchanged", plain, got)
	}
}
