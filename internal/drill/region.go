package drill

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/faultproxy"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/partition"
	"github.com/tap-trading/tap/internal/replication"
	"github.com/tap-trading/tap/internal/schema"
)

// region is one local region: its own moto server (an independent local
// AWS, as regions are; it also doubles throughput, moto's DynamoDB being
// serialized), behind its partition proxy, which every client of the region
// goes through; the pipeline of internal/local (bus, rule, inbox, both
// DLQs, table) with the real processor under its own invoker; a fault
// proxy on the processor's DynamoDB path (the processor-only failure) and a
// counter of its DynamoDB operations.
type region struct {
	name string
	moto *motoserver.Server
	part *partition.Proxy
	// fault fails the processor's DynamoDB calls while faulty is set.
	fault  *faultproxy.Proxy
	faulty atomic.Bool
	ops    *opCounter
	pipe   *local.Pipeline
	// Clients through the partition proxy.
	aws     aws.Config
	sqs     *sqs.Client
	ddb     *dynamodb.Client
	streams *dynamodbstreams.Client
	events  *eventbridge.Client // one attempt per call: the endpoint's and the heartbeat's
}

// regionConfig is what startRegion needs.
type regionConfig struct {
	name, env string
	invoker   local.InvokerConfig
	motoLog   string
	procOut   io.Writer
	onInvoke  func(region string, latency time.Duration)
	// observe is told of every settled event of the region.
	observe func(region string, r local.Result)
}

// startRegion starts one region; close releases it, also after an error.
func startRegion(ctx context.Context, c regionConfig) (r *region, err error) {
	r = &region{name: c.name}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if r.moto, err = motoserver.Start(ctx, c.motoLog); err != nil {
		return r, err
	}
	u, _ := url.Parse(r.moto.Endpoint)
	if r.part, err = partition.Start(u.Host); err != nil {
		return r, err
	}
	isDynamo := func(req *http.Request) bool { return strings.HasPrefix(req.Header.Get("X-Amz-Target"), "DynamoDB_") }
	if r.fault, err = faultproxy.Start(faultproxy.Config{
		Target: r.part.URL,
		Rates:  map[faultproxy.Fault]float64{faultproxy.InternalError: 1},
		Match:  func(req *http.Request) bool { return r.faulty.Load() && isDynamo(req) },
	}); err != nil {
		return r, err
	}
	ic := c.invoker
	ic.OnInvoke = func(ingested, started time.Time) { c.onInvoke(c.name, started.Sub(ingested)) }
	r.pipe, err = local.Start(ctx, local.Config{
		AWSEndpoint: r.part.URL, Region: c.name, Env: c.env, Invoker: ic, ProcessorOutput: c.procOut,
		NewProcessor: func(ctx context.Context, cfg aws.Config, res local.Resources, out io.Writer) (local.ProcessFunc, error) {
			// The processor reaches its replica through the fault proxy and
			// the partition, and its requests are counted. (A fresh config:
			// the loaded one's endpoint also sits in its config sources,
			// which take precedence over a changed BaseEndpoint.)
			pc, err := awslocal.Config(ctx, r.fault.URL, c.name)
			if err != nil {
				return nil, err
			}
			r.ops = newOpCounter(pc.HTTPClient)
			pc.HTTPClient = r.ops
			return local.RealProcessor(ctx, pc, res, out)
		},
	})
	if err != nil {
		return r, fmt.Errorf("region %s: %w", c.name, err)
	}
	r.pipe.Subscribe(func(res local.Result) { c.observe(c.name, res) })
	r.aws = r.pipe.AWS
	r.sqs = sqs.NewFromConfig(r.aws)
	r.ddb = dynamodb.NewFromConfig(r.aws)
	r.streams = dynamodbstreams.NewFromConfig(r.aws)
	r.events = eventbridge.NewFromConfig(r.aws, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
	if err := replication.EnableStreams(ctx, r.ddb, r.pipe.Resources.Table); err != nil {
		return r, fmt.Errorf("region %s: %w", c.name, err)
	}
	return r, nil
}

// replica is the region's table replica as replication reaches it.
func (r *region) replica() replication.Replica {
	return replication.Replica{Region: r.name, DynamoDB: r.ddb, Streams: r.streams}
}

// run runs the region's invoker until ctx ends. A cut region's invoker gives
// up polling after a few failed receives; like Lambda's poller after an
// outage it is started again.
func (r *region) run(ctx context.Context, grace time.Duration, onErr func(error)) {
	for ctx.Err() == nil {
		if err := r.pipe.Run(ctx, grace); err != nil {
			onErr(fmt.Errorf("region %s: %w (restarting the poller)", r.name, err))
			select {
			case <-time.After(500 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
}

// deliver hands a replicated event to the region's rule target, the inbox,
// with the envelope the accepting region gave it (PutEvents would stamp a
// new one). The rule's pattern is applied as the bus would.
func (r *region) deliver(ctx context.Context, env event.Envelope) error {
	if !matches(env) {
		return nil
	}
	_, err := r.sqs.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    &r.pipe.Resources.InboxURL,
		MessageBody: aws.String(string(event.EncodeEnvelope(env))),
	})
	return err
}

// matches applies the processor rule's pattern (schema.ProcessorPattern).
func matches(env event.Envelope) bool {
	p := schema.ProcessorPattern()
	return slices.Contains(p["source"], env.Source) && slices.Contains(p["detail-type"], env.DetailType)
}

// heartbeat puts a Heartbeat on the region's bus every period until ctx
// ends, as the deployed schedule does every minute; a cut region's
// heartbeats are lost, like its schedule's invocations.
func (r *region) heartbeat(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			detail := event.EncodeHeartbeat(event.Heartbeat{Region: r.name, SentAt: now.UTC().Truncate(time.Millisecond)})
			pctx, cancel := context.WithTimeout(ctx, period)
			_, _ = r.events.PutEvents(pctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
				EventBusName: &r.pipe.Resources.Bus, Source: aws.String(schema.Source),
				DetailType: aws.String(schema.DetailTypeHeartbeat), Detail: aws.String(string(detail)),
			}}})
			cancel()
		}
	}
}

// idle reports whether the region has nothing left to process: no event in
// flight and an empty inbox.
func (r *region) idle(ctx context.Context) bool {
	if r.pipe.Invoker.Stats().InFlight > 0 {
		return false
	}
	d, err := dlq.QueueDepth(ctx, r.sqs, r.pipe.Resources.InboxURL)
	return err == nil && d == (dlq.Depth{})
}

// deadLetters reads the region's processing DLQ.
func (r *region) deadLetters(ctx context.Context) ([]dlq.Record, error) {
	return dlq.Peek(ctx, r.sqs, r.pipe.Resources.ProcessingDLQURL, 0)
}

func (r *region) close() {
	if r == nil {
		return
	}
	if r.pipe != nil {
		r.pipe.Close()
	}
	if r.fault != nil {
		_ = r.fault.Close()
	}
	if r.part != nil {
		_ = r.part.Close()
	}
	r.moto.Stop()
}
