package local

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/processor"
	"github.com/tap-trading/tap/internal/store"
)

// RealProcessor builds the deployed handler (internal/processor) for the
// pipeline's resources. It is configured the way Lambda configures it: the
// environment the stack sets, read by processor.ConfigFromEnv (with the
// table's consistency mode, r.TableConsistency), and SDK clients built from
// cfg, which points at the local AWS, with cmd/processor's retry of
// replicated write conflicts. Its DynamoDB requests are sent one at a time
// (see serialHTTPClient).
func RealProcessor(_ context.Context, cfg aws.Config, r Resources, out io.Writer) (ProcessFunc, error) {
	n := names.For(r.Env)
	env := map[string]string{
		processor.EnvTableName:        r.Table,
		processor.EnvProcessingDLQURL: r.ProcessingDLQURL,
		processor.EnvServiceName:      n.ServiceName(),
		processor.EnvMetricsNamespace: n.MetricsNamespace(),
		processor.EnvRegion:           r.Region,
		processor.EnvFunctionName:     n.Processor(),
		processor.EnvTableConsistency: string(r.TableConsistency),
	}
	pc, err := processor.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	h, err := processor.New(pc, processor.Deps{
		DynamoDB: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.HTTPClient = timed(serialize(o.HTTPClient)) }, store.RetryReplicatedWriteConflicts),
		SQS:      deadLetterNotes{sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.HTTPClient = timed(o.HTTPClient) })},
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

// deadLetterNotes tells the invoker the reason and message of each dead
// letter the processor sends (NoteRejection), read from the very attributes
// the processing DLQ keeps.
type deadLetterNotes struct{ processor.SQS }

func (d deadLetterNotes) SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	out, err := d.SQS.SendMessage(ctx, in, opts...)
	if err == nil {
		attr := func(k string) string { return aws.ToString(in.MessageAttributes[k].StringValue) }
		NoteRejection(ctx, attr(dlq.AttrReason), attr(dlq.AttrMessage))
	}
	return out, err
}

// timed reports each HTTP round trip's duration to the invocation it belongs
// to (NoteAWSWait): the time the processor waits on the local AWS, including
// the wait for serialized DynamoDB access.
func timed(next aws.HTTPClient) aws.HTTPClient {
	if next == nil {
		next = http.DefaultClient
	}
	return timedHTTPClient{next: next}
}

type timedHTTPClient struct{ next aws.HTTPClient }

func (c timedHTTPClient) Do(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := c.next.Do(r)
	NoteAWSWait(r.Context(), time.Since(start))
	return resp, err
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
