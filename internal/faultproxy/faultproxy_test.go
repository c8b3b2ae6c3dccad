package faultproxy

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/tap-trading/tap/internal/awslocal"
)

// backend is a stand-in server that answers every request like DynamoDB's
// ListTables and counts what reached it.
func backend(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Backend", "yes")
		const body = `{"TableNames":["t"]}`
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10))
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func start(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	p, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func post(t *testing.T, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	// A fresh connection per request, so one drop cannot affect the next.
	return (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
}

func TestScheduledFaultsReachTheClientAsScheduled(t *testing.T) {
	tests := []struct {
		fault      Fault
		wantStatus int // 0: the connection is dropped
		wantCode   string
		wantHit    bool
	}{
		{None, 200, "", true},
		{ThroughputExceeded, 400, "ProvisionedThroughputExceededException", false},
		{Throttling, 400, "ThrottlingException", false},
		{InternalError, 500, "InternalServerError", false},
		{Latency, 200, "", true},
		{DropBefore, 0, "", false},
		{DropAfter, 0, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.fault.String(), func(t *testing.T) {
			srv, hits := backend(t)
			p := start(t, Config{Target: srv.URL, Schedule: []Fault{tc.fault}, Latency: 100 * time.Millisecond})
			began := time.Now()
			resp, err := post(t, p.URL)
			took := time.Since(began)
			if tc.wantStatus == 0 {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("request got HTTP %d, want a dropped connection", resp.StatusCode)
				}
			} else {
				if err != nil {
					t.Fatalf("request: %v, want HTTP %d", err, tc.wantStatus)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.wantStatus {
					t.Errorf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
				}
				if tc.wantCode != "" && !strings.Contains(string(body), "#"+tc.wantCode+`"`) {
					t.Errorf("body = %s, want __type ending in #%s", body, tc.wantCode)
				}
				if tc.wantCode == "" && resp.Header.Get("X-Backend") != "yes" {
					t.Errorf("response headers %v lack the backend's", resp.Header)
				}
			}
			if got := hits.Load() == 1; got != tc.wantHit {
				t.Errorf("backend reached = %v, want %v", got, tc.wantHit)
			}
			if tc.fault == Latency && took < 100*time.Millisecond {
				t.Errorf("latency fault took %v, want at least 100ms", took)
			}
			if tc.fault != None && p.Counts()[tc.fault] != 1 {
				t.Errorf("Counts() = %v, want one %v", p.Counts(), tc.fault)
			}
			// The schedule is spent: the next request passes.
			resp, err = post(t, p.URL)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("request after the schedule: %v %v, want HTTP 200", resp, err)
			}
			resp.Body.Close()
		})
	}
}

func TestRatesAreHonouredAndMatchFilters(t *testing.T) {
	srv, hits := backend(t)
	p := start(t, Config{
		Target: srv.URL,
		Rates:  map[Fault]float64{InternalError: 0.25, DropBefore: 0.25},
		Seed:   1,
		Match:  Operations("ListTables"),
	})
	const n = 400
	for range n {
		if resp, err := post(t, p.URL); err == nil {
			resp.Body.Close()
		}
	}
	c := p.Counts()
	for _, f := range []Fault{InternalError, DropBefore} {
		if c[f] < n/8 || c[f] > n*3/8 {
			t.Errorf("%v injected %d times in %d requests, want about %d", f, c[f], n, n/4)
		}
	}
	if got, want := int(hits.Load()), n-p.Injected(); got != want {
		t.Errorf("backend hit %d times, want %d (requests %d − injected %d)", got, want, n, p.Injected())
	}

	// Another operation does not match: never faulted.
	before := p.Injected()
	for range 50 {
		req, _ := http.NewRequest(http.MethodPost, p.URL, strings.NewReader(`{}`))
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.PutItem")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("unmatched request: %v", err)
		}
		resp.Body.Close()
	}
	if got := p.Injected(); got != before {
		t.Errorf("unmatched requests got %d faults, want 0", got-before)
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"relative target": {Target: "localhost:1"},
		"rates over 1":    {Target: "http://127.0.0.1:1", Rates: map[Fault]float64{Throttling: 0.6, DropAfter: 0.6}},
		"negative rate":   {Target: "http://127.0.0.1:1", Rates: map[Fault]float64{Throttling: -0.1}},
		"rate for None":   {Target: "http://127.0.0.1:1", Rates: map[Fault]float64{None: 0.1}},
	} {
		if p, err := Start(cfg); err == nil {
			p.Close()
			t.Errorf("%s: Start = nil error, want one", name)
		}
	}
}

// The SDK must read injected errors as DynamoDB's own and its standard retryer
// must retry every fault; otherwise the fault tests would test nothing.
func TestSDKSeesRealRetryableErrors(t *testing.T) {
	tests := []struct {
		fault    Fault
		wantCode string
		wantType any
	}{
		{ThroughputExceeded, "ProvisionedThroughputExceededException", &types.ProvisionedThroughputExceededException{}},
		{Throttling, "ThrottlingException", nil},
		{InternalError, "InternalServerError", &types.InternalServerError{}},
		{DropBefore, "", nil},
		{DropAfter, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.fault.String(), func(t *testing.T) {
			srv, _ := backend(t)
			p := start(t, Config{Target: srv.URL, Schedule: []Fault{tc.fault}})
			cfg, err := awslocal.Config(context.Background(), p.URL, "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			single := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
			_, err = single.ListTables(context.Background(), &dynamodb.ListTablesInput{})
			if err == nil {
				t.Fatal("ListTables through the fault = nil error, want the fault")
			}
			var apiErr smithy.APIError
			if tc.wantCode != "" && (!errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.wantCode) {
				t.Errorf("error = %v, want API error %s", err, tc.wantCode)
			}
			switch want := tc.wantType.(type) {
			case *types.ProvisionedThroughputExceededException:
				if !errors.As(err, &want) {
					t.Errorf("error = %T, want %T", err, want)
				}
			case *types.InternalServerError:
				if !errors.As(err, &want) {
					t.Errorf("error = %T, want %T", err, want)
				}
			}
			if !retry.NewStandard().IsErrorRetryable(err) {
				t.Errorf("standard retryer: %v is not retryable, want retryable", err)
			}

			// With the default retryer the next attempt passes.
			p2 := start(t, Config{Target: srv.URL, Schedule: []Fault{tc.fault}})
			cfg.BaseEndpoint = aws.String(p2.URL)
			out, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{})
			if err != nil || len(out.TableNames) != 1 {
				t.Errorf("ListTables with retries = %v, %v, want one table", out, err)
			}
		})
	}
}
