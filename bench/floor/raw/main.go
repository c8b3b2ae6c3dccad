// Command raw is the raw CPU floor of `make bench`: a Lambda runtime that does
// the processor's four round trips per event — GET the event from the Runtime
// API, PutItem, UpdateItem, POST the response — with nothing but net/http and
// request bodies built by hand: no SDK, no decoding, no signing, no logs. The
// ratio of TAP's CPU per event to this program's is how far TAP is from what
// four loopback HTTP exchanges cost at all.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	if err := run(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "floor-raw:", err)
		os.Exit(1)
	}
}

func run(getenv func(string) string) error {
	api := "http://" + getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	ddb, table := getenv("AWS_ENDPOINT_URL"), getenv("FLOOR_TABLE")
	// A fixed credential scope: moto picks the region from it and checks no
	// signature, which is the point — this floor does no signing work.
	auth := "AWS4-HMAC-SHA256 Credential=" + getenv("AWS_ACCESS_KEY_ID") + "/20260101/" + getenv("AWS_REGION") +
		"/dynamodb/aws4_request, SignedHeaders=host;x-amz-target, Signature=0"
	c := &http.Client{}
	var body bytes.Buffer
	for n := 0; ; n++ {
		resp, err := c.Get(api + "next")
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		for _, op := range []struct{ target, format string }{
			{"PutItem", `{"TableName":%q,"Item":{"PK":{"S":"F#%s"},"SK":{"S":"E"},"n":{"N":"%d"}}}`},
			{"UpdateItem", `{"TableName":%q,"Key":{"PK":{"S":"F#%s"},"SK":{"S":"S"}},"UpdateExpression":"SET n = :n","ExpressionAttributeValues":{":n":{"N":"%d"}}}`},
		} {
			body.Reset()
			fmt.Fprintf(&body, op.format, table, id, n)
			req, err := http.NewRequest(http.MethodPost, ddb, bytes.NewReader(body.Bytes()))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op.target)
			req.Header.Set("Authorization", auth)
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: HTTP %d", op.target, resp.StatusCode)
			}
		}
		resp, err = c.Post(api+id+"/response", "application/json", bytes.NewReader([]byte("null")))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
