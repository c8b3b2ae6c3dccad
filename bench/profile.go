package bench

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ProfilePackage holds the benchmarks profiled for "Where TAP's CPU goes".
const ProfilePackage = "./internal/processor/"

// profileTargets are the profiled benchmarks: the real processor Handler
// applying an event, and the SDK floor's two calls for the same event.
var profileTargets = []struct{ name, label, benchmark string }{
	{"handler", "TAP (processor.Handler)", "BenchmarkHandlerApply"},
	{"floor", "SDK floor", "BenchmarkFloorApply"},
}

// Profile is one benchmark's CPU profile, summarized.
type Profile struct {
	// Name names the profile file (cpu-<name>.out); Label the side.
	Name, Label, Benchmark string
	// Command is the go test command that took it.
	Command string
	// Unavailable says why there is no profile; empty when there is one.
	Unavailable string
	// Iterations is how many times the benchmark body ran: -benchtime's N,
	// plus the one run go test makes first. NsPerOp is go test's figure.
	Iterations int
	NsPerOp    float64
	// Total is the CPU time sampled (the whole test binary: setup included).
	Total time.Duration
	// Packages is the flat CPU time by Go package, most first.
	Packages []Flat
	// Top is `go tool pprof -top -nodecount=25`.
	Top string
}

// Flat is the flat (self) CPU time of a function or a group of them.
type Flat struct {
	Name string
	Flat time.Duration
}

// PerEvent is d spread over the profile's iterations.
func (p Profile) PerEvent(d time.Duration) time.Duration {
	return d / time.Duration(max(p.Iterations, 1))
}

// RunProfiles profiles each target with iterations iterations. A target that
// cannot be profiled (its benchmark not written yet, the package not
// building) gets Unavailable instead: it never fails the run.
func RunProfiles(ctx context.Context, repoRoot, cacheDir string, iterations int, log Logf) []Profile {
	out := make([]Profile, 0, len(profileTargets))
	for _, t := range profileTargets {
		p := runProfile(ctx, repoRoot, cacheDir, ProfilePackage, t.name, t.benchmark, iterations, log)
		p.Label = t.label
		if p.Unavailable != "" {
			log("profile %s: not available: %s", t.name, p.Unavailable)
		}
		out = append(out, p)
	}
	return out
}

// runProfile profiles benchmark of pkg into cacheDir/profile/cpu-<name>.out.
func runProfile(ctx context.Context, repoRoot, cacheDir, pkg, name, benchmark string, iterations int, log Logf) Profile {
	p := Profile{Name: name, Benchmark: benchmark}
	dir, err := filepath.Abs(filepath.Join(cacheDir, "profile"))
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		p.Unavailable = err.Error()
		return p
	}
	prof := filepath.Join(dir, "cpu-"+name+".out")
	bin := filepath.Join(dir, filepath.Base(pkg)+".test") // else go test leaves it in the module root
	command := func(prof, bin string) []string {
		return []string{"test", "-run", "^$", "-bench", "^" + benchmark + "$", fmt.Sprintf("-benchtime=%dx", iterations),
			"-cpuprofile", prof, "-o", bin, pkg}
	}
	args := command(prof, bin)
	p.Command = "go " + joinArgs(command(rel(prof), rel(bin)))
	log("profile: %s", p.Command)
	_ = os.Remove(prof) // a profile left by an earlier run must not pass for this one's
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repoRoot
	b, err := cmd.CombinedOutput()
	if err != nil {
		p.Unavailable = "`go test` failed: " + firstLines(string(b), 3)
		return p
	}
	n, ns, ok := parseBenchLine(string(b), benchmark)
	if !ok {
		p.Unavailable = fmt.Sprintf("there is no %s in %s yet (go test ran no benchmark of that name)", benchmark, pkg)
		return p
	}
	p.Iterations, p.NsPerOp = n, ns
	if n > 1 {
		p.Iterations++ // go test runs the body once with b.N = 1 before -benchtime's N
	}
	top, err := pprofTop(ctx, repoRoot, prof, 25)
	if err != nil {
		p.Unavailable = err.Error()
		return p
	}
	p.Top = top
	all, err := pprofTop(ctx, repoRoot, prof, 0)
	if err != nil {
		p.Unavailable = err.Error()
		return p
	}
	var funcs []Flat
	p.Total, funcs = ParsePprofTop(all)
	p.Packages = ByPackage(funcs)
	return p
}

// pprofTop runs go tool pprof -top on prof, keeping nodes nodes (0: all).
func pprofTop(ctx context.Context, repoRoot, prof string, nodes int) (string, error) {
	args := []string{"tool", "pprof", "-top"}
	if nodes > 0 {
		args = append(args, fmt.Sprintf("-nodecount=%d", nodes))
	} else {
		args = append(args, "-nodecount=1000000", "-nodefraction=0", "-edgefraction=0")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, prof)...)
	cmd.Dir = repoRoot
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w", joinArgs(args), err)
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// benchLine matches go test's result line of a benchmark.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+([\d.]+) ns/op`)

// parseBenchLine finds benchmark's result line in go test's output.
func parseBenchLine(out, benchmark string) (n int, nsPerOp float64, ok bool) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil || m[1] != benchmark {
			continue
		}
		n, err1 := strconv.Atoi(m[2])
		ns, err2 := strconv.ParseFloat(m[3], 64)
		if err1 == nil && err2 == nil {
			return n, ns, true
		}
	}
	return 0, 0, false
}

var (
	// topLine is one row of pprof -top: flat flat% sum% cum cum% name.
	topLine = regexp.MustCompile(`^\s*(\S+)\s+\S+%\s+\S+%\s+\S+\s+\S+%\s+(.+?)(?:\s+\(inline\))?$`)
	// topTotal is the header's total of the samples.
	topTotal = regexp.MustCompile(`Total samples = (\S+)`)
)

// ParsePprofTop reads the total sampled time and each function's flat time
// from the text of go tool pprof -top.
func ParsePprofTop(text string) (time.Duration, []Flat) {
	var total time.Duration
	var out []Flat
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\n")
		if m := topTotal.FindStringSubmatch(line); m != nil {
			total, _ = parsePprofDuration(m[1])
			continue
		}
		m := topLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		d, ok := parsePprofDuration(m[1])
		if !ok {
			continue // the column header
		}
		out = append(out, Flat{Name: m[2], Flat: d})
	}
	return total, out
}

// parsePprofDuration reads pprof's durations: "0", "10ms", "1.20s", "2mins".
func parsePprofDuration(s string) (time.Duration, bool) {
	if s == "0" {
		return 0, true
	}
	if v, ok := strings.CutSuffix(s, "mins"); ok {
		s = v + "m"
	}
	if v, ok := strings.CutSuffix(s, "hrs"); ok {
		s = v + "h"
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

// asmPackage stands for the assembly routines pprof names without a package
// (memeqbody, indexbytebody, gogo, …): internal/bytealg's and the runtime's.
const asmPackage = "assembly (runtime, internal/bytealg)"

// PackageOf is the Go package of a function as pprof names it:
// "net/http.(*Transport).roundTrip" → "net/http",
// "internal/runtime/atomic.(*Pointer[go.shape.struct {…}]).Store" →
// "internal/runtime/atomic".
func PackageOf(fn string) string {
	if i := strings.IndexByte(fn, '['); i >= 0 {
		fn = fn[:i] // type arguments may hold other packages' paths
	}
	slash := strings.LastIndexByte(fn, '/')
	if dot := strings.IndexByte(fn[slash+1:], '.'); dot >= 0 {
		return fn[:slash+1+dot]
	}
	return asmPackage
}

// ByPackage sums functions' flat time by package, most first.
func ByPackage(funcs []Flat) []Flat {
	sums := map[string]time.Duration{}
	for _, f := range funcs {
		sums[PackageOf(f.Name)] += f.Flat
	}
	out := make([]Flat, 0, len(sums))
	for name, d := range sums {
		out = append(out, Flat{name, d})
	}
	slices.SortFunc(out, func(a, b Flat) int {
		return cmp.Or(cmp.Compare(b.Flat, a.Flat), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// profileGroups are the report's groups of packages, in the order shown; a
// package belongs to the first whose prefixes it matches. The last group
// takes every package no other does.
var profileGroups = []struct {
	name     string
	prefixes []string
}{
	{"AWS SDK: aws-sdk-go-v2, smithy-go (middleware, serializers, retry, signing glue)", []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"}},
	{"aws-lambda-go", []string{"github.com/aws/aws-lambda-go"}},
	{"OpenTelemetry (otel)", []string{"go.opentelemetry.io"}},
	{"TAP's own packages (internal/…)", []string{"github.com/tap-trading/tap"}},
	{"encoding/json", []string{"encoding/json"}},
	{"crypto (SigV4: SHA-256, HMAC)", []string{"crypto/", "vendor/golang.org/x/crypto"}},
	{"net/http, net, syscalls (I/O)", []string{"net/http", "net", "vendor/golang.org/x/net", "internal/poll", "syscall", "internal/syscall", "bufio", "os"}},
	{"runtime: GC, allocation, scheduler", []string{"runtime", "internal/runtime", asmPackage}},
	{"reflect, strconv, fmt, … (other standard library)", nil},
	{"other modules", nil},
}

// GroupOf is the report's group of a package.
func GroupOf(pkg string) string {
	for _, g := range profileGroups {
		for _, p := range g.prefixes {
			if pkg == strings.TrimSuffix(p, "/") || strings.HasPrefix(pkg, strings.TrimSuffix(p, "/")+"/") {
				return g.name
			}
		}
	}
	// The standard library's import paths have no dot in their first element.
	first, _, _ := strings.Cut(pkg, "/")
	if !strings.Contains(first, ".") {
		return profileGroups[len(profileGroups)-2].name
	}
	return profileGroups[len(profileGroups)-1].name
}

// ByGroup sums packages' flat time by the report's groups, in their order.
func ByGroup(pkgs []Flat) []Flat {
	sums := map[string]time.Duration{}
	for _, p := range pkgs {
		sums[GroupOf(p.Name)] += p.Flat
	}
	out := make([]Flat, 0, len(profileGroups))
	for _, g := range profileGroups {
		out = append(out, Flat{g.name, sums[g.name]})
	}
	return out
}

// firstLines is the first n non-empty lines of s, joined by " / ".
func firstLines(s string, n int) string {
	var out []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
			if len(out) == n {
				break
			}
		}
	}
	return strings.Join(out, " / ")
}

// writeProfiles renders "Where TAP's CPU goes": each available profile's flat
// CPU by group of packages and by package, TAP's beside the floor's.
func (r Report) writeProfiles(b *strings.Builder) {
	fmt.Fprintf(b, "\n## Where TAP's CPU goes\n\n")
	var ps []Profile
	for _, p := range r.Profiles {
		if p.Unavailable != "" {
			fmt.Fprintf(b, "- %s, `%s`: profile not available: %s\n", p.Label, p.Benchmark, p.Unavailable)
			continue
		}
		ps = append(ps, p)
	}
	if len(r.Profiles) == 0 {
		fmt.Fprintf(b, "Not profiled in this run.\n")
		return
	}
	if len(ps) == 0 {
		return
	}
	if len(ps) < len(r.Profiles) {
		fmt.Fprintf(b, "\n")
	}
	fmt.Fprintf(b, "CPU profiles of Go benchmarks in `%s`, each taken by\n", ProfilePackage)
	for _, p := range ps {
		fmt.Fprintf(b, "`%s` (%s: %d iterations, %.0f µs/op wall, %s sampled)", p.Command, p.Label, p.Iterations, p.NsPerOp/1e3, fmtMs(p.Total))
		if p.Name != ps[len(ps)-1].Name {
			fmt.Fprintf(b, ",\n")
		}
	}
	fmt.Fprintf(b, ".\nFlat time per function from `go tool pprof -top`, summed by package; µs per event = flat CPU ÷ iterations (go test\n")
	fmt.Fprintf(b, "runs the body once before -benchtime's N, counted). A profile covers the whole test binary, setup included; moto, a separate\n")
	fmt.Fprintf(b, "process, is not in it. pprof samples every 10 ms: one sample is %s per event, so small rows are noise.\n\n",
		fmtMicros(ps[0].PerEvent(10*time.Millisecond)))

	diff := len(ps) == 2
	writeProfileHeader(b, "where", ps, diff)
	groups := make([][]Flat, len(ps))
	for i, p := range ps {
		groups[i] = ByGroup(p.Packages)
	}
	row := func(name string, flats []time.Duration) {
		fmt.Fprintf(b, "| %s |", name)
		for i, p := range ps {
			fmt.Fprintf(b, " %.1f %% | %s |", 100*float64(flats[i])/float64(max(p.Total, 1)), fmtMicros(p.PerEvent(flats[i])))
		}
		if diff {
			us := float64(ps[0].PerEvent(flats[0])-ps[1].PerEvent(flats[1])) / 1e3
			if math.Abs(us) >= 10 {
				fmt.Fprintf(b, " %+.0f µs |", us)
			} else {
				fmt.Fprintf(b, " %+.1f µs |", us)
			}
		}
		fmt.Fprintf(b, "\n")
	}
	for g := range profileGroups {
		flats := make([]time.Duration, len(ps))
		var any time.Duration
		for i := range ps {
			flats[i] = groups[i][g].Flat
			any += flats[i]
		}
		if any > 0 {
			row(groups[0][g].Name, flats)
		}
	}
	totals := make([]time.Duration, len(ps))
	for i, p := range ps {
		totals[i] = p.Total
	}
	row("**all sampled CPU**", totals)

	// The packages that weigh most on either side.
	const topPackages = 12
	pick := map[string]bool{}
	for _, p := range ps {
		for i, f := range p.Packages {
			if i < topPackages && f.Flat > 0 {
				pick[f.Name] = true
			}
		}
	}
	names := make([]string, 0, len(pick))
	for n := range pick {
		names = append(names, n)
	}
	flatOf := func(p Profile, pkg string) time.Duration {
		for _, f := range p.Packages {
			if f.Name == pkg {
				return f.Flat
			}
		}
		return 0
	}
	slices.SortFunc(names, func(a, c string) int {
		return cmp.Or(cmp.Compare(flatOf(ps[0], c), flatOf(ps[0], a)), cmp.Compare(a, c))
	})
	fmt.Fprintf(b, "\nBy package (the %d heaviest on either side):\n\n", topPackages)
	writeProfileHeader(b, "package", ps, diff)
	for _, n := range names {
		flats := make([]time.Duration, len(ps))
		for i, p := range ps {
			flats[i] = flatOf(p, n)
		}
		row("`"+n+"`", flats)
	}

	for _, p := range ps {
		fmt.Fprintf(b, "\n<details><summary>%s: <code>go tool pprof -top -nodecount=25</code></summary>\n\n```\n%s\n```\n\n</details>\n", p.Label, p.Top)
	}
}

// fmtMicros formats d in microseconds.
func fmtMicros(d time.Duration) string {
	us := float64(d) / float64(time.Microsecond)
	if us >= 10 || us == 0 {
		return fmt.Sprintf("%.0f µs", us)
	}
	return fmt.Sprintf("%.1f µs", us)
}

// writeProfileHeader writes the header rows of a profile table whose first
// column is first: each profile's share and µs per event, and their
// difference when there are two.
func writeProfileHeader(b *strings.Builder, first string, ps []Profile, diff bool) {
	fmt.Fprintf(b, "| %s |", first)
	for _, p := range ps {
		fmt.Fprintf(b, " %s: flat %% | µs per event |", p.Label)
	}
	if diff {
		fmt.Fprintf(b, " difference, µs per event |")
	}
	fmt.Fprintf(b, "\n|---|%s", strings.Repeat("---:|---:|", len(ps)))
	if diff {
		fmt.Fprintf(b, "---:|")
	}
	fmt.Fprintf(b, "\n")
}
