// Package partition is a loopback TCP proxy that stands for the network path
// to one local region: every client of the region connects through it, so
// cutting it makes the region unreachable to everyone at once while the
// server behind it (moto) keeps its state, as a regional outage loses
// availability, not durable data (DESIGN §8.1).
//
// It works at the TCP level, below HTTP, so pooled keep-alive connections are
// cut too, whatever the protocol.
package partition

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Mode is how a cut region looks to its clients.
type Mode int

// Modes of a cut.
const (
	// Refuse resets every connection, new and open: clients fail at once,
	// like a region whose endpoints refuse connections.
	Refuse Mode = iota + 1
	// Hang accepts connections and never answers until Heal (then resets
	// them) or the client gives up: clients find out only through their own
	// timeouts, the harder case.
	Hang
)

// String names the mode as the CLI flag spells it.
func (m Mode) String() string {
	switch m {
	case Refuse:
		return "refuse"
	case Hang:
		return "hang"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// ParseMode reads a mode's name.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "refuse":
		return Refuse, nil
	case "hang":
		return Hang, nil
	}
	return 0, fmt.Errorf("partition mode %q: want refuse or hang", s)
}

// Proxy forwards loopback TCP connections to a target until cut.
type Proxy struct {
	// URL is http://<listen address>: point clients at it.
	URL string
	// Addr is the listen address.
	Addr string

	target string
	ln     net.Listener

	mu     sync.Mutex
	mode   Mode // 0 while healthy
	conns  map[*link]struct{}
	held   map[net.Conn]struct{} // hung connections, reset on Heal
	cuts   int
	delay  time.Duration // added before each chunk the region answers: a slow region
	closed bool
	wg     sync.WaitGroup
}

// link is one client connection and its upstream.
type link struct {
	client, upstream net.Conn
}

// Start listens on a free loopback port and forwards to target (host:port).
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("partition: listen: %w", err)
	}
	p := &Proxy{
		Addr: ln.Addr().String(), URL: "http://" + ln.Addr().String(),
		target: target, ln: ln,
		conns: map[*link]struct{}{}, held: map[net.Conn]struct{}{},
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Cut partitions the region: open connections are cut (reset in Refuse
// mode; in Hang mode their upstream is closed and the client is left
// waiting) and new ones are treated per mode. Cutting a cut proxy changes
// its mode.
func (p *Proxy) Cut(m Mode) error {
	if m != Refuse && m != Hang {
		return fmt.Errorf("partition: cut with unknown mode %d", int(m))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == 0 {
		p.cuts++
	}
	p.mode = m
	for l := range p.conns {
		_ = l.upstream.Close()
		if m == Refuse {
			reset(l.client)
		} else {
			p.held[l.client] = struct{}{}
		}
		delete(p.conns, l)
	}
	return nil
}

// Heal reconnects the region: connections held by a hang are reset (their
// clients retry on fresh ones) and new connections are forwarded again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = 0
	for c := range p.held {
		reset(c)
		delete(p.held, c)
	}
}

// Slow delays every answer through the proxy by d (0 restores full
// speed): a region that answers, late — a brownout, not an outage. The
// delay is added before each chunk the region sends back, so every call
// takes at least d longer, long polls included (an answer to a poll that
// was waiting is late too), on new and pooled connections alike.
func (p *Proxy) Slow(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = max(d, 0)
}

// Delay is the current added delay.
func (p *Proxy) Delay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delay
}

// Mode is the current cut mode, or 0 while the path is up.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// IsCut reports whether the region is cut off.
func (p *Proxy) IsCut() bool { return p.Mode() != 0 }

// Cuts counts the cuts so far.
func (p *Proxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

// Close stops listening and drops every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for l := range p.conns {
		_ = l.upstream.Close()
		_ = l.client.Close()
	}
	for c := range p.held {
		_ = c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		go p.serve(c)
	}
}

func (p *Proxy) serve(c net.Conn) {
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		_ = c.Close()
		return
	case p.mode == Refuse:
		p.mu.Unlock()
		reset(c)
		return
	case p.mode == Hang:
		p.held[c] = struct{}{}
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()

	up, err := net.Dial("tcp", p.target)
	if err != nil {
		reset(c)
		return
	}
	l := &link{client: c, upstream: up}
	p.mu.Lock()
	if p.mode != 0 || p.closed {
		// Cut while dialling: treat as a connection arriving now.
		p.mu.Unlock()
		_ = up.Close()
		p.serve(c)
		return
	}
	p.conns[l] = struct{}{}
	p.mu.Unlock()

	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, &slowReader{r: up, p: p}); done <- struct{}{} }()
	<-done
	p.mu.Lock()
	_, live := p.conns[l]
	delete(p.conns, l)
	p.mu.Unlock()
	if live {
		// An ordinary close by either side: close both.
		_ = up.Close()
		_ = c.Close()
	}
	<-done
}

// reset closes c with a TCP RST, the way a dead peer or a firewall looks.
func reset(c net.Conn) {
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = c.Close()
}

// slowReader delays each chunk read from the region by the proxy's current
// delay.
type slowReader struct {
	r io.Reader
	p *Proxy
}

func (s *slowReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if n > 0 {
		if d := s.p.Delay(); d > 0 {
			time.Sleep(d)
		}
	}
	return n, err
}
