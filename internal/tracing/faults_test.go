package tracing

import (
	"context"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/awslocal"
)

type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// TestRetriedCallSegment points an instrumented DynamoDB client at a server
// that always fails, and checks the segment records the retries, the right
// flags, and that every attempt carried the X-Ray trace header downstream.
func TestRetriedCallSegment(t *testing.T) {
	tests := []struct {
		name                          string
		status                        int
		errType                       string
		wantError, wantFault, wantThr bool
	}{
		{"server error", 500, "InternalServerError", false, true, false},
		{"throttled", 400, "ThrottlingException", true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu      sync.Mutex
				headers []string
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				headers = append(headers, r.Header.Get("X-Amzn-Trace-Id"))
				mu.Unlock()
				body := []byte(`{"__type":"com.amazonaws.dynamodb.v20120810#` + tt.errType + `","message":"injected"}`)
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				w.Header().Set("X-Amzn-RequestId", "REQ-FAULT")
				// The DynamoDB client checks the body against this CRC.
				w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
				w.WriteHeader(tt.status)
				_, _ = w.Write(body)
			}))
			t.Cleanup(srv.Close)

			d := startDaemon(t)
			tr := mustSetup(t, Config{DaemonAddress: d.addr()})
			ctx := context.Background()
			cfg, err := awslocal.Config(ctx, srv.URL, testRegion)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Retryer = func() aws.Retryer {
				return retry.NewStandard(func(o *retry.StandardOptions) {
					o.MaxAttempts = 3
					o.Backoff = noBackoff{}
					o.RateLimiter = noRateLimit{}
				})
			}
			tr.Instrument(&cfg)
			ddb := dynamodb.NewFromConfig(cfg)

			ictx, end := tr.StartInvocation(ctx, "Root="+testRoot+";Parent="+testParent+";Sampled=1")
			_, err = ddb.UpdateItem(ictx, &dynamodb.UpdateItemInput{
				TableName: aws.String(testTable),
				Key:       map[string]ddbtypes.AttributeValue{"PK": &ddbtypes.AttributeValueMemberS{Value: "ORDER#O-1"}},
			})
			if err == nil {
				t.Fatal("UpdateItem succeeded against a failing server")
			}
			RecordFailure(ictx, err)
			end()

			call := d.next(t).segment
			inv := d.next(t).segment
			a := obj(call, "aws")
			if got := a["retries"]; got != float64(2) {
				t.Errorf("aws.retries = %v, want 2 (3 attempts)", got)
			}
			if (call["error"] == true) != tt.wantError || (call["fault"] == true) != tt.wantFault || (call["throttle"] == true) != tt.wantThr {
				t.Errorf("error/fault/throttle = %v/%v/%v, want %v/%v/%v",
					call["error"], call["fault"], call["throttle"], tt.wantError, tt.wantFault, tt.wantThr)
			}
			if str(t, a, "operation") != "UpdateItem" || str(t, a, "request_id") != "REQ-FAULT" {
				t.Errorf("aws = %v, want operation UpdateItem and request_id REQ-FAULT", a)
			}
			if inv["fault"] != true {
				t.Errorf("invocation fault = %v, want true after RecordFailure", inv["fault"])
			}
			mu.Lock()
			defer mu.Unlock()
			if len(headers) != 3 {
				t.Fatalf("server saw %d attempts, want 3", len(headers))
			}
			want := "Root=" + testRoot + ";Parent=" + str(t, call, "id") + ";Sampled=1"
			for i, h := range headers {
				if h != want {
					t.Errorf("attempt %d X-Amzn-Trace-Id = %q, want %q", i+1, h, want)
				}
			}
			if str(t, call, "parent_id") != str(t, inv, "id") {
				t.Errorf("call parent_id = %v, want the invocation id %v", call["parent_id"], inv["id"])
			}
		})
	}
}

type noRateLimit struct{}

func (noRateLimit) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noRateLimit) AddTokens(uint) error { return nil }
