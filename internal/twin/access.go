package twin

import (
	"context"
	"fmt"
	"github.com/tap-trading/tap/internal/motoserver"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/producer"
)

// Clients are SDK clients of one region through its front door, as an
// operator in that region has them.
type Clients struct {
	DynamoDB *dynamodb.Client
	Streams  *dynamodbstreams.Client
	SQS      *sqs.Client
	Events   *eventbridge.Client
}

// Clients returns the named region's clients (nil for a region not in the
// run).
func (e *Env) Clients(name string) *Clients {
	r, err := e.region("reach", name)
	if err != nil {
		return nil
	}
	return &Clients{DynamoDB: r.ddb, Streams: dynamodbstreams.NewFromConfig(r.aws), SQS: r.sqs, Events: eventbridge.NewFromConfig(r.aws)}
}

// Resources returns the named region's local resources.
func (e *Env) Resources(name string) local.Resources {
	r, err := e.region("reach", name)
	if err != nil {
		return local.Resources{}
	}
	return r.pipe.Resources
}

// InvokerStats returns the named region's invoker counters.
func (e *Env) InvokerStats(name string) local.Stats {
	r, err := e.region("reach", name)
	if err != nil {
		return local.Stats{}
	}
	return r.pipe.Invoker.Stats()
}

// DynamoDBOps counts the named region's processor's DynamoDB requests by
// kind (OpWrite, ...), as counted on the wire.
func (e *Env) DynamoDBOps(name string) map[string]int {
	r, err := e.region("reach", name)
	if err != nil || r.ops == nil {
		return map[string]int{}
	}
	return r.ops.Counts()
}

// Idle reports whether the named region has nothing left to process.
func (e *Env) Idle(ctx context.Context, name string) bool {
	r, err := e.region("reach", name)
	return err == nil && r.idle(ctx)
}

// DeadLetters reads the named region's processing DLQ and delivery DLQ.
func (e *Env) DeadLetters(ctx context.Context, name string) (processing, delivery []dlq.Record, err error) {
	r, err := e.region("read the DLQs of", name)
	if err != nil {
		return nil, nil, err
	}
	if processing, err = dlq.Peek(ctx, r.sqs, r.pipe.Resources.ProcessingDLQURL, 0); err != nil {
		return nil, nil, err
	}
	delivery, err = dlq.Peek(ctx, r.sqs, r.pipe.Resources.DeliveryDLQURL, 0)
	return processing, delivery, err
}

// EmulatorCalls returns the requests the named region's local AWS answered
// so far, by operation, with the time they took (motoserver.Server.Calls):
// the twin's cost per event, and where it saturates.
func (e *Env) EmulatorCalls(name string) map[string]motoserver.CallStats {
	r, err := e.region("reach", name)
	if err != nil {
		return map[string]motoserver.CallStats{}
	}
	return r.moto.Calls()
}

// Redrive republishes the named region's processing DLQ (delivery: its
// delivery DLQ) to its bus, as an operator's `tapctl dlq redrive` does, and
// returns how many records were redriven.
func (e *Env) Redrive(ctx context.Context, name string, delivery bool) (int, error) {
	c, res := e.Clients(name), e.Resources(name)
	url, queue := res.ProcessingDLQURL, "processing"
	if delivery {
		url, queue = res.DeliveryDLQURL, "delivery"
	}
	outs, err := dlq.Redrive(ctx, c.SQS, url, producer.New(c.Events, producer.Options{}), dlq.RedriveOptions{Bus: res.Bus})
	n := 0
	for _, o := range outs {
		if o.Status == dlq.Redriven {
			n++
		}
	}
	if err != nil {
		return n, fmt.Errorf("redrive %s's %s DLQ: %w", name, queue, err)
	}
	return n, nil
}

// EmulatorCPU is the CPU time the named region's local AWS has used so
// far (motoserver.Server.CPUTime).
func (e *Env) EmulatorCPU(name string) time.Duration {
	r, err := e.region("reach", name)
	if err != nil {
		return 0
	}
	return r.moto.CPUTime()
}
