package local

import (
	"context"
	"encoding/json"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/processor"
)

// RealProcessor builds the deployed handler (internal/processor) for the
// pipeline's resources. It is configured the way Lambda configures it: the
// environment the stack sets, read by processor.ConfigFromEnv, and SDK
// clients built from cfg, which points at the local AWS. Its DynamoDB
// requests are sent one at a time (see serialHTTPClient).
func RealProcessor(_ context.Context, cfg aws.Config, r Resources, out io.Writer) (ProcessFunc, error) {
	n := names.For(r.Env)
	env := map[string]string{
		processor.EnvTableName:        r.Table,
		processor.EnvProcessingDLQURL: r.ProcessingDLQURL,
		processor.EnvServiceName:      n.ServiceName(),
		processor.EnvMetricsNamespace: n.MetricsNamespace(),
		processor.EnvRegion:           r.Region,
		processor.EnvFunctionName:     n.Processor(),
	}
	pc, err := processor.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	h, err := processor.New(pc, processor.Deps{
		DynamoDB: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.HTTPClient = serialize(o.HTTPClient) }),
		SQS:      sqs.NewFromConfig(cfg),
		Stdout:   &lineWriter{w: out},
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, raw json.RawMessage) (string, error) {
		o, err := h.Process(ctx, raw)
		return string(o), err
	}, nil
}

// lineWriter serializes writes: in Lambda one invocation runs at a time, here
// several share the writer, and a log line must not interleave with another.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
