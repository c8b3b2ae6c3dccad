package local

import (
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// serialHTTPClient sends one request at a time.
//
// moto evaluates a conditional write's condition and applies the write
// without a lock, so two concurrent requests on one item can both pass their
// conditions and the later write wins — measured: with six events of an order
// applied concurrently, about one order in four ended on a lower seq than its
// highest. DynamoDB never does that: each request is atomic on its item, and
// the processor's idempotency rests on it. The local pipeline therefore sends
// the processor's DynamoDB requests one at a time, which restores per-request
// atomicity; requests of concurrent invocations still interleave between one
// another, as they do in AWS. moto runs one request at a time anyway (Python's
// GIL), so this costs little throughput. (internal/motoserver's proxy does
// the same for the moto servers it starts; this covers --aws-endpoint, a
// moto started elsewhere.)
type serialHTTPClient struct {
	mu   *sync.Mutex
	next aws.HTTPClient
}

// Do sends req once no other request of the client is in flight.
func (c serialHTTPClient) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next.Do(req)
}

// serialize returns an HTTP client sending next's requests one at a time.
func serialize(next aws.HTTPClient) aws.HTTPClient {
	if next == nil {
		next = http.DefaultClient
	}
	return serialHTTPClient{mu: &sync.Mutex{}, next: next}
}
