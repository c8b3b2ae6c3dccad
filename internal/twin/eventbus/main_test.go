package eventbus

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/motoserver"
)

// motoEndpoint is the package's moto server, started once in TestMain.
var motoEndpoint string

const testRegion = "us-east-1"

func TestMain(m *testing.M) { os.Exit(motoserver.RunTests(m, "eventbus", &motoEndpoint)) }

var names atomic.Int64

// uniq returns a name no other test uses.
func uniq(prefix string) string { return fmt.Sprintf("%s-%d", prefix, names.Add(1)) }

// calls counts the requests an SDK client sends, by operation.
type calls struct {
	next aws.HTTPClient
	mu   sync.Mutex
	ops  map[string]int
}

func (c *calls) Do(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	c.mu.Lock()
	c.ops[op]++
	c.mu.Unlock()
	return c.next.Do(r)
}

// take returns the counts since the last take and resets them.
func (c *calls) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := c.ops
	c.ops = map[string]int{}
	return ops
}

// clients returns EventBridge and SQS clients of the package's moto whose
// requests are counted in c.
func clients(t *testing.T) (*eventbridge.Client, *sqs.Client, *calls) {
	t.Helper()
	cfg, err := awslocal.Config(context.Background(), motoEndpoint, testRegion)
	if err != nil {
		t.Fatal(err)
	}
	next := cfg.HTTPClient
	if next == nil {
		next = http.DefaultClient
	}
	c := &calls{next: next, ops: map[string]int{}}
	cfg.HTTPClient = c
	return eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg), c
}
