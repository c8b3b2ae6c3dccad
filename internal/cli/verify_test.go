package cli

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/partition"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/twin"
)

// TestVerifyTwoRegionTwin runs tapctl verify --local against the
// two-region twin: identical after a fresh deploy, a planted difference in
// the secondary (written while the link between the regions is cut, so
// replication cannot repair it) reported with its key and exit 1, and
// identical again once the link heals and replication delivers it.
func TestVerifyTwoRegionTwin(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts two local AWS servers")
	}
	f := newFixture(t)
	ctx := context.Background()
	e, err := twin.Start(ctx, twin.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// The heartbeats write both replicas all the time; stopped, the tables
	// settle (as a drill's end does).
	e.StopHeartbeats()
	settle(t, e)

	// The state `tapctl local --regions` records (see runRegions).
	regions := e.Regions()
	st := local.State{
		Resources: local.Resources{Endpoint: e.EndpointURL(), Region: regions[0].Name, Env: twin.DefaultEnv, Bus: regions[0].Bus, Table: regions[0].Table},
		PID:       os.Getpid(), StartedAt: time.Now().UTC(),
	}
	for _, r := range regions {
		st.Regions = append(st.Regions, local.Resources{Endpoint: r.Endpoint, Region: r.Name, Env: twin.DefaultEnv, Bus: r.Bus, Table: r.Table})
	}
	if err := local.WriteState(f.vars["TAPCTL_STATE"], st); err != nil {
		t.Fatal(err)
	}

	var rep verifyReport
	r := f.run("", "verify", "--local", "--pause", "300ms", "-o", "json").want(t, ExitOK)
	r.decode(t, &rep)
	// Each region's heartbeat item, in both replicas.
	if !rep.Identical || rep.Items < 2 || rep.PrimaryRegion != e.Primary() || rep.SecondaryRegion != e.Secondary() {
		t.Fatalf("verify of a settled twin: %+v, want identical with both heartbeats", rep)
	}
	if !contains(r.stderr, "verify: table "+regions[0].Table, "scanned ", "RCU/s") {
		t.Errorf("stderr lacks the progress:\n%s", r.stderr)
	}

	if err := e.CutLink(partition.Refuse); err != nil {
		t.Fatal(err)
	}
	planted := map[string]types.AttributeValue{
		schema.AttrPK: &types.AttributeValueMemberS{Value: "ORDER#VERIFY-PLANTED"},
		schema.AttrSK: &types.AttributeValueMemberS{Value: "STATE"},
		"status":      &types.AttributeValueMemberS{Value: "NEW"},
	}
	if _, err := e.Clients(e.Secondary()).DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &regions[1].Table, Item: planted}); err != nil {
		t.Fatal(err)
	}
	r = f.run("", "verify", "--local", "--pause", "300ms").want(t, ExitFailure)
	if !contains(r.stdout, "1 key of table "+regions[0].Table+" differs", "PK=ORDER#VERIFY-PLANTED SK=STATE", "only in "+e.Secondary()) {
		t.Errorf("verify with a planted difference printed:\n%s", r.stdout)
	}
	if !contains(r.stderr, "1 key differed", "re-reading 1 key in both regions after 300ms") {
		t.Errorf("stderr lacks the re-check:\n%s", r.stderr)
	}

	e.HealAll()
	settle(t, e)
	r = f.run("", "verify", "--local", "--pause", "300ms").want(t, ExitOK)
	if !contains(r.stdout, "identical: table "+regions[0].Table+" holds the same") {
		t.Errorf("verify after the heal printed:\n%s", r.stdout)
	}
}

// settle waits until both regions are idle and table replication has caught
// up.
func settle(t *testing.T, e *twin.Env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for !(e.Idle(ctx, e.Primary()) && e.Idle(ctx, e.Secondary())) {
		if ctx.Err() != nil {
			t.Fatal("the twin's regions did not go idle within 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := e.Replication().CaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyBadInput(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--rcu", "0"}, []string{"--rcu 0", "above 0"}},
		{[]string{"--rcu", "-3"}, []string{"--rcu -3"}},
		{[]string{"--segments", "0"}, []string{"--segments 0"}},
		{[]string{"--pause", "-1s"}, []string{"--pause -1s"}},
		{[]string{"--rechecks", "0"}, []string{"--rechecks 0"}},
		{[]string{"--region", "us-west-2"}, []string{"both us-west-2", "--secondary-region"}},
	} {
		r := f.run("", append([]string{"verify"}, tt.args...)...)
		if r.code != ExitUsage || !contains(r.stderr, tt.want...) {
			t.Errorf("verify %v: exit %d, stderr %q; want a usage error naming %v", tt.args, r.code, r.stderr, tt.want)
		}
	}
	// --local with no pipeline running says how to start one.
	r := f.run("", "verify", "--local")
	if r.code != ExitFailure || !contains(r.stderr, "no local pipeline is running") {
		t.Errorf("verify --local with nothing running: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestVerifyWithoutCredentialsNamesTheFix(t *testing.T) {
	f := newFixture(t)
	f.env.LoadAWS = func(_ context.Context, region string) (aws.Config, error) {
		return aws.Config{Region: region}, nil
	}
	r := f.run("", "verify")
	if r.code != ExitFailure || !contains(r.stderr, "no AWS credentials", "AWS_PROFILE") {
		t.Errorf("verify without credentials: exit %d, stderr %q; want the fix named", r.code, r.stderr)
	}
}

// TestVerifyAccessDeniedInOneRegion: the primary's table is readable (moto),
// the secondary's Scan is refused; the message names the region, the table
// and the actions to allow.
func TestVerifyAccessDeniedInOneRegion(t *testing.T) {
	f := newFixture(t)
	f.table(primary)
	f.table(secondary)
	denied := newFakeAWS(t, func(_ recorded, w http.ResponseWriter) {
		body := fmt.Sprintf(`{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":%q}`,
			"User: arn:aws:iam::123456789012:user/ops is not authorized to perform: dynamodb:Scan on resource: "+f.names.Table())
		// DynamoDB signs its answers' bodies with a CRC32 the SDK checks.
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10))
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, body)
	})
	f.env.LoadAWS = func(ctx context.Context, region string) (aws.Config, error) {
		if region == secondary {
			return awslocal.Config(ctx, denied.URL, region)
		}
		return awslocal.Config(ctx, motoEndpoint, region)
	}
	r := f.run("", "verify", "--pause", "0s")
	if r.code != ExitFailure {
		t.Fatalf("verify with the secondary denied: exit %d, want 1\n%s", r.code, r.stderr)
	}
	if !contains(r.stderr, "Scan of table "+f.names.Table()+" in "+secondary+" was denied",
		"dynamodb:Scan and dynamodb:BatchGetItem", "arn:aws:dynamodb:"+secondary+":<account>:table/"+f.names.Table()) {
		t.Errorf("stderr %q; want the region, the table and the actions named", r.stderr)
	}
	if strings.Count(r.stderr, "what to do") != 1 {
		t.Errorf("stderr %q; want one hint", r.stderr)
	}
}

// TestVerifyInAWSComparesTheEnvsTable: without --local, the env's table in
// the primary and the secondary region; a difference is listed with its
// attributes, and -o json carries them.
func TestVerifyInAWSComparesTheEnvsTable(t *testing.T) {
	f := newFixture(t)
	f.table(primary)
	f.table(secondary)
	put := func(region, pk, status string) {
		t.Helper()
		item := map[string]types.AttributeValue{
			schema.AttrPK: &types.AttributeValueMemberS{Value: pk},
			schema.AttrSK: &types.AttributeValueMemberS{Value: "STATE"},
			"status":      &types.AttributeValueMemberS{Value: status},
		}
		table := f.names.Table()
		if _, err := dynamodb.NewFromConfig(f.cfg(region)).PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	put(primary, "ORDER#1", "FILLED")
	put(secondary, "ORDER#1", "FILLED")
	f.run("", "verify", "--pause", "0s").want(t, ExitOK)

	put(secondary, "ORDER#1", "NEW")
	r := f.run("", "verify", "--pause", "0s", "--rcu", "10", "-o", "json").want(t, ExitFailure)
	var rep verifyReport
	r.decode(t, &rep)
	if len(rep.Differences) != 1 {
		t.Fatalf("differences %+v, want ORDER#1", rep.Differences)
	}
	d := rep.Differences[0]
	if d.Key[schema.AttrPK] != "ORDER#1" || len(d.Attributes) != 1 || d.Attributes[0].Name != "status" ||
		valueOrAbsent(d.Attributes[0].Primary) != `"FILLED"` || valueOrAbsent(d.Attributes[0].Secondary) != `"NEW"` {
		t.Errorf("difference %+v, want ORDER#1's status FILLED in the primary, NEW in the secondary", d)
	}
	if rep.RCUBudget != 10 || rep.Table != f.names.Table() || rep.PrimaryRegion != primary || rep.SecondaryRegion != secondary {
		t.Errorf("report %+v, want the env's table in %s and %s at 10 RCU/s", rep, primary, secondary)
	}
	r = f.run("", "verify", "--pause", "0s").want(t, ExitFailure)
	if !contains(r.stdout, "PK=ORDER#1 SK=STATE", `status: `+primary+` "FILLED", `+secondary+` "NEW"`) {
		t.Errorf("text output:\n%s", r.stdout)
	}
}
