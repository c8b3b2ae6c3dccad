package strongtable

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/partition"
	"github.com/tap-trading/tap/internal/store"
)

// TestWriteIsInBothReplicasWhenAcknowledged: each kind of write, made in
// either region, is in the other replica as soon as it returns: a strongly
// consistent read there, and the replica itself, show it.
func TestWriteIsInBothReplicasWhenAcknowledged(t *testing.T) {
	p := newPair(t, pairOptions{delay: 20 * time.Millisecond})
	p.mustPut(t, p.a, "o1", "1")
	if got := p.mustGet(t, p.b, "o1", true); got != "1" {
		t.Errorf("B's consistent read after A's put = %q, want 1", got)
	}
	if err := p.setV(p.b, "o1", "2", "1"); err != nil {
		t.Fatalf("B's update: %v", err)
	}
	if got := p.mustGet(t, p.a, "o1", true); got != "2" {
		t.Errorf("A's consistent read after B's update = %q, want 2", got)
	}
	if _, err := p.a.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: &p.table, Key: key("o1")}); err != nil {
		t.Fatalf("A's delete: %v", err)
	}
	if got := p.mustGet(t, p.b, "o1", true); got != "" {
		t.Errorf("B's consistent read after A's delete = %q, want no item", got)
	}
	if a, b := p.replicas(t, "o1"); a != "" || b != "" {
		t.Errorf("replicas hold %q and %q, want no item", a, b)
	}
	s := p.g.Stats()
	if got := s.Regions[east].AckedBoth; got != 2 {
		t.Errorf("A's writes acknowledged in both replicas = %d, want 2", got)
	}
	if got := s.Regions[west].AckedBoth; got != 1 {
		t.Errorf("B's writes acknowledged in both replicas = %d, want 1", got)
	}
	tot := s.Total()
	if tot.AckedViaWitness != 0 || tot.Backlog != 0 || tot.Conflicts != 0 {
		t.Errorf("stats %+v: want no witness, backlog or conflict", tot)
	}
	if tot.MeanWriteLatencyAdded() < 20*time.Millisecond {
		t.Errorf("mean write latency added %s, want at least the cross-region delay 20ms", tot.MeanWriteLatencyAdded())
	}
}

// TestConcurrentWritesFromBothRegionsConflict: while A's write of an item
// is in its quorum step, B's write of the same item fails with
// ReplicatedWriteConflictException (HTTP 400), which the SDK parses; A's
// write wins in both replicas.
func TestConcurrentWritesFromBothRegionsConflict(t *testing.T) {
	p := newPair(t, pairOptions{delay: 400 * time.Millisecond})
	errA := make(chan error, 1)
	go func() { errA <- p.put(context.Background(), p.a, "o1", "from-a") }()
	time.Sleep(100 * time.Millisecond) // A holds the item, in its quorum step
	err := p.put(context.Background(), p.b, "o1", "from-b")
	var conflict *ddbtypes.ReplicatedWriteConflictException
	if !errors.As(err, &conflict) {
		t.Fatalf("B's overlapping put = %v, want ReplicatedWriteConflictException", err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
		t.Errorf("B's conflict %v: want HTTP 400", err)
	}
	if err := <-errA; err != nil {
		t.Fatalf("A's put: %v", err)
	}
	if a, b := p.replicas(t, "o1"); a != "from-a" || b != "from-a" {
		t.Errorf("replicas hold %q and %q, want A's write in both", a, b)
	}
	if got := p.stats(west).Conflicts; got != 1 {
		t.Errorf("B's conflicts = %d, want 1", got)
	}
	// The item is free again: B's retry succeeds, as AWS says it will.
	p.mustPut(t, p.b, "o1", "from-b")
	if a, b := p.replicas(t, "o1"); a != "from-b" || b != "from-b" {
		t.Errorf("after B's retry replicas hold %q and %q, want B's write in both", a, b)
	}
}

// TestWritesOfOneRegionToOneItemWaitTheirTurn: two concurrent writes from
// the same region to one item both succeed, one after the other.
func TestWritesOfOneRegionToOneItemWaitTheirTurn(t *testing.T) {
	const delay = 200 * time.Millisecond
	p := newPair(t, pairOptions{delay: delay})
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = p.a.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
				TableName: &p.table, Key: key("o1"),
				UpdateExpression:          aws.String("ADD n :one"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":one": &ddbtypes.AttributeValueMemberN{Value: "1"}},
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent updates in A: %v", err)
	}
	if took := time.Since(start); took < 2*delay {
		t.Errorf("two writes of one item took %s, want at least two quorum steps (%s): serialized", took, 2*delay)
	}
	for _, c := range []*dynamodb.Client{p.directA, p.directB} {
		out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &p.table, Key: key("o1"), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := out.Item["n"].(*ddbtypes.AttributeValueMemberN); n == nil || n.Value != "2" {
			t.Errorf("replica's n = %v, want 2 (both increments)", out.Item["n"])
		}
	}
}

// TestWritesOfDifferentItemsDoNotConflict: the regions write different
// items at the same time; neither conflicts and both replicas hold both.
func TestWritesOfDifferentItemsDoNotConflict(t *testing.T) {
	p := newPair(t, pairOptions{delay: 300 * time.Millisecond})
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = p.put(context.Background(), p.a, "o1", "a") })
	wg.Go(func() { errs[1] = p.put(context.Background(), p.b, "o2", "b") })
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent writes of different items: %v", err)
	}
	for pk, want := range map[string]string{"o1": "a", "o2": "b"} {
		if a, b := p.replicas(t, pk); a != want || b != want {
			t.Errorf("%s: replicas hold %q and %q, want %q in both", pk, a, b, want)
		}
	}
	if got := p.g.Stats().Total().Conflicts; got != 0 {
		t.Errorf("conflicts = %d, want 0", got)
	}
}

// TestLinkCutWritesGoThroughWitness: with the link between the regions cut
// and the witness reachable, A's writes are acknowledged through the
// witness; B receives them from the witness log before it serves a
// consistent read or evaluates a conditional write, and B's writes reach A
// the same way.
func TestLinkCutWritesGoThroughWitness(t *testing.T) {
	// No background relay: only B's requests pull the log, so the test
	// sees the backlog.
	p := newPair(t, pairOptions{relayEvery: time.Hour})
	p.mustPut(t, p.a, "o1", "1")
	p.cutLinks(t, partition.Refuse)

	if err := p.setV(p.a, "o1", "2", "1"); err != nil {
		t.Fatalf("A's update with the link cut: %v", err)
	}
	if got := p.stats(east).AckedViaWitness; got != 1 {
		t.Errorf("A's writes acknowledged via the witness = %d, want 1", got)
	}
	if got := p.g.Backlog()[west]; got != 1 {
		t.Errorf("B's backlog = %d, want 1", got)
	}
	if _, b := p.replicas(t, "o1"); b != "1" {
		t.Fatalf("B's replica holds %q before B serves anything, want the old 1", b)
	}
	if got := p.mustGet(t, p.b, "o1", true); got != "2" {
		t.Errorf("B's consistent read = %q, want A's 2 relayed first", got)
	}
	if s := p.stats(west); s.Relayed != 1 || s.Backlog != 0 {
		t.Errorf("B relayed %d, backlog %d: want 1 and 0", s.Relayed, s.Backlog)
	}

	// A conditional write in B is evaluated on the relayed version.
	if err := p.setV(p.a, "o1", "3", "2"); err != nil {
		t.Fatalf("A's second update: %v", err)
	}
	if err := p.setV(p.b, "o1", "4", "2"); !isConditionFailed(err) {
		t.Errorf("B's update conditional on the stale 2 = %v, want ConditionalCheckFailedException", err)
	}
	if err := p.setV(p.b, "o1", "4", "3"); err != nil {
		t.Fatalf("B's update conditional on A's 3: %v", err)
	}
	// …and reaches A through the witness too.
	if got := p.g.Backlog()[east]; got != 1 {
		t.Errorf("A's backlog = %d, want 1 (B's write)", got)
	}
	if got := p.mustGet(t, p.a, "o1", true); got != "4" {
		t.Errorf("A's consistent read = %q, want B's 4", got)
	}
	p.healLinks()
	p.caughtUp(t)
	if a, b := p.replicas(t, "o1"); a != "4" || b != "4" {
		t.Errorf("replicas hold %q and %q, want 4 in both", a, b)
	}
}

// TestHungLinkCostsOneTimeout: with the link hanging and the witness
// reachable, the first write waits LinkTimeout for the other replica, then
// the link is known down and the next writes go straight to the witness;
// B catches up from the witness by itself; once the link heals, writes
// reach both replicas again.
func TestHungLinkCostsOneTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	p := newPair(t, pairOptions{linkTimeout: timeout})
	p.mustPut(t, p.a, "o1", "0")
	p.cutLinks(t, partition.Hang)
	for i, v := range []string{"1", "2", "3"} {
		start := time.Now()
		p.mustPut(t, p.a, "o1", v)
		took := time.Since(start)
		if i == 0 && took < timeout {
			t.Errorf("first write with the link hanging took %s, want at least LinkTimeout %s", took, timeout)
		}
		if i > 0 && took >= timeout {
			t.Errorf("write %d took %s: the link known down should be skipped", i+1, took)
		}
	}
	if s := p.stats(east); s.AckedViaWitness != 3 || s.MaxWriteLatencyAdded < timeout {
		t.Errorf("A's stats %+v: want 3 writes via the witness, the longest at least %s", s, timeout)
	}
	p.caughtUp(t) // B reaches the witness: it catches up with the link still hanging
	if _, b := p.replicas(t, "o1"); b != "3" {
		t.Errorf("B's replica holds %q after catching up, want 3", b)
	}
	p.healLinks()
	deadline := time.Now().Add(5 * time.Second)
	for p.g.side(west).linkHealth.isDown() {
		if time.Now().After(deadline) {
			t.Fatal("the link into B is still known down 5s after it healed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.mustPut(t, p.a, "o1", "4")
	if s := p.stats(east); s.AckedBoth != 2 {
		t.Errorf("A's writes acknowledged in both replicas = %d, want 2 (before the cut and after the heal)", s.AckedBoth)
	}
}

// TestReplicaThatMissedWritesCatchesUpWhenReachable: B, cut off from A and
// from the witness, missed A's writes: it refuses consistent reads and
// writes, serves eventually consistent reads from what it has, and once the
// link heals fetches the writes from A by itself.
func TestReplicaThatMissedWritesCatchesUpWhenReachable(t *testing.T) {
	p := newPair(t, pairOptions{})
	p.mustPut(t, p.a, "o1", "1")
	p.thirdB.Store(false)
	p.cutLinks(t, partition.Refuse)
	if err := p.setV(p.a, "o1", "2", ""); err != nil {
		t.Fatalf("A's update (A reaches the witness): %v", err)
	}
	if _, err := p.get(p.b, "o1", true); !isNoQuorum(err) {
		t.Errorf("B's consistent read = %v, want InternalServerError (cannot reach a quorum)", err)
	}
	if got := p.mustGet(t, p.b, "o1", false); got != "1" {
		t.Errorf("B's eventually consistent read = %q, want its own stale 1", got)
	}
	if err := p.setV(p.b, "o1", "9", ""); !isNoQuorum(err) {
		t.Errorf("B's update = %v, want InternalServerError (cannot reach a quorum)", err)
	}
	if a, b := p.replicas(t, "o1"); a != "2" || b != "1" {
		t.Fatalf("replicas hold %q and %q, want 2 and 1 (B's refused write applied nowhere)", a, b)
	}
	p.healLinks()
	p.caughtUp(t)
	if got := p.mustGet(t, p.b, "o1", true); got != "2" {
		t.Errorf("B's consistent read after the heal = %q, want 2", got)
	}
	s := p.stats(west)
	if s.ReadRefusals != 1 || s.WriteRefusals != 1 || s.Relayed != 1 {
		t.Errorf("B's stats %+v: want 1 read and 1 write refused, 1 relayed", s)
	}
}

// TestNoQuorumRefusesWritesAndConsistentReads: A reaches neither B nor the
// witness: its writes are refused with InternalServerError (HTTP 500) and
// applied nowhere; its eventually consistent reads are served, its
// consistent reads refused. Whether the link refuses or hangs.
func TestNoQuorumRefusesWritesAndConsistentReads(t *testing.T) {
	for _, mode := range []partition.Mode{partition.Refuse, partition.Hang} {
		t.Run(mode.String(), func(t *testing.T) {
			p := newPair(t, pairOptions{linkTimeout: 300 * time.Millisecond})
			p.mustPut(t, p.a, "o1", "1")
			p.thirdA.Store(false)
			p.cutLinks(t, mode)

			err := p.put(context.Background(), p.a, "o1", "2")
			if !isNoQuorum(err) {
				t.Fatalf("A's put without a quorum = %v, want InternalServerError (cannot reach a quorum)", err)
			}
			var re *awshttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
				t.Errorf("refusal %v: want HTTP 500", err)
			}
			if err := p.put(context.Background(), p.a, "o2", "new"); !isNoQuorum(err) {
				t.Errorf("A's put of a new item = %v, want InternalServerError", err)
			}
			for pk, want := range map[string]string{"o1": "1", "o2": ""} {
				if a, b := p.replicas(t, pk); a != want || b != want {
					t.Errorf("%s: replicas hold %q and %q, want %q: nothing applied", pk, a, b, want)
				}
			}
			if got := p.mustGet(t, p.a, "o1", false); got != "1" {
				t.Errorf("A's eventually consistent read = %q, want 1", got)
			}
			if _, err := p.get(p.a, "o1", true); !isNoQuorum(err) {
				t.Errorf("A's consistent read = %v, want InternalServerError", err)
			}
			if s := p.stats(east); s.WriteRefusals != 2 || s.ReadRefusals != 1 || s.Acked() != 1 {
				t.Errorf("A's stats %+v: want 2 writes and 1 read refused, 1 acknowledged", s)
			}
			// The witness comes back: A has a quorum again.
			p.thirdA.Store(true)
			p.mustPut(t, p.a, "o1", "3")
			p.healLinks()
			p.caughtUp(t)
			if a, b := p.replicas(t, "o1"); a != "3" || b != "3" {
				t.Errorf("replicas hold %q and %q, want 3 in both", a, b)
			}
		})
	}
}

// TestWriteThatLosesItsQuorumMidWayIsUndone: A reaches B but not the
// witness; the link is cut while A's write is in its quorum step, after the
// write was applied in A: the write is refused and A's replica is put back.
func TestWriteThatLosesItsQuorumMidWayIsUndone(t *testing.T) {
	p := newPair(t, pairOptions{delay: 400 * time.Millisecond})
	p.mustPut(t, p.a, "o1", "1")
	p.thirdA.Store(false)
	errA := make(chan error, 1)
	go func() { errA <- p.put(context.Background(), p.a, "o1", "2") }()
	time.Sleep(150 * time.Millisecond)
	if a, _ := p.replicas(t, "o1"); a != "2" {
		t.Fatalf("A's replica holds %q during the quorum step, want the write's 2 (the test needs it applied)", a)
	}
	p.cutLinks(t, partition.Refuse)
	if err := <-errA; !isNoQuorum(err) {
		t.Fatalf("A's put = %v, want InternalServerError (cannot reach a quorum)", err)
	}
	if a, b := p.replicas(t, "o1"); a != "1" || b != "1" {
		t.Errorf("replicas hold %q and %q, want 1 in both (the write undone)", a, b)
	}
}

// TestFailedConditionReplicatesNothing: a conditional write that fails
// returns ConditionalCheckFailedException with the item (ALL_OLD), as moto
// answered it, and writes nothing to the other replica.
func TestFailedConditionReplicatesNothing(t *testing.T) {
	p := newPair(t, pairOptions{})
	p.mustPut(t, p.a, "o1", "1")
	putsB := motoB.Calls()[targetPrefix+"PutItem"].Count
	item := key("o1")
	item["v"] = &ddbtypes.AttributeValueMemberS{Value: "2"}
	_, err := p.a.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: &p.table, Item: item,
		ConditionExpression:                 aws.String("attribute_not_exists(PK)"),
		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *ddbtypes.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("conditional put = %v, want ConditionalCheckFailedException", err)
	}
	if v, _ := ccf.Item["v"].(*ddbtypes.AttributeValueMemberS); v == nil || v.Value != "1" {
		t.Errorf("the exception's item = %v, want the old item (v 1)", ccf.Item)
	}
	if got := motoB.Calls()[targetPrefix+"PutItem"].Count; got != putsB {
		t.Errorf("B's moto took %d PutItem calls after the failed write, want 0", got-putsB)
	}
	if got := p.stats(east).Acked(); got != 1 {
		t.Errorf("A's acknowledged writes = %d, want 1 (the failed one is not)", got)
	}
}

// TestUpdateReturnValuesPassThrough: UpdateItem's ReturnValues UPDATED_OLD
// comes back as moto answered it, byte for byte (its X-Amz-Crc32 matches),
// and the update is replicated.
func TestUpdateReturnValuesPassThrough(t *testing.T) {
	p := newPair(t, pairOptions{})
	p.mustPut(t, p.a, "o1", "1")
	out, err := p.a.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: &p.table, Key: key("o1"),
		UpdateExpression:          aws.String("SET v = :v"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": &ddbtypes.AttributeValueMemberS{Value: "2"}},
		ReturnValues:              ddbtypes.ReturnValueUpdatedOld,
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := out.Attributes["v"].(*ddbtypes.AttributeValueMemberS); len(out.Attributes) != 1 || v == nil || v.Value != "1" {
		t.Errorf("UPDATED_OLD attributes = %v, want just v = 1", out.Attributes)
	}
	if _, b := p.replicas(t, "o1"); b != "2" {
		t.Errorf("B's replica holds %q, want 2", b)
	}

	// The same through raw HTTP: moto's CRC32 still matches the body.
	body := `{"TableName":"` + p.table + `","Key":{"PK":{"S":"o1"},"SK":{"S":"X"}},"UpdateExpression":"SET v = :v",` +
		`"ExpressionAttributeValues":{":v":{"S":"3"}},"ReturnValues":"UPDATED_OLD"}`
	req, _ := http.NewRequest(http.MethodPost, p.g.URL(east)+"/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", targetPrefix+"UpdateItem")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20250101/"+east+"/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(got, []byte(`"Attributes"`)) || !bytes.Contains(got, []byte(`"2"`)) {
		t.Errorf("raw UpdateItem answered %d %s, want 200 with the old v 2", resp.StatusCode, got)
	}
	// moto sends DynamoDB's CRC32 of the body it wrote.
	if crc := resp.Header.Get("X-Amz-Crc32"); crc != strconv.FormatUint(uint64(crc32.ChecksumIEEE(got)), 10) {
		t.Errorf("X-Amz-Crc32 %q does not match the body: the body was changed (or the header dropped)", crc)
	}
	if resp.ContentLength != int64(len(got)) {
		t.Errorf("Content-Length %d, body %d bytes", resp.ContentLength, len(got))
	}
}

// TestOtherRequestsPassThrough: SQS calls and DynamoDB calls that are not
// the table's reach the region's moto unchanged and are not replicated;
// the calls on the table the group does not replicate are refused.
func TestOtherRequestsPassThrough(t *testing.T) {
	p := newPair(t, pairOptions{})
	ctx := context.Background()
	cfg, err := awslocal.Config(ctx, p.g.URL(east), east)
	if err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(cfg)
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(p.table + "-q")})
	if err != nil {
		t.Fatalf("SQS CreateQueue through the proxy: %v", err)
	}
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: created.QueueUrl, MessageBody: aws.String("hello")}); err != nil {
		t.Fatalf("SQS SendMessage: %v", err)
	}
	got, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, WaitTimeSeconds: 1})
	if err != nil || len(got.Messages) != 1 || aws.ToString(got.Messages[0].Body) != "hello" {
		t.Fatalf("SQS ReceiveMessage = %v, %v; want the message", got, err)
	}

	// Another table of A only: written as is, not replicated.
	otherTable := p.table + "-other"
	if err := store.CreateTable(ctx, p.a, otherTable); err != nil {
		t.Fatalf("CreateTable through the proxy: %v", err)
	}
	item := key("o1")
	if _, err := p.a.PutItem(ctx, &dynamodb.PutItemInput{TableName: &otherTable, Item: item}); err != nil {
		t.Fatalf("put in another table: %v", err)
	}
	if got := p.g.Stats().Total(); got.Acked() != 0 || got.Backlog != 0 {
		t.Errorf("stats %+v after writes to other tables: want nothing", got)
	}

	_, err = p.a.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		{Put: &ddbtypes.Put{TableName: &p.table, Item: key("o1")}},
	}})
	var ve smithy.APIError
	if !errors.As(err, &ve) || ve.ErrorCode() != "ValidationException" {
		t.Errorf("TransactWriteItems on the table = %v, want ValidationException (MRSC has no transactions)", err)
	}
	if a, _ := p.replicas(t, "o1"); a != "" {
		t.Errorf("A's replica holds o1 after the refused transaction")
	}
}

// isConditionFailed reports whether err is ConditionalCheckFailedException.
func isConditionFailed(err error) bool {
	var ccf *ddbtypes.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// TestNearestThirdCompletesTheQuorum: with the third member the nearest,
// a write is acknowledged once the witness has it, without waiting for the
// other replica — even one whose link hangs — and the other replica still
// serves it to a consistent read at once and holds it once caught up.
func TestNearestThirdCompletesTheQuorum(t *testing.T) {
	const timeout = 500 * time.Millisecond
	p := newPair(t, pairOptions{thirdNearest: true, linkTimeout: timeout})
	p.mustPut(t, p.a, "o1", "1")
	if got := p.mustGet(t, p.b, "o1", true); got != "1" {
		t.Errorf("B's consistent read after A's put = %q, want 1", got)
	}
	p.caughtUp(t)
	if a, b := p.replicas(t, "o1"); a != "1" || b != "1" {
		t.Errorf("replicas hold %q and %q, want 1 in both", a, b)
	}

	p.cutLinks(t, partition.Hang)
	start := time.Now()
	p.mustPut(t, p.a, "o1", "2")
	if took := time.Since(start); took >= timeout {
		t.Errorf("A's write with B's link hanging took %s: want it acknowledged by the witness, not after LinkTimeout %s", took, timeout)
	}
	p.healLinks()
	p.caughtUp(t)
	if a, b := p.replicas(t, "o1"); a != "2" || b != "2" {
		t.Errorf("replicas hold %q and %q after the heal, want 2 in both", a, b)
	}
	if s := p.stats(east); s.AckedViaWitness != 2 || s.AckedBoth != 0 {
		t.Errorf("A's stats %+v: want both writes acknowledged via the witness", s)
	}
}
