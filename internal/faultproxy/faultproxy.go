// Package faultproxy is a loopback HTTP reverse proxy that sits between an AWS
// SDK client and a local AWS server (moto) and injects the failures a real
// DynamoDB endpoint produces: throttling errors, 500s, added latency and
// dropped connections. A connection can be dropped before the request is
// forwarded (it never reaches the server) or after (the server applied it and
// the response is lost) — the case that makes retries hit already-applied
// writes, which idempotency must absorb.
//
// Faults are chosen per request, by probability or by a fixed schedule, and
// counted, so a test can assert that faults actually happened.
package faultproxy

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault is what the proxy does to one request.
type Fault int

// Faults. Every fault other than None is counted.
const (
	// None forwards the request and returns the response untouched.
	None Fault = iota
	// ThroughputExceeded answers HTTP 400
	// ProvisionedThroughputExceededException without forwarding.
	ThroughputExceeded
	// Throttling answers HTTP 400 ThrottlingException without forwarding.
	Throttling
	// InternalError answers HTTP 500 InternalServerError without forwarding.
	InternalError
	// Latency waits Config.Latency, then forwards.
	Latency
	// DropBefore closes the connection without forwarding: the request is
	// never applied.
	DropBefore
	// DropAfter forwards the request, waits for the server's answer, then
	// closes the connection without answering: the request is applied but
	// the client never learns it.
	DropAfter
	numFaults
)

// String names the fault.
func (f Fault) String() string {
	switch f {
	case None:
		return "none"
	case ThroughputExceeded:
		return "throughput-exceeded"
	case Throttling:
		return "throttling"
	case InternalError:
		return "internal-error"
	case Latency:
		return "latency"
	case DropBefore:
		return "drop-before"
	case DropAfter:
		return "drop-after"
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// Config says where to forward and which faults to inject.
type Config struct {
	// Target is the base URL of the server, e.g. moto's http://127.0.0.1:5000.
	Target string
	// Rates is the probability of each fault per eligible request; their sum
	// must be at most 1. Ignored while Schedule lasts.
	Rates map[Fault]float64
	// Schedule, if set, gives the faults of the first len(Schedule) eligible
	// requests in order (None to let one through); Rates apply after it.
	Schedule []Fault
	// Latency is the delay of the Latency fault. Default: 50 ms.
	Latency time.Duration
	// Seed seeds the choice by Rates, so a run can be repeated (concurrent
	// clients still interleave differently).
	Seed uint64
	// Match selects the requests faults may hit; others are forwarded
	// untouched and do not consume the schedule. Default: every request.
	// See Operations.
	Match func(*http.Request) bool
}

// Operations matches DynamoDB (JSON protocol) requests for the named
// operations, e.g. Operations("PutItem", "UpdateItem"), by their X-Amz-Target.
func Operations(ops ...string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		target := r.Header.Get("X-Amz-Target")
		_, op, _ := strings.Cut(target, ".")
		for _, o := range ops {
			if op == o {
				return true
			}
		}
		return false
	}
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	// URL is the proxy's base URL: point the SDK's endpoint at it.
	URL string

	target    *url.URL
	cfg       Config
	rates     []float64 // by Fault
	transport *http.Transport
	srv       *http.Server

	mu       sync.Mutex
	rng      *rand.Rand
	next     int // index into Schedule
	counts   [numFaults]int
	requests int
}

// Start starts a proxy on a free loopback port.
func Start(cfg Config) (*Proxy, error) {
	target, err := url.Parse(cfg.Target)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q is not an absolute URL", cfg.Target)
	}
	rates := make([]float64, numFaults)
	var sum float64
	for f, p := range cfg.Rates {
		if f <= None || f >= numFaults || p < 0 {
			return nil, fmt.Errorf("faultproxy: bad rate %v for %v", p, f)
		}
		rates[f] = p
		sum += p
	}
	if sum > 1 {
		return nil, fmt.Errorf("faultproxy: fault rates sum to %v, want at most 1", sum)
	}
	if cfg.Latency <= 0 {
		cfg.Latency = 50 * time.Millisecond
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{
		URL:    "http://" + l.Addr().String(),
		target: target,
		cfg:    cfg,
		rates:  rates,
		// The body is passed through as is: no transparent decompression.
		transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
		rng:       rand.New(rand.NewPCG(cfg.Seed, 0xfa17)),
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// Close stops the proxy and drops its connections.
func (p *Proxy) Close() error {
	err := p.srv.Close()
	p.transport.CloseIdleConnections()
	return err
}

// Counts returns how many times each fault was injected (None: requests let
// through untouched, eligible or not).
func (p *Proxy) Counts() map[Fault]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[Fault]int, numFaults)
	for f, n := range p.counts {
		if n > 0 {
			m[Fault(f)] = n
		}
	}
	return m
}

// Injected is the total number of faults injected.
func (p *Proxy) Injected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for f := None + 1; f < numFaults; f++ {
		n += p.counts[f]
	}
	return n
}

// Requests is the number of requests received.
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// decide picks the fault of a request and counts it.
func (p *Proxy) decide(r *http.Request) Fault {
	eligible := p.cfg.Match == nil || p.cfg.Match(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	f := None
	switch {
	case !eligible:
	case p.next < len(p.cfg.Schedule):
		f = p.cfg.Schedule[p.next]
		p.next++
	default:
		x := p.rng.Float64()
		for g := None + 1; g < numFaults; g++ {
			if x < p.rates[g] {
				f = g
				break
			}
			x -= p.rates[g]
		}
	}
	p.counts[f]++
	return f
}

// ServeHTTP applies the request's fault and forwards it as needed.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "faultproxy: read request: "+err.Error(), http.StatusBadGateway)
		return
	}
	fault := p.decide(r)
	switch fault {
	case ThroughputExceeded:
		writeError(w, http.StatusBadRequest, "ProvisionedThroughputExceededException",
			"The level of configured provisioned throughput for the table was exceeded. (injected by faultproxy)")
		return
	case Throttling:
		writeError(w, http.StatusBadRequest, "ThrottlingException", "Rate of requests exceeds the allowed throughput. (injected by faultproxy)")
		return
	case InternalError:
		writeError(w, http.StatusInternalServerError, "InternalServerError", "Internal server error (injected by faultproxy)")
		return
	case DropBefore:
		Reset(w)
		return
	case Latency:
		select {
		case <-time.After(p.cfg.Latency):
		case <-r.Context().Done():
			return
		}
	}
	resp, err := p.forward(r, body)
	if err != nil {
		http.Error(w, "faultproxy: forward: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, "faultproxy: read response: "+err.Error(), http.StatusBadGateway)
		return
	}
	if fault == DropAfter {
		// The server has answered, so the request is applied; the client
		// gets a reset instead of the answer.
		Reset(w)
		return
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

// forward sends the request to the target with the same method, path, query,
// headers and Host (the SDK signed the Host it sent to the proxy).
func (p *Proxy) forward(r *http.Request, body []byte) (*http.Response, error) {
	u := *p.target
	u.Path = strings.TrimSuffix(u.Path, "/") + r.URL.Path
	u.RawQuery = r.URL.RawQuery
	// Not r.Context(): with DropAfter the server must finish even if the
	// client gives up first, as a real server would.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	out, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, err
	}
	out.Header = r.Header.Clone()
	out.Header.Del("Connection")
	out.Host = r.Host
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// writeError answers like DynamoDB's JSON protocol does, so the SDK parses the
// error code and its retryer classifies it as a real one.
// It carries the CRC32 header DynamoDB sends, which the SDK checks.
func writeError(w http.ResponseWriter, status int, code, message string) {
	body := fmt.Appendf(nil, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":%q}`, code, message)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Requestid", "faultproxy")
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Reset closes the client's connection with a TCP reset and no response:
// what a client of a dead peer, or of an unreachable region, sees.
func Reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok { // HTTP/2; the SDK speaks HTTP/1.1 to a plain-http endpoint
		http.Error(w, "faultproxy: connection cannot be hijacked", http.StatusBadGateway)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // RST, not FIN: the way a dead peer or middlebox looks
	}
	_ = conn.Close()
}
