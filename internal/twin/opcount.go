package twin

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// DynamoDB operation kinds counted on a processor's path to its replica.
const (
	OpWrite       = "writes"            // a PutItem/UpdateItem that changed an item
	OpCondFailed  = "conditionalFailed" // a PutItem/UpdateItem whose condition failed
	OpQuery       = "queries"           // Query (the replication repair)
	OpRead        = "reads"             // GetItem
	OpError       = "errors"            // any other failed request (throttled, 5xx, cut)
	condCheckType = "ConditionalCheckFailedException"
)

// opCounter is an HTTP client wrapper that counts a processor's DynamoDB
// requests by kind, from what went over the wire: the input of the cost
// model (DESIGN §9), which bills failed conditional writes too.
type opCounter struct {
	next aws.HTTPClient
	mu   sync.Mutex
	n    map[string]int
}

func newOpCounter(next aws.HTTPClient) *opCounter {
	if next == nil {
		next = http.DefaultClient
	}
	return &opCounter{next: next, n: map[string]int{}}
}

// Do sends req and counts it if it is a DynamoDB request.
func (c *opCounter) Do(req *http.Request) (*http.Response, error) {
	_, op, ok := strings.Cut(req.Header.Get("X-Amz-Target"), ".")
	if !ok || !strings.HasPrefix(req.Header.Get("X-Amz-Target"), "DynamoDB_") {
		return c.next.Do(req)
	}
	resp, err := c.next.Do(req)
	kind := OpError
	switch {
	case err != nil:
	case resp.StatusCode == http.StatusOK:
		switch op {
		case "PutItem", "UpdateItem":
			kind = OpWrite
		case "Query":
			kind = OpQuery
		case "GetItem":
			kind = OpRead
		default:
			kind = op
		}
	case resp.StatusCode == http.StatusBadRequest && (op == "PutItem" || op == "UpdateItem"):
		// The error type is in the body; read it and hand the SDK a copy.
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if rerr == nil && bytes.Contains(body, []byte(condCheckType)) {
			kind = OpCondFailed
		}
	}
	c.mu.Lock()
	c.n[kind]++
	c.mu.Unlock()
	return resp, err
}

// Counts returns a copy of the counts.
func (c *opCounter) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}
