package twin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/logging"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/deployspec"
	"github.com/tap-trading/tap/internal/dlq"
	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/faultproxy"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/partition"
	"github.com/tap-trading/tap/internal/replication"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/twin/eventbus"
)

// region is one local region: its own moto server (an independent local
// AWS, as regions are; it also doubles throughput, moto's DynamoDB being
// serialized) behind two partition proxies — front, which the region's own
// clients, producers and the endpoint go through, and link, which the other
// region's traffic goes through (event and table replication) — so a
// region can be cut whole, slowed, or cut off from the other region only.
// The pipeline of internal/local (bus, rule, inbox, both DLQs, table) runs
// the real processor under its own invoker; a fault proxy on the
// processor's DynamoDB path fails it on demand, and a counter counts its
// DynamoDB operations.
type region struct {
	name        string
	moto        *motoserver.Server
	front, link *partition.Proxy
	fault       *faultproxy.Proxy
	ops         *opCounter
	pipe        *local.Pipeline

	// Failures other than the proxies'. crashed: the region's local AWS
	// was stopped (CrashAWS); nothing heals it.
	faulty, refusing, monitoringLost, crashed atomic.Bool
	// quorumCut: the region cannot reach the third region of a strongly
	// consistent table (CutQuorum).
	quorumCut atomic.Bool

	// Clients through the front door.
	aws    aws.Config
	sqs    *sqs.Client
	ddb    *dynamodb.Client
	events *eventbridge.Client // one attempt per call: the endpoint's and the heartbeat's
	// Clients through the link: what the other region reaches.
	linkDDB     *dynamodb.Client
	linkStreams *dynamodbstreams.Client
	bus         *eventbus.Bus
}

// regionConfig is what startRegion needs.
type regionConfig struct {
	name    string
	spec    deployspec.Spec
	scale   Scale
	invoker local.InvokerConfig
	motoLog string
	procOut io.Writer
	// sdkLog takes the AWS SDK's log lines of every client of the region.
	sdkLog logging.Logger
	// metric is told of every first invocation attempt of a rule target
	// of the region: IngestionToInvocationStartLatency's samples.
	metric func(at time.Time, latency time.Duration)
	// settled is told of every settled event of the region.
	settled func(local.Result)
}

// startAWS starts one region's local AWS and the link the other region
// reaches it through; start then builds the rest of the region on it. close
// releases it, also after an error.
func startAWS(ctx context.Context, c regionConfig) (r *region, err error) {
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
	if r.link, err = partition.Start(u.Host); err != nil {
		return r, err
	}
	return r, nil
}

// start builds the region on its local AWS: the front door (to dynamo, the
// endpoint of the region's DynamoDB: its moto, or the strongly consistent
// table's proxy in front of it), the fault proxy, the pipeline with the
// real processor, and the clients. The caller closes r after an error.
func (r *region) start(ctx context.Context, c regionConfig, dynamo string) (err error) {
	u, _ := url.Parse(dynamo)
	if r.front, err = partition.Start(u.Host); err != nil {
		return err
	}
	isDynamo := func(req *http.Request) bool { return strings.HasPrefix(req.Header.Get("X-Amz-Target"), "DynamoDB_") }
	if r.fault, err = faultproxy.Start(faultproxy.Config{
		Target: r.front.URL,
		Rates:  map[faultproxy.Fault]float64{faultproxy.InternalError: 1},
		Match:  func(req *http.Request) bool { return r.faulty.Load() && isDynamo(req) },
	}); err != nil {
		return err
	}
	ic := c.invoker
	ic.OnInvoke = func(ingested, started time.Time) { c.metric(started, started.Sub(ingested)) }
	ic.Refuse = func() error {
		if r.refusing.Load() {
			// Lambda's error when it cannot take more invocations.
			return errors.New("TooManyRequestsException: Rate Exceeded (the Lambda service refuses invocations)")
		}
		return nil
	}
	r.pipe, err = local.Start(ctx, local.Config{
		AWSEndpoint: r.front.URL, Region: c.name, Env: c.spec.Names.Env, Spec: c.spec, Scale: c.scale.Factor(),
		Invoker: ic, ProcessorOutput: c.procOut, SDKLogger: c.sdkLog,
		NewProcessor: func(ctx context.Context, cfg aws.Config, res local.Resources, out io.Writer) (local.ProcessFunc, error) {
			// The processor reaches its replica through the fault proxy and
			// the front door, and its requests are counted. (A fresh
			// config: the loaded one's endpoint also sits in its config
			// sources, which take precedence over a changed BaseEndpoint.)
			pc, err := awslocal.Config(ctx, r.fault.URL, c.name, config.WithLogger(c.sdkLog))
			if err != nil {
				return nil, err
			}
			r.ops = newOpCounter(pc.HTTPClient)
			pc.HTTPClient = r.ops
			return local.RealProcessor(ctx, pc, res, out)
		},
	})
	if err != nil {
		return fmt.Errorf("region %s: %w", c.name, err)
	}
	r.pipe.Subscribe(c.settled)
	r.aws = r.pipe.AWS
	r.sqs = sqs.NewFromConfig(r.aws)
	r.ddb = dynamodb.NewFromConfig(r.aws)
	r.events = eventbridge.NewFromConfig(r.aws, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
	lc, err := awslocal.Config(ctx, r.link.URL, c.name, config.WithLogger(c.sdkLog))
	if err != nil {
		return err
	}
	r.linkDDB = dynamodb.NewFromConfig(lc)
	r.linkStreams = dynamodbstreams.NewFromConfig(lc)
	r.bus = eventbus.New(eventbridge.NewFromConfig(lc), sqs.NewFromConfig(lc), r.pipe.Resources.Bus, eventbus.Options{})
	// An MREC table replicates through its stream (internal/replication);
	// an MRSC one has none (deployspec.Table.StreamViewType).
	if c.spec.Table.StreamViewType != "" {
		if err := replication.EnableStreams(ctx, r.ddb, r.pipe.Resources.Table); err != nil {
			return fmt.Errorf("region %s: %w", c.name, err)
		}
	}
	return nil
}

// replica is the region's table replica as the other region reaches it.
func (r *region) replica() replication.Replica {
	return replication.Replica{Region: r.name, DynamoDB: r.linkDDB, Streams: r.linkStreams}
}

// reachable reports whether the region's own services run: replication
// sourced from a cut region waits. A region still starting (no front door
// yet) is not cut.
func (r *region) reachable() bool { return r.front == nil || !r.front.IsCut() }

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

// deliverReplicated hands an event replicated from the other region to this
// region's bus, with the envelope the accepting region gave it, through the
// bus's own rules (see eventbus).
func (r *region) deliverReplicated(ctx context.Context, env event.Envelope) error {
	return r.bus.Deliver(ctx, env)
}

// heartbeat puts a Heartbeat on the region's bus every rate until ctx ends,
// as the deployed schedule does; a cut region's heartbeats are lost, like
// its schedule's invocations.
func (r *region) heartbeat(ctx context.Context, rate time.Duration) {
	t := time.NewTicker(rate)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			detail := event.EncodeHeartbeat(event.Heartbeat{Region: r.name, SentAt: now.UTC().Truncate(time.Millisecond)})
			pctx, cancel := context.WithTimeout(ctx, rate)
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

// heal ends every failure of the region.
func (r *region) heal() {
	r.front.Heal()
	r.link.Heal()
	r.front.Slow(0)
	r.link.Slow(0)
	r.faulty.Store(false)
	r.refusing.Store(false)
	r.monitoringLost.Store(false)
	r.quorumCut.Store(false)
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
	for _, p := range []*partition.Proxy{r.front, r.link} {
		if p != nil {
			_ = p.Close()
		}
	}
	r.moto.Stop()
}
