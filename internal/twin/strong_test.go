package twin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/partition"
	"github.com/tap-trading/tap/internal/schema"
)

// TestRegionCutOffFromTheQuorumRefusesWrites starts the twin with a
// strongly consistent table: a write in one region is read back strongly
// consistently in the other; with the link cut, both still write through
// the witness; cut from the witness too, the secondary refuses writes and
// strongly consistent reads (HTTP 500), serves eventually consistent ones,
// and takes the primary's writes once healed.
func TestRegionCutOffFromTheQuorumRefusesWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts the two-region twin")
	}
	d := DeploymentDefaults()
	d.TableConsistency, d.MRSCThirdRegion, d.MRSCThirdRegionRole = schema.Strong, "us-east-2", config.Witness
	ctx := context.Background()
	e, err := Start(ctx, Config{Deployment: d})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.StrongTable() == nil || e.Replication() != nil {
		t.Fatal("a strongly consistent table runs the MRSC proxies, not stream replication")
	}
	table := e.Spec().Table.Name
	p, s := e.Clients(e.Primary()).DynamoDB, e.Clients(e.Secondary()).DynamoDB
	put := func(c *dynamodb.Client, v string) error {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]ddbtypes.AttributeValue{
			schema.AttrPK: &ddbtypes.AttributeValueMemberS{Value: "ORDER#T"}, schema.AttrSK: &ddbtypes.AttributeValueMemberS{Value: "PROBE"},
			"v": &ddbtypes.AttributeValueMemberS{Value: v},
		}})
		return err
	}
	get := func(c *dynamodb.Client, consistent bool) (string, error) {
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: &consistent, Key: map[string]ddbtypes.AttributeValue{
			schema.AttrPK: &ddbtypes.AttributeValueMemberS{Value: "ORDER#T"}, schema.AttrSK: &ddbtypes.AttributeValueMemberS{Value: "PROBE"},
		}})
		if err != nil {
			return "", err
		}
		v, _ := out.Item["v"].(*ddbtypes.AttributeValueMemberS)
		if v == nil {
			return "", nil
		}
		return v.Value, nil
	}
	if err := put(p, "1"); err != nil {
		t.Fatal(err)
	}
	if v, err := get(s, true); err != nil || v != "1" {
		t.Fatalf("secondary's consistent read = %q, %v; want the primary's 1", v, err)
	}

	if err := e.CutLink(partition.Refuse); err != nil {
		t.Fatal(err)
	}
	if err := put(s, "2"); err != nil {
		t.Fatalf("secondary's write with the link cut (the witness completes the quorum): %v", err)
	}
	if err := e.CutQuorum(e.Secondary()); err != nil {
		t.Fatal(err)
	}
	if err := put(p, "3"); err != nil {
		t.Fatalf("primary's write (it reaches the witness): %v", err)
	}
	var api smithy.APIError
	if err := put(s, "4"); !errors.As(err, &api) || api.ErrorCode() != "InternalServerError" || !strings.Contains(api.ErrorMessage(), "quorum") {
		t.Errorf("secondary's write cut off from the quorum = %v, want InternalServerError naming the quorum", err)
	}
	if _, err := get(s, true); err == nil {
		t.Error("secondary's strongly consistent read without a quorum succeeded; want it refused")
	}
	if v, err := get(s, false); err != nil || v != "2" {
		t.Errorf("secondary's eventually consistent read = %q, %v; want its own 2", v, err)
	}

	e.HealAll()
	if err := e.TableCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := get(s, true); err != nil || v != "3" {
		t.Errorf("secondary's consistent read after the heal = %q, %v; want the primary's 3", v, err)
	}
	if st := e.StrongTable().Stats().Regions[e.Secondary()]; st.WriteRefusals == 0 || st.ReadRefusals == 0 {
		t.Errorf("secondary's MRSC stats %+v: want the refusals counted", st)
	}
}

// TestCutQuorumNeedsAStrongTable: an eventually consistent table has no
// quorum to cut.
func TestCutQuorumNeedsAStrongTable(t *testing.T) {
	e := &Env{primary: &region{name: "us-east-1"}, second: &region{name: "us-west-2"}}
	if err := e.CutQuorum("us-east-1"); err == nil || !strings.Contains(err.Error(), "eventually consistent") {
		t.Errorf("CutQuorum on an MREC table = %v, want an error saying only a strongly consistent table has a quorum", err)
	}
}
