package bench

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// KeepAliveFront serves a keep-alive HTTP front for moto on a free loopback
// port. moto answers every request with "Connection: close", so without it
// each DynamoDB call of either side would open a new TCP connection — work the
// deployed functions do not do (their SDKs reuse connections to DynamoDB) and
// which would dominate the measured CPU per event. The front keeps the
// runtimes' connections open and pays moto's reconnects itself, in the
// harness process, whose CPU is not counted for either side.
type KeepAliveFront struct {
	// Endpoint is the front's base URL, to use in place of moto's.
	Endpoint string
	srv      *http.Server
	done     chan struct{}
	// calls records every DynamoDB request passed through, for the
	// operation counts and waits of the cost model.
	calls recorder
}

// StartKeepAliveFront proxies to target (moto's endpoint).
func StartKeepAliveFront(target string) (*KeepAliveFront, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("keep-alive front: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("keep-alive front: %w", err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	// Pass the request through unchanged (SigV4 signs the Host header).
	director := rp.Director
	rp.Director = func(r *http.Request) {
		host := r.Host
		director(r)
		r.Host = host
	}
	f := &KeepAliveFront{
		Endpoint: "http://" + ln.Addr().String(),
		done:     make(chan struct{}),
	}
	f.srv = &http.Server{Handler: f.calls.record(rp), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(f.done)
		_ = f.srv.Serve(ln) // returns http.ErrServerClosed after Close

	}()
	return f, nil
}

// Mark and Since delimit the DynamoDB calls of one phase.
func (f *KeepAliveFront) Mark() int { return f.calls.Mark() }

// Since returns the DynamoDB calls made since mark.
func (f *KeepAliveFront) Since(mark int) []Call { return f.calls.Since(mark) }

// Close stops the front.
func (f *KeepAliveFront) Close() {
	_ = f.srv.Close()
	<-f.done
}
