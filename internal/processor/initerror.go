package processor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// InitErrorType is the error type reported when the processor cannot start.
const InitErrorType = "Runtime.InitError"

// ReportInitError tells Lambda's Runtime API (AWS_LAMBDA_RUNTIME_API) that
// init failed and why, so the reason shows in the invocation's error and
// logs instead of a bare "Runtime exited". aws-lambda-go has no call for it:
// it only reports errors once its invoke loop runs.
func ReportInitError(runtimeAPI string, initErr error) error {
	if runtimeAPI == "" {
		return nil // not in Lambda: stderr and the exit code say it all
	}
	body, _ := json.Marshal(map[string]string{"errorMessage": initErr.Error(), "errorType": InitErrorType})
	req, err := http.NewRequest(http.MethodPost, "http://"+runtimeAPI+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Lambda-Runtime-Function-Error-Type", InitErrorType)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("runtime API answered %s to init/error", resp.Status)
	}
	return nil
}
