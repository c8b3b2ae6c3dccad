// Package globalendpoint is a local EventBridge global endpoint (DESIGN §1,
// §8.1): a loopback HTTP server speaking PutEvents (JSON 1.1,
// X-Amz-Target: AWSEvents.PutEvents), so the AWS CLI, any SDK given
// --endpoint-url and tapctl publish to it. It routes each call to the
// primary region's bus while the primary is healthy, else to the
// secondary's, reports per-entry results and FailedEntryCount as EventBridge
// does, and — replication ENABLED — delivers every accepted event to the
// other region asynchronously, from the region that accepted it: while that
// region is unreachable its pending replications wait, which is the data a
// regional outage puts at risk.
package globalendpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/tap-trading/tap/internal/event"
)

// API is the part of *eventbridge.Client the endpoint uses to put events on
// a region's bus.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Region is one region behind the endpoint.
type Region struct {
	// Name is the region's name, e.g. us-east-1.
	Name string
	// Account goes in the envelope of replicated events.
	Account string
	// Events puts events on the region's buses (through whatever path a
	// partition cuts).
	Events API
	// Reachable reports whether the region can be reached; replication
	// sourced from it waits while it cannot.
	Reachable func() bool
	// Deliver hands a replicated event, with the envelope the accepting
	// region gave it, to this region's bus rules. An error means "try
	// again later".
	Deliver func(ctx context.Context, env event.Envelope) error
}

// Config configures an Endpoint.
type Config struct {
	Primary, Secondary Region
	// PrimaryHealthy decides the route: the primary while it returns true.
	PrimaryHealthy func() bool
	// ForwardTimeout bounds one PutEvents call to a region, so a hung region
	// fails the entries instead of hanging the producer. Default 2 s.
	ForwardTimeout time.Duration
	// ReplicationLag is how long after acceptance an event is replicated at
	// the earliest (EventBridge replication is asynchronous). Default 0.
	ReplicationLag time.Duration
	// RetryDelay is the wait after a failed replication attempt. Default
	// 200 ms.
	RetryDelay time.Duration
	// ReplicationMaxAge, if positive, is how long after acceptance an
	// undelivered replication is given up (the managed rule's retry
	// policy); Counts.Expired counts them.
	ReplicationMaxAge time.Duration
	// OnAccept and OnReplicated, if set, are told of every accepted event
	// and every completed replication (one call at a time per source
	// region).
	OnAccept     func(Accepted)
	OnReplicated func(Replicated)
	// OnRoute, if set, is told when calls start going to another region.
	OnRoute func(region string, at time.Time)
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Accepted is an event a region's bus accepted through the endpoint.
type Accepted struct {
	// EventID is EventBridge's ID, as returned to the producer.
	EventID string
	Region  string
	At      time.Time
}

// Replicated is an accepted event delivered to the other region.
type Replicated struct {
	EventID  string
	From, To string
	// AcceptedAt and At give the replication delay; FirstAttempt is when
	// delivery was first tried (the managed rule's invocation start).
	AcceptedAt, FirstAttempt, At time.Time
	// Attempts counts delivery attempts (1 when nothing was in the way).
	Attempts int
}

// Endpoint is a running local global endpoint.
type Endpoint struct {
	// URL is the endpoint's base URL: --endpoint-url for the AWS CLI.
	URL string

	cfg     Config
	srv     *http.Server
	queues  map[string]*queue // by source region
	stop    context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	routed  string
	calls   int
	entries int
	failed  int
	expired int
}

// Start serves the endpoint on a free loopback port and starts replication.
func Start(cfg Config) (*Endpoint, error) {
	if cfg.Primary.Name == "" || cfg.Secondary.Name == "" || cfg.Primary.Name == cfg.Secondary.Name {
		return nil, fmt.Errorf("globalendpoint: primary %q and secondary %q must be two named regions", cfg.Primary.Name, cfg.Secondary.Name)
	}
	if cfg.PrimaryHealthy == nil {
		return nil, errors.New("globalendpoint: PrimaryHealthy is required")
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = 2 * time.Second
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 200 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("globalendpoint: listen: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	e := &Endpoint{URL: "http://" + l.Addr().String(), cfg: cfg, stop: stop, routed: cfg.Primary.Name}
	e.queues = map[string]*queue{
		cfg.Primary.Name:   newQueue(cfg.Primary, cfg.Secondary),
		cfg.Secondary.Name: newQueue(cfg.Secondary, cfg.Primary),
	}
	for _, q := range e.queues {
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.replicate(ctx, q) }()
	}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(l) }()
	return e, nil
}

// Close stops serving and replicating; pending replications are dropped
// (Pending says how many).
func (e *Endpoint) Close() error {
	err := e.srv.Close()
	e.stop()
	e.wg.Wait()
	return err
}

// Route is the region calls go to now.
func (e *Endpoint) Route() string {
	if e.cfg.PrimaryHealthy() {
		return e.cfg.Primary.Name
	}
	return e.cfg.Secondary.Name
}

// Pending is the number of accepted events not yet replicated, by source
// region.
func (e *Endpoint) Pending() map[string]int {
	out := map[string]int{}
	for r, q := range e.queues {
		out[r] = q.len()
	}
	return out
}

// Counts are the endpoint's totals.
type Counts struct {
	Calls, Entries, FailedEntries int
	// Expired counts replications given up after ReplicationMaxAge.
	Expired int
}

// Counts returns the totals so far.
func (e *Endpoint) Counts() Counts {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Counts{Calls: e.calls, Entries: e.entries, FailedEntries: e.failed, Expired: e.expired}
}

// Wire shapes of PutEvents (JSON 1.1).
type (
	putEventsRequest struct {
		Entries    []requestEntry `json:"Entries"`
		EndpointID string         `json:"EndpointId"`
	}
	requestEntry struct {
		Source       *string  `json:"Source"`
		DetailType   *string  `json:"DetailType"`
		Detail       *string  `json:"Detail"`
		EventBusName *string  `json:"EventBusName"`
		Resources    []string `json:"Resources"`
		Time         *float64 `json:"Time"` // epoch seconds
		TraceHeader  *string  `json:"TraceHeader"`
	}
	putEventsResponse struct {
		FailedEntryCount int             `json:"FailedEntryCount"`
		Entries          []responseEntry `json:"Entries"`
	}
	responseEntry struct {
		EventID      string `json:"EventId,omitempty"`
		ErrorCode    string `json:"ErrorCode,omitempty"`
		ErrorMessage string `json:"ErrorMessage,omitempty"`
	}
)

// maxEntries is PutEvents' limit per call.
const maxEntries = 10

// ServeHTTP answers PutEvents; anything else is an UnknownOperationException.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
		writeError(w, http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("this local global endpoint serves only AWSEvents.PutEvents, not %q", r.Header.Get("X-Amz-Target")))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	var req putEventsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "PutEvents body is not valid JSON: "+err.Error())
		return
	}
	if n := len(req.Entries); n < 1 || n > maxEntries {
		writeError(w, http.StatusBadRequest, "ValidationException",
			fmt.Sprintf("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and %d (got %d)", maxEntries, n))
		return
	}
	resp := e.put(r.Context(), req.Entries)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(resp)
}

// put sends entries to the routed region and queues their replication.
func (e *Endpoint) put(ctx context.Context, entries []requestEntry) putEventsResponse {
	now := e.cfg.Now()
	src, dst := e.cfg.Primary, e.cfg.Secondary
	if !e.cfg.PrimaryHealthy() {
		src, dst = dst, src
	}
	e.mu.Lock()
	e.calls++
	e.entries += len(entries)
	changed := e.routed != src.Name
	e.routed = src.Name
	e.mu.Unlock()
	if changed && e.cfg.OnRoute != nil {
		e.cfg.OnRoute(src.Name, now)
	}

	in := &eventbridge.PutEventsInput{Entries: make([]ebtypes.PutEventsRequestEntry, len(entries))}
	for i, en := range entries {
		in.Entries[i] = ebtypes.PutEventsRequestEntry{
			Source: en.Source, DetailType: en.DetailType, Detail: en.Detail,
			EventBusName: busName(en.EventBusName), Resources: en.Resources, TraceHeader: en.TraceHeader,
		}
		if en.Time != nil {
			in.Entries[i].Time = aws.Time(time.UnixMilli(int64(*en.Time * 1000)))
		}
	}
	fctx, cancel := context.WithTimeout(ctx, e.cfg.ForwardTimeout)
	out, err := src.Events.PutEvents(fctx, in)
	cancel()

	resp := putEventsResponse{Entries: make([]responseEntry, len(entries))}
	if err == nil && len(out.Entries) != len(entries) {
		err = fmt.Errorf("%d results for %d entries", len(out.Entries), len(entries))
	}
	for i := range entries {
		if err != nil {
			// The region could not take the call: every entry failed, as
			// EventBridge reports an entry it could not ingest. Producers
			// retry InternalFailure.
			resp.Entries[i] = responseEntry{ErrorCode: "InternalFailure",
				ErrorMessage: fmt.Sprintf("region %s did not accept the event: %v", src.Name, err)}
			continue
		}
		res := out.Entries[i]
		if code := aws.ToString(res.ErrorCode); code != "" {
			resp.Entries[i] = responseEntry{ErrorCode: code, ErrorMessage: aws.ToString(res.ErrorMessage)}
			continue
		}
		id := aws.ToString(res.EventId)
		resp.Entries[i] = responseEntry{EventID: id}
		at := now
		if t := in.Entries[i].Time; t != nil {
			at = *t
		}
		env := event.Envelope{
			ID: id, Source: aws.ToString(entries[i].Source), DetailType: aws.ToString(entries[i].DetailType),
			Account: src.Account, Region: src.Name, Time: at.UTC(),
			Detail: json.RawMessage(aws.ToString(entries[i].Detail)),
		}
		if e.cfg.OnAccept != nil {
			e.cfg.OnAccept(Accepted{EventID: id, Region: src.Name, At: now})
		}
		e.queues[src.Name].push(pending{env: env, acceptedAt: now})
	}
	for _, en := range resp.Entries {
		if en.ErrorCode != "" {
			resp.FailedEntryCount++
		}
	}
	e.mu.Lock()
	e.failed += resp.FailedEntryCount
	e.mu.Unlock()
	return resp
}

// busName turns an event bus ARN into its name: the two regions' buses share
// the name, and an ARN names one region's.
func busName(s *string) *string {
	if s == nil {
		return nil
	}
	if i := strings.LastIndex(*s, ":event-bus/"); i >= 0 {
		return aws.String((*s)[i+len(":event-bus/"):])
	}
	return s
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}
