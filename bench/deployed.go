package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/store"
)

// SecondRegion is the region whose processor gets the replicated copies.
const SecondRegion = "us-west-2"

// Deployed is what the cost model measures beyond the side-by-side run:
// both regions' passes over the same events for TAP now and for TAP at the
// base revision (before issue 15), the two CPU floors, and the interleaved
// rounds of TAP's publishing-region pass and the SDK floor's.
type Deployed struct {
	// BaseRev is the revision "before" was built from.
	BaseRev string
	// TapA/TapB are TAP's publishing-region and other-region passes over
	// the same events; BaseA/BaseB the same at BaseRev.
	TapA, TapB, BaseA, BaseB PassStats
	// Peer is the seed's processor's 1-in-flight phase.
	Peer PassStats
	// Raw and SDK are the CPU floors over the same events, one pass each.
	Raw, SDK PassStats
	// Rounds are the interleaved passes (issue 15), over RoundEvents timed
	// events each after the plan's warm-up.
	Rounds      []Round
	RoundEvents int
	// Sizes are TAP's mean item sizes, BaseSizes those of TAP before;
	// PeerItem the seed's.
	Sizes, BaseSizes ItemSizes
	PeerItem         float64
	// Orders and Events are how many the passes covered.
	Orders, Events int
}

// TapPublishing is TAP's publishing-region pass the bill and the targets
// use: the median of the rounds, or the single pass when there are none.
func (d Deployed) TapPublishing() PassStats {
	if len(d.Rounds) == 0 {
		return d.TapA
	}
	return Summarize(d.Rounds).Tap
}

// SDKFloor is the SDK floor's pass the bill and the targets use: the median
// of the rounds, or the single pass when there are none.
func (d Deployed) SDKFloor() PassStats {
	if len(d.Rounds) == 0 {
		return d.SDK
	}
	return Summarize(d.Rounds).SDK
}

// deployedEnv is what measureDeployed needs from Run.
type deployedEnv struct {
	cfg         Config
	front       *KeepAliveFront
	motoURL     string
	tapRT       Runtime
	res         Resources
	events      [][]byte // the 1-in-flight phase's events (warm-up, then timed)
	roundEvents [][]byte // the rounds' events (warm-up, then timed)
	orders      int
	log         Logf
	tapA, peerA PassStats
}

// measureDeployed runs the passes the cost model needs.
func measureDeployed(ctx context.Context, e deployedEnv) (Deployed, error) {
	d := Deployed{BaseRev: e.cfg.BaseRev, TapA: e.tapA, Peer: e.peerA, Orders: e.orders, Events: e.cfg.Plan.Events,
		RoundEvents: len(e.roundEvents) - e.cfg.Plan.Warmup}
	pl := e.cfg.Plan
	east, err := awslocal.Config(ctx, e.motoURL, e.cfg.Region)
	if err != nil {
		return d, err
	}
	west, err := awslocal.Config(ctx, e.motoURL, SecondRegion)
	if err != nil {
		return d, err
	}
	dbEast, dbWest := dynamodb.NewFromConfig(east), dynamodb.NewFromConfig(west)
	// A pass on a fresh table creates the states of the timed events' orders
	// that its warm-up did not; on a copy of a table that applied them all,
	// none.
	fresh := Created(e.events[:pl.Warmup], e.events[pl.Warmup:])
	pass := func(rt Runtime, created float64) (PassStats, error) {
		mark := e.front.Mark()
		ph, err := MeasurePhase(ctx, rt, NewCursor(e.events), 1, pl.Warmup, pl.Events, e.log)
		if err != nil {
			return PassStats{}, err
		}
		st := Analyze(ph, e.front.Since(mark))
		st.Created = created
		return st, nil
	}
	inWest := func(rt Runtime) Runtime {
		rt.Name += ", " + SecondRegion
		rt.Env = append(withoutSDKEnv(rt.Env), awslocal.Env(e.front.Endpoint, SecondRegion)...)
		return rt
	}

	// TAP now: the other region's pass, over a copy of the table as
	// replication leaves it.
	if err := copyTable(ctx, dbEast, dbWest, e.res.TapTable); err != nil {
		return d, err
	}
	e.log("%s: the other region's pass (%s)", TapName, SecondRegion)
	if d.TapB, err = pass(inWest(e.tapRT), 0); err != nil {
		return d, err
	}

	// TAP before: the same two passes with the base revision's processor.
	boot, err := buildBase(ctx, e.cfg, e.log)
	if err != nil {
		return d, err
	}
	baseTable := e.res.TapTable + "-base"
	if err := store.CreateTable(ctx, dbEast, baseTable); err != nil {
		return d, err
	}
	base := e.tapRT
	base.Name, base.Path, base.Dir = "TAP before ("+e.cfg.BaseRev+")", boot, filepath.Dir(boot)
	base.Env = withEnv(base.Env, processor.EnvTableName, baseTable)
	e.log("%s: publishing region's pass", base.Name)
	if d.BaseA, err = pass(base, fresh); err != nil {
		return d, err
	}
	if err := copyTable(ctx, dbEast, dbWest, baseTable); err != nil {
		return d, err
	}
	e.log("%s: the other region's pass", base.Name)
	if d.BaseB, err = pass(inWest(base), 0); err != nil {
		return d, err
	}

	// The floors, one pass each; the SDK floor's runtime runs the rounds too.
	var sdk Runtime
	for _, f := range []struct {
		name, pkg string
		into      *PassStats
	}{{"floor: raw net/http", "./bench/floor/raw", &d.Raw}, {"floor: SDK minimal", "./bench/floor/sdk", &d.SDK}} {
		bin, err := buildHost(ctx, e.cfg.RepoRoot, f.pkg, filepath.Join(e.cfg.CacheDir, "floor", filepath.Base(f.pkg)), e.log)
		if err != nil {
			return d, err
		}
		table := e.res.TapTable + "-floor-" + filepath.Base(f.pkg)
		if err := store.CreateTable(ctx, dbEast, table); err != nil {
			return d, err
		}
		rt := Runtime{Name: f.name, Path: bin, Dir: filepath.Dir(bin), Handler: "bootstrap", MemoryMB: e.tapRT.MemoryMB,
			FunctionName: "floor", Env: append([]string{floorTableEnv + "=" + table}, awslocal.Env(e.front.Endpoint, e.cfg.Region)...)}
		e.log("%s", f.name)
		created := fresh
		if f.into == &d.Raw {
			created = 0 // its items carry no index keys
		}
		if *f.into, err = pass(rt, created); err != nil {
			return d, err
		}
		if f.into == &d.SDK {
			sdk = rt
		}
	}

	if d.Sizes, err = tapItemSizes(ctx, dbEast, e.res.TapTable); err != nil {
		return d, err
	}
	if d.BaseSizes, err = tapItemSizes(ctx, dbEast, baseTable); err != nil {
		return d, err
	}

	// The interleaved rounds, after every other pass.
	if d.Rounds, err = measureRounds(ctx, roundsEnv{
		db: dbEast, tap: e.tapRT, sdk: sdk, tableBase: e.res.TapTable, front: e.front,
		events: e.roundEvents, warmup: pl.Warmup, rounds: pl.Rounds, log: e.log,
	}); err != nil {
		return d, err
	}

	if d.PeerItem, err = meanItemSize(ctx, dbEast, e.res.PeerTable); err != nil {
		return d, err
	}
	return d, nil
}

// withoutSDKEnv drops the SDK variables awslocal.Env sets, to set them again.
func withoutSDKEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// withEnv returns env with key set to value.
func withEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// buildBase extracts cfg.BaseRev with git archive into the cache and builds
// its processor like the current one.
func buildBase(ctx context.Context, cfg Config, log Logf) (string, error) {
	dir, err := filepath.Abs(filepath.Join(cfg.CacheDir, "base-"+cfg.BaseRev))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		log("base: git archive %s into %s", cfg.BaseRev, rel(dir))
		archive := exec.CommandContext(ctx, "git", "archive", cfg.BaseRev)
		archive.Dir = cfg.RepoRoot
		var tarball bytes.Buffer
		archive.Stdout = &tarball
		if err := archive.Run(); err != nil {
			return "", fmt.Errorf("base: git archive %s: %w", cfg.BaseRev, err)
		}
		untar := exec.CommandContext(ctx, "tar", "-x", "-C", dir)
		untar.Stdin = &tarball
		if b, err := untar.CombinedOutput(); err != nil {
			return "", fmt.Errorf("base: untar: %w: %s", err, b)
		}
	}
	return BuildBootstrap(ctx, dir, cfg.Processor, filepath.Join(cfg.CacheDir, "base"), log)
}

// buildHost builds pkg for this machine into out, like the bootstrap.
func buildHost(ctx context.Context, repoRoot, pkg, out string, log Logf) (string, error) {
	out, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, pkg}
	log("go %s", joinArgs(args))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// copyTable creates table in to (same schema) and copies every item of
// table in from: the other replica as global table replication leaves it.
func copyTable(ctx context.Context, from, to *dynamodb.Client, table string) error {
	if err := store.CreateTable(ctx, to, table); err != nil {
		return err
	}
	p := dynamodb.NewScanPaginator(from, &dynamodb.ScanInput{TableName: &table})
	var batch []types.WriteRequest
	flush := func() error {
		for len(batch) > 0 {
			out, err := to.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: batch}})
			if err != nil {
				return fmt.Errorf("copy %s: %w", table, err)
			}
			batch = out.UnprocessedItems[table]
		}
		return nil
	}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
		for _, item := range page.Items {
			batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
			if len(batch) == 25 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// tapItemSizes measures, in one scan, the mean execution and state item
// sizes and the size of a state's keys (a KEYS_ONLY index entry).
func tapItemSizes(ctx context.Context, db *dynamodb.Client, table string) (ItemSizes, error) {
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: &table})
	var ex, st, keys, nEx, nSt float64
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return ItemSizes{}, fmt.Errorf("size of %s: %w", table, err)
		}
		for _, item := range page.Items {
			sk, _ := item[schema.AttrSK].(*types.AttributeValueMemberS)
			switch {
			case sk == nil:
			case strings.HasPrefix(sk.Value, execSKPrefix):
				ex, nEx = ex+float64(itemSize(item)), nEx+1
			case sk.Value == "STATE":
				st, nSt = st+float64(itemSize(item)), nSt+1
				keys += float64(indexKeysSize(item))
			}
		}
	}
	return ItemSizes{Execution: ex / max(nEx, 1), State: st / max(nSt, 1), IndexKeys: keys / max(nSt, 1)}, nil
}

// indexKeysSize is the size of an item's table and byAccount keys: what a
// KEYS_ONLY index entry of it holds.
func indexKeysSize(item map[string]types.AttributeValue) int {
	keys := map[string]types.AttributeValue{}
	for _, k := range []string{schema.AttrPK, schema.AttrSK, schema.AttrGSI1PK, schema.AttrGSI1SK} {
		if v, ok := item[k]; ok {
			keys[k] = v
		}
	}
	return itemSize(keys)
}

// meanItemSize is the mean DynamoDB item size of the table's items.
func meanItemSize(ctx context.Context, db *dynamodb.Client, table string) (float64, error) {
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: &table})
	var sum, n float64
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("size of %s: %w", table, err)
		}
		for _, item := range page.Items {
			sum += float64(itemSize(item))
			n++
		}
	}
	return sum / max(n, 1), nil
}

// itemSize is DynamoDB's size of an item: attribute names plus values
// (strings by UTF-8 length, numbers about one byte per two digits plus one).
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k)
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += len(v.Value)
		case *types.AttributeValueMemberN:
			n += (len(strings.TrimLeft(strings.ReplaceAll(v.Value, ".", ""), "-0"))+1)/2 + 1
		case *types.AttributeValueMemberBOOL:
			n++
		default:
			n += 8
		}
	}
	return n
}

// PlatformBytes is what Lambda's text-format START, END and REPORT lines
// of one invocation weigh (with the XRAY line of a traced invocation, at
// XRaySampled of them), as Lambda writes them at system log level INFO.
func PlatformBytes(billed time.Duration, memoryMB int, rss int64, tracing bool) float64 {
	const id = "8f5a0f3c-2b1e-4c7d-9a4e-1f2d3c4b5a69"
	lines := "START RequestId: " + id + " Version: $LATEST\n" +
		"END RequestId: " + id + "\n" +
		fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t\n",
			id, float64(billed)/float64(time.Millisecond), billed.Milliseconds(), memoryMB, rss>>20)
	n := float64(len(lines))
	if tracing {
		n += XRaySampled * float64(len("XRAY TraceId: 1-67a0c0de-0123456789abcdef01234567\tSegmentId: 0123456789abcdef\tSampled: true\t\n"))
	}
	return n
}
