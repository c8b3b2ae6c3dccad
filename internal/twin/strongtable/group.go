package strongtable

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/faultproxy"
	"github.com/tap-trading/tap/internal/schema"
)

// Region is one replica of the table: where its own DynamoDB requests go and
// where the other region reaches it.
type Region struct {
	// Name is the AWS region name (us-east-1): requests the proxy makes on
	// its own are signed for it, which is how moto picks the region's tables.
	Name string
	// Local is the base URL the proxy forwards the region's own requests to:
	// the region's DynamoDB storage (its moto), reached without crossing to
	// the other region.
	Local string
	// Link is the base URL through which the other region reaches this
	// region's DynamoDB (the twin's link partition proxy): quorum writes
	// from the other region, and the relay of the witness log when this
	// region cannot reach the witness, go through it.
	Link string
}

// Config shapes a Group. Zero fields take the defaults in parentheses.
type Config struct {
	// Table is the table's name, the same in both regions (required). The
	// table must exist, empty or identical, in both regions: MRSC is set up
	// on an empty table (doc.go).
	Table string
	// PartitionKey and SortKey name the table's key attributes
	// (schema.AttrPK and schema.AttrSK, the orders table's). SortKey is
	// empty for a table without a sort key; it is only defaulted along with
	// PartitionKey.
	PartitionKey, SortKey string
	// A and B are the two replicas; their names must differ.
	A, B Region
	// ThirdReachable reports whether a region can reach the third member of
	// the MRSC set (the witness, or a third replica the twin does not run).
	// It is asked at each quorum decision and each relay; the twin answers
	// from its failures (nil: always reachable).
	ThirdReachable func(region string) bool
	// CrossRegionDelay is added to each write's quorum step, between its
	// apply in its own region and its write to the other replica: one round
	// trip to the nearest other member of the set (0). See doc.go for the
	// real figure it stands for.
	CrossRegionDelay time.Duration
	// ThirdIsNearest says the third member is nearer to each region than
	// the regions are to each other (the US set's us-east-2 to us-east-1
	// and us-west-2: twin.QuorumRoundTrip), so it completes a write's
	// quorum first: while it is reachable, a write is acknowledged once in
	// the witness's log, and the other replica takes it from there in the
	// background (or before it next serves the table), as DynamoDB waits
	// for "at least one other Region" only (doc.go). False: the write waits
	// for the other replica, and the witness only stands in when that
	// replica does not answer.
	ThirdIsNearest bool
	// ConsistentReadDelay is added to each strongly consistent read of the
	// table, which AWS says also needs cross-region communication (0).
	ConsistentReadDelay time.Duration
	// LinkTimeout bounds each call to the other region, so a link that hangs
	// (partition.Hang) fails the call instead of holding the write (2 s).
	LinkTimeout time.Duration
	// RelayEvery is how often the group relays the witness log to a region
	// that can take it, and probes a link it found down (100 ms). It is also
	// how long a successful call over a link vouches for it.
	RelayEvery time.Duration
	// OnError is told of each error the group survives: a relay that
	// failed (retried later), an undo that failed, a write whose result
	// could not be read back (nil: ignored).
	OnError func(error)
}

// localTimeout bounds a call to the region's own storage. Local is the
// region's own moto, which answers in milliseconds; the bound only keeps a
// crashed or hung server from holding an item lock forever.
const localTimeout = 30 * time.Second

func (c Config) withDefaults() Config {
	if c.PartitionKey == "" {
		c.PartitionKey, c.SortKey = schema.AttrPK, schema.AttrSK
	}
	if c.ThirdReachable == nil {
		c.ThirdReachable = func(string) bool { return true }
	}
	if c.LinkTimeout == 0 {
		c.LinkTimeout = 2 * time.Second
	}
	if c.RelayEvery == 0 {
		c.RelayEvery = 100 * time.Millisecond
	}
	if c.OnError == nil {
		c.OnError = func(error) {}
	}
	return c
}

// Validate names the first setting that makes the group impossible.
func (c Config) Validate() error {
	c = c.withDefaults()
	for _, r := range []Region{c.A, c.B} {
		if r.Name == "" || r.Local == "" || r.Link == "" {
			return fmt.Errorf("strongtable: region %+v: want a name, a local URL and a link URL", r)
		}
		for _, u := range []string{r.Local, r.Link} {
			if _, err := url.Parse(u); err != nil {
				return fmt.Errorf("strongtable: region %s: %w", r.Name, err)
			}
		}
	}
	switch {
	case c.Table == "":
		return errors.New("strongtable: no table")
	case c.A.Name == c.B.Name:
		return fmt.Errorf("strongtable: both replicas are in %s; MRSC replicas are in different regions", c.A.Name)
	case c.CrossRegionDelay < 0 || c.ConsistentReadDelay < 0 || c.LinkTimeout < 0 || c.RelayEvery < 0:
		return errors.New("strongtable: delays and timeouts must not be negative")
	}
	return nil
}

// Group is the MRSC table of two regions: one proxy per region, the item
// locks they share, and the witness log.
type Group struct {
	cfg   Config
	sides [2]*side

	locks   locks
	witness witness
	stats   stats

	transport *http.Transport
	// bg is the context of the group's background work, ended by Close,
	// which waits for wg: the relay loop and every relay started by goRelay
	// (relayMu and closed keep a relay from starting once Close has begun).
	bg      context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
	relayMu sync.Mutex
	closed  bool
}

// side is one region as the group serves it.
type side struct {
	Region
	g     *Group
	other *side
	// local reaches the region's own storage; link reaches it from the
	// other region.
	local, link *dynamodb.Client
	// localURL is Local parsed, for forwarding.
	localURL *url.URL
	// pass streams requests that are not DynamoDB's, unchanged.
	pass *httputil.ReverseProxy
	// linkHealth is what the group knows of the path into this region from
	// the other (Link).
	linkHealth linkState

	url    string
	server *http.Server
}

// Start serves one proxy per region on a free loopback port and relays the
// witness log in the background until Close.
func Start(cfg Config) (*Group, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	g := &Group{
		cfg: cfg,
		// No compression: a forwarded response must reach the client byte
		// for byte (the SDK checks DynamoDB's X-Amz-Crc32 against it).
		transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second},
	}
	g.locks.m = map[itemKey]*lockEntry{}
	g.witness.pending = map[string]map[itemKey]*change{}
	g.stats.regions = map[string]*regionCounts{}
	for i, r := range []Region{cfg.A, cfg.B} {
		s, err := g.newSide(r)
		if err != nil {
			g.Close()
			return nil, err
		}
		g.sides[i] = s
		g.witness.pending[r.Name] = map[itemKey]*change{}
		g.stats.regions[r.Name] = &regionCounts{}
	}
	g.sides[0].other, g.sides[1].other = g.sides[1], g.sides[0]
	for _, s := range g.sides {
		if err := s.serve(); err != nil {
			g.Close()
			return nil, err
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	g.stop, g.bg = stop, ctx
	g.wg.Add(1)
	go func() { defer g.wg.Done(); g.relayLoop(ctx) }()
	return g, nil
}

func (g *Group) newSide(r Region) (*side, error) {
	u, err := url.Parse(r.Local)
	if err != nil {
		return nil, err
	}
	s := &side{Region: r, g: g, localURL: u}
	s.local = g.client(r.Name, r.Local)
	s.link = g.client(r.Name, r.Link)
	s.pass = httputil.NewSingleHostReverseProxy(u)
	s.pass.Transport = g.transport
	s.pass.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Err() == nil {
			faultproxy.Reset(w)
		}
	}
	return s, nil
}

// client is an SDK client of the region's DynamoDB at endpoint: one attempt
// per call, so an unreachable link is known at once and the caller decides.
func (g *Group) client(region, endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:           region,
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider(awslocal.AccessKeyID, awslocal.SecretAccessKey, ""),
		HTTPClient:       &http.Client{Transport: g.transport},
		RetryMaxAttempts: 1,
	})
}

func (s *side) serve() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("strongtable: region %s: listen: %w", s.Name, err)
	}
	s.url = "http://" + l.Addr().String()
	s.server = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.server.Serve(l) }()
	return nil
}

// URL is the endpoint the named region's clients use for DynamoDB (and,
// passed through unchanged, anything else the path carries); "" for a
// region not in the group.
func (g *Group) URL(region string) string {
	if s := g.side(region); s != nil {
		return s.url
	}
	return ""
}

// side returns the named region's side, or nil.
func (g *Group) side(region string) *side {
	for _, s := range g.sides {
		if s != nil && s.Name == region {
			return s
		}
	}
	return nil
}

// third asks whether region reaches the third member of the set.
func (g *Group) third(region string) bool { return g.cfg.ThirdReachable(region) }

// CaughtUp relays the witness log until it is empty — every acknowledged
// write is then in both replicas — or ctx ends. A region that can reach
// neither the witness nor the other region keeps its backlog: CaughtUp waits
// for it.
func (g *Group) CaughtUp(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		g.relayAll(ctx)
		backlog := g.witness.backlog()
		empty := true
		for _, n := range backlog {
			if n > 0 {
				empty = false
			}
		}
		if empty {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("strongtable: witness log not relayed (backlog by region %v): %w", backlog, ctx.Err())
		case <-t.C:
		}
	}
}

// Close stops both proxies and the relay. The witness log is dropped: call
// CaughtUp first to keep it.
func (g *Group) Close() {
	g.relayMu.Lock()
	g.closed = true
	g.relayMu.Unlock()
	if g.stop != nil {
		g.stop()
		g.wg.Wait()
	}
	for _, s := range g.sides {
		if s != nil && s.server != nil {
			_ = s.server.Close()
		}
	}
	g.transport.CloseIdleConnections()
}

// goRelay runs relay in the background, unless the group is closing.
func (g *Group) goRelay(relay func(ctx context.Context)) {
	g.relayMu.Lock()
	defer g.relayMu.Unlock()
	if g.closed {
		return
	}
	g.wg.Add(1)
	go func() { defer g.wg.Done(); relay(g.bg) }()
}

// relayLoop relays the witness log to each region that can take it and
// probes the links found down, every RelayEvery, until ctx ends: a replica
// that was cut off catches up by itself once it can (doc.go).
func (g *Group) relayLoop(ctx context.Context) {
	t := time.NewTicker(g.cfg.RelayEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range g.sides {
			if s.linkHealth.isDown() {
				s.probe(ctx)
			}
		}
		g.relayAll(ctx)
	}
}

// relayAll relays the witness log to every region that can take it now.
func (g *Group) relayAll(ctx context.Context) {
	for _, s := range g.sides {
		if g.witness.count(s.Name) > 0 {
			_ = s.catchUp(ctx)
		}
	}
}
