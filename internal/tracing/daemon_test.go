package tracing

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// fakeDaemon is a loopback UDP listener standing in for the X-Ray daemon.
type fakeDaemon struct {
	conn *net.UDPConn
}

func startDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen UDP: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fakeDaemon{conn: conn}
}

func (d *fakeDaemon) addr() string { return d.conn.LocalAddr().String() }

// datagram is one received datagram: its header line and segment document.
type datagram struct {
	size    int
	raw     string
	header  string
	segment map[string]any
}

// next waits for the next datagram and splits it at the first newline.
func (d *fakeDaemon) next(t *testing.T) datagram {
	t.Helper()
	buf := make([]byte, 70_000)
	if err := d.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, _, err := d.conn.ReadFromUDP(buf)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("no datagram from the tracer within 5s")
		}
		t.Fatalf("read datagram: %v", err)
	}
	header, body, ok := bytes.Cut(buf[:n], []byte("\n"))
	if !ok {
		t.Fatalf("datagram has no header line: %q", buf[:n])
	}
	var seg map[string]any
	if err := json.Unmarshal(body, &seg); err != nil {
		t.Fatalf("segment is not a JSON object: %v\n%s", err, body)
	}
	return datagram{size: n, raw: string(buf[:n]), header: string(header), segment: seg}
}

// str returns m[key] as a string, failing if it is present with another type.
func str(t *testing.T, m map[string]any, key string) string {
	t.Helper()
	v, ok := m[key]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%q = %#v, want a string", key, v)
	}
	return s
}

// obj returns m[key] as an object, or nil.
func obj(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}
