package processor_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/lambdaruntime"
	"github.com/tap-trading/tap/internal/processor"
)

func TestReportInitErrorPostsToTheRuntimeAPI(t *testing.T) {
	s, err := lambdaruntime.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	initErr := errors.New("processor config: missing environment variable(s) TABLE_NAME")
	if err := processor.ReportInitError(s.Addr(), initErr); err != nil {
		t.Fatalf("ReportInitError error = %v", err)
	}
	select {
	case <-s.InitErrored():
	case <-time.After(5 * time.Second):
		t.Fatal("the Runtime API saw no init error")
	}
	got := s.InitError()
	if got.ErrorType != "Runtime.InitError" {
		t.Errorf("init error type = %q, want Runtime.InitError", got.ErrorType)
	}
	if got.ErrorMessage != initErr.Error() {
		t.Errorf("init error message = %q, want %q", got.ErrorMessage, initErr.Error())
	}
}

func TestReportInitErrorOutsideLambda(t *testing.T) {
	// No AWS_LAMBDA_RUNTIME_API: nothing to tell, nothing to fail.
	if err := processor.ReportInitError("", errors.New("boom")); err != nil {
		t.Errorf(`ReportInitError("", …) = %v, want nil`, err)
	}
}

// A Runtime API that refuses the report, or is not there, is an error the
// caller prints: the init error must not vanish silently.
func TestReportInitErrorFailures(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "already reported", http.StatusForbidden)
	}))
	t.Cleanup(refusing.Close)
	tests := []struct {
		name, addr, want string
	}{
		{"refused", strings.TrimPrefix(refusing.URL, "http://"), "403"},
		{"unreachable", strings.TrimPrefix(closedEndpoint(t), "http://"), "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := processor.ReportInitError(tc.addr, errors.New("boom"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReportInitError(%s) = %v, want an error mentioning %q", tc.addr, err, tc.want)
			}
		})
	}
}
