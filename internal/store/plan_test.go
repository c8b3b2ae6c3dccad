package store

import (
	"reflect"
	"regexp"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/event"
)

var (
	transactTime = time.Date(2026, 3, 2, 9, 30, 1, 5_000_000, time.FixedZone("CET", 3600))
	receivedAt   = time.Date(2026, 3, 2, 8, 30, 2, 0, time.UTC)
)

// report is a valid PARTIAL_FILL with every optional field set.
func report() event.ExecutionReport {
	return event.ExecutionReport{
		EventID:      "8a3c1a52-5f0b-4b7e-9d0a-1c2b3d4e5f60",
		OrderID:      "ord-1",
		AccountID:    "acct-7",
		Seq:          3,
		ExecType:     event.ExecPartialFill,
		Symbol:       "BRK.B",
		Side:         event.SideSell,
		OrderQty:     event.MustDecimal("100"),
		CumQty:       event.MustDecimal("40.5"),
		LeavesQty:    event.MustDecimal("59.5"),
		LastQty:      event.MustDecimal("10.5"),
		Price:        event.MustDecimal("455.1"),
		LastPx:       event.MustDecimal("455.12345678"),
		AvgPx:        event.MustDecimal("455.00000001"),
		TransactTime: transactTime,
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func TestPlanExecution(t *testing.T) {
	r := report()
	in := PlanExecution(&r, "us-west-2", receivedAt)
	want := map[string]types.AttributeValue{
		"PK": s("ORDER#ord-1"), "SK": s("EXEC#0000000003"),
		"eventId": s(r.EventID), "orderId": s("ord-1"), "accountId": s("acct-7"), "seq": n("3"),
		"execType": s("PARTIAL_FILL"), "symbol": s("BRK.B"), "side": s("SELL"),
		"orderQty": n("100"), "cumQty": n("40.5"), "leavesQty": n("59.5"), "lastQty": n("10.5"),
		"price": n("455.1"), "lastPx": n("455.12345678"), "avgPx": n("455.00000001"),
		"transactTime":    s("2026-03-02T08:30:01.005000000Z"),
		"receivedAt":      s("2026-03-02T08:30:02.000000000Z"),
		"processedRegion": s("us-west-2"),
	}
	if !reflect.DeepEqual(in.Item, want) {
		t.Errorf("PlanExecution item =\n%v\nwant\n%v", dump(in.Item), dump(want))
	}
	if got := aws.ToString(in.ConditionExpression); got != "attribute_not_exists(PK)" {
		t.Errorf("condition = %q, want attribute_not_exists(PK)", got)
	}
	if in.ReturnValuesOnConditionCheckFailure != types.ReturnValuesOnConditionCheckFailureAllOld {
		t.Errorf("ReturnValuesOnConditionCheckFailure = %q, want ALL_OLD", in.ReturnValuesOnConditionCheckFailure)
	}
	if in.TableName != nil {
		t.Errorf("TableName = %q, want nil (the Store sets it)", *in.TableName)
	}

	r.Price, r.LastPx = event.Decimal{}, event.Decimal{}
	in = PlanExecution(&r, "us-west-2", receivedAt)
	for _, a := range []string{"price", "lastPx"} {
		if v, ok := in.Item[a]; ok {
			t.Errorf("item without %s has %s = %v, want absent", a, a, v)
		}
	}
}

func TestPlanDisplacement(t *testing.T) {
	r := report()
	const displaced = "9c3c1a52-5f0b-4b7e-9d0a-1c2b3d4e5f60"
	in := PlanDisplacement(&r, "us-west-2", receivedAt, displaced)
	if want := PlanExecution(&r, "us-west-2", receivedAt).Item; !reflect.DeepEqual(in.Item, want) {
		t.Errorf("PlanDisplacement item =\n%v\nwant the execution item\n%v", dump(in.Item), dump(want))
	}
	if got, want := aws.ToString(in.ConditionExpression), "#eventId = :displaced AND #processedRegion = :region"; got != want {
		t.Errorf("condition = %q, want %q", got, want)
	}
	if want := map[string]string{"#eventId": "eventId", "#processedRegion": "processedRegion"}; !reflect.DeepEqual(in.ExpressionAttributeNames, want) {
		t.Errorf("names = %v, want %v", in.ExpressionAttributeNames, want)
	}
	if want := map[string]types.AttributeValue{":displaced": s(displaced), ":region": s("us-west-2")}; !reflect.DeepEqual(in.ExpressionAttributeValues, want) {
		t.Errorf("values = %v, want %v", dump(in.ExpressionAttributeValues), dump(want))
	}
	if in.ReturnValuesOnConditionCheckFailure != types.ReturnValuesOnConditionCheckFailureAllOld || in.TableName != nil {
		t.Errorf("ReturnValuesOnConditionCheckFailure = %q, TableName = %v; want ALL_OLD, nil", in.ReturnValuesOnConditionCheckFailure, in.TableName)
	}
}

// Under strong consistency the displacement names the execution by its
// eventId alone: any region may overwrite it.
func TestPlanStrongDisplacement(t *testing.T) {
	r := report()
	const displaced = "9c3c1a52-5f0b-4b7e-9d0a-1c2b3d4e5f60"
	in := PlanStrongDisplacement(&r, "us-west-2", receivedAt, displaced)
	if want := PlanExecution(&r, "us-west-2", receivedAt).Item; !reflect.DeepEqual(in.Item, want) {
		t.Errorf("PlanStrongDisplacement item =\n%v\nwant the execution item\n%v", dump(in.Item), dump(want))
	}
	if got, want := aws.ToString(in.ConditionExpression), "#eventId = :displaced"; got != want {
		t.Errorf("condition = %q, want %q", got, want)
	}
	if want := map[string]string{"#eventId": "eventId"}; !reflect.DeepEqual(in.ExpressionAttributeNames, want) {
		t.Errorf("names = %v, want %v", in.ExpressionAttributeNames, want)
	}
	if want := map[string]types.AttributeValue{":displaced": s(displaced)}; !reflect.DeepEqual(in.ExpressionAttributeValues, want) {
		t.Errorf("values = %v, want %v", dump(in.ExpressionAttributeValues), dump(want))
	}
	if in.ReturnValuesOnConditionCheckFailure != types.ReturnValuesOnConditionCheckFailureAllOld || in.TableName != nil {
		t.Errorf("ReturnValuesOnConditionCheckFailure = %q, TableName = %v; want ALL_OLD, nil", in.ReturnValuesOnConditionCheckFailure, in.TableName)
	}
}

func TestPlanState(t *testing.T) {
	const set = "SET #orderId = :orderId, #accountId = :accountId, #symbol = :symbol, #side = :side, " +
		"#orderQty = :orderQty, #cumQty = :cumQty, #leavesQty = :leavesQty, #avgPx = :avgPx, " +
		"#lastSeq = :seq, #lastEventId = :eventId, #execType = :execType, #status = :status, " +
		"#transactTime = :transactTime, #updatedAt = :updatedAt, #processedRegion = :region, " +
		"#GSI1PK = :gsi1pk, #GSI1SK = if_not_exists(#GSI1SK, :gsi1sk)"
	tests := []struct {
		name          string
		price, lastPx bool
		wantUpdate    string
	}{
		{"both", true, true, set + ", #price = :price, #lastPx = :lastPx"},
		{"price only", true, false, set + ", #price = :price REMOVE #lastPx"},
		{"lastPx only", false, true, set + ", #lastPx = :lastPx REMOVE #price"},
		{"neither", false, false, set + " REMOVE #price, #lastPx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := report()
			if !tc.price {
				r.Price = event.Decimal{}
			}
			if !tc.lastPx {
				r.LastPx = event.Decimal{}
			}
			in := PlanState(&r, "eu-west-1", receivedAt)
			if got := aws.ToString(in.UpdateExpression); got != tc.wantUpdate {
				t.Errorf("update =\n%s\nwant\n%s", got, tc.wantUpdate)
			}
			if got, want := aws.ToString(in.ConditionExpression), "attribute_not_exists(PK) OR #lastSeq < :seq OR (#lastSeq = :seq AND #lastEventId > :eventId)"; got != want {
				t.Errorf("condition = %q, want %q", got, want)
			}
			if want := map[string]types.AttributeValue{"PK": s("ORDER#ord-1"), "SK": s("STATE")}; !reflect.DeepEqual(in.Key, want) {
				t.Errorf("key = %v, want %v", dump(in.Key), dump(want))
			}
			if in.ReturnValues != types.ReturnValueUpdatedOld || in.ReturnValuesOnConditionCheckFailure != types.ReturnValuesOnConditionCheckFailureAllOld {
				t.Errorf("ReturnValues = %q / on failure %q, want UPDATED_OLD / ALL_OLD", in.ReturnValues, in.ReturnValuesOnConditionCheckFailure)
			}
			// DynamoDB rejects a request with an unused name or value, so
			// the maps must hold exactly the placeholders the expressions use.
			exprs := aws.ToString(in.UpdateExpression) + " " + aws.ToString(in.ConditionExpression)
			if got, want := keys(in.ExpressionAttributeNames), placeholders(`#\w+`, exprs); !slices.Equal(got, want) {
				t.Errorf("names = %v, want %v", got, want)
			}
			if got, want := keys(in.ExpressionAttributeValues), placeholders(`:\w+`, exprs); !slices.Equal(got, want) {
				t.Errorf("values = %v, want %v", got, want)
			}
			for ph, name := range in.ExpressionAttributeNames {
				if ph != "#"+name {
					t.Errorf("placeholder %s names %s, want %s", ph, name, ph[1:])
				}
			}
			want := map[string]types.AttributeValue{
				":orderId": s("ord-1"), ":accountId": s("acct-7"), ":symbol": s("BRK.B"), ":side": s("SELL"),
				":orderQty": n("100"), ":cumQty": n("40.5"), ":leavesQty": n("59.5"), ":avgPx": n("455.00000001"),
				":seq": n("3"), ":eventId": s(r.EventID), ":execType": s("PARTIAL_FILL"), ":status": s("PARTIALLY_FILLED"),
				":transactTime": s("2026-03-02T08:30:01.005000000Z"), ":updatedAt": s("2026-03-02T08:30:02.000000000Z"),
				":region": s("eu-west-1"), ":gsi1pk": s("ACCOUNT#acct-7"), ":gsi1sk": s("2026-03-02T08:30:01.005000000Z#ord-1"),
			}
			if tc.price {
				want[":price"] = n("455.1")
			}
			if tc.lastPx {
				want[":lastPx"] = n("455.12345678")
			}
			if !reflect.DeepEqual(in.ExpressionAttributeValues, want) {
				t.Errorf("values =\n%v\nwant\n%v", dump(in.ExpressionAttributeValues), dump(want))
			}
		})
	}
}

func TestPlanHeartbeat(t *testing.T) {
	in := PlanHeartbeat(event.Heartbeat{Region: "us-east-1", SentAt: transactTime}, "us-west-2", receivedAt)
	if want := map[string]types.AttributeValue{"PK": s("HEARTBEAT#us-east-1"), "SK": s("STATE")}; !reflect.DeepEqual(in.Key, want) {
		t.Errorf("key = %v, want %v", dump(in.Key), dump(want))
	}
	if got, want := aws.ToString(in.ConditionExpression), "attribute_not_exists(PK) OR #sentAt < :sentAt"; got != want {
		t.Errorf("condition = %q, want %q", got, want)
	}
	want := map[string]types.AttributeValue{
		":region": s("us-east-1"), ":sentAt": s("2026-03-02T08:30:01.005000000Z"),
		":processedRegion": s("us-west-2"), ":processedAt": s("2026-03-02T08:30:02.000000000Z"),
	}
	if !reflect.DeepEqual(in.ExpressionAttributeValues, want) {
		t.Errorf("values = %v, want %v", dump(in.ExpressionAttributeValues), dump(want))
	}
}

func TestExecSKSortsBySeq(t *testing.T) {
	tests := []struct {
		seq  int64
		want string
	}{
		{1, "EXEC#0000000001"}, {42, "EXEC#0000000042"}, {9_999_999_999, "EXEC#9999999999"},
	}
	for _, tc := range tests {
		if got := ExecSK(tc.seq); got != tc.want {
			t.Errorf("ExecSK(%d) = %s, want %s", tc.seq, got, tc.want)
		}
	}
	seqs := []int64{1, 2, 9, 10, 11, 99, 100, 12345, 9_999_999_999}
	sks := make([]string, len(seqs))
	for i, q := range seqs {
		sks[i] = ExecSK(q)
	}
	if !sort.StringsAreSorted(sks) {
		t.Errorf("ExecSK of ascending seqs = %v, not sorted", sks)
	}
}

func TestFormatTimeSortsLikeTime(t *testing.T) {
	base := time.Date(2026, 3, 2, 9, 30, 1, 0, time.UTC)
	times := []time.Time{
		base,
		base.Add(time.Nanosecond),
		base.Add(500 * time.Millisecond),
		base.Add(time.Second).In(time.FixedZone("EST", -5*3600)),
		base.Add(time.Hour).In(time.FixedZone("CET", 3600)),
	}
	for i := 1; i < len(times); i++ {
		a, b := FormatTime(times[i-1]), FormatTime(times[i])
		if a >= b {
			t.Errorf("FormatTime(%v) = %s ≥ FormatTime(%v) = %s, want string order = time order", times[i-1], a, times[i], b)
		}
		if back, err := time.Parse(time.RFC3339Nano, b); err != nil || !back.Equal(times[i]) {
			t.Errorf("FormatTime(%v) = %s parses to %v, %v; want the same instant", times[i], b, back, err)
		}
	}
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func placeholders(pattern, expr string) []string {
	found := regexp.MustCompile(pattern).FindAllString(expr, -1)
	sort.Strings(found)
	return slices.Compact(found)
}

// dump shows attribute values, which print as pointers otherwise.
func dump(m map[string]types.AttributeValue) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			out[k] = "S:" + v.Value
		case *types.AttributeValueMemberN:
			out[k] = "N:" + v.Value
		default:
			out[k] = reflect.TypeOf(v).String()
		}
	}
	return out
}
