package tracing

import (
	"context"
	"net"
	"testing"
)

// benchDaemon is a UDP socket that receives and drops datagrams, so sends
// succeed; nothing reads it, the kernel drops what overflows its buffer.
func benchDaemon(b *testing.B) string {
	b.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn.LocalAddr().String()
}

// BenchmarkSetup is the init cost of tracing: parse the address, open the
// UDP socket, build the tracer provider.
func BenchmarkSetup(b *testing.B) {
	addr := benchDaemon(b)
	b.ReportAllocs()
	for b.Loop() {
		tr, err := Setup(Config{DaemonAddress: addr})
		if err != nil {
			b.Fatal(err)
		}
		_ = tr.Shutdown(context.Background())
	}
}

// BenchmarkInvocation is the per-invocation cost of a sampled invocation
// span with annotations, exported as one datagram.
func BenchmarkInvocationSampled(b *testing.B) {
	tr, err := Setup(Config{DaemonAddress: benchDaemon(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Shutdown(context.Background()) })
	header := "Root=" + testRoot + ";Parent=" + testParent + ";Sampled=1"
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ictx, end := tr.StartInvocation(ctx, header)
		Annotate(ictx, "O-1", "E-1", "applied")
		end()
	}
}

// BenchmarkInvocationUnsampled is the cost when Lambda did not sample.
func BenchmarkInvocationUnsampled(b *testing.B) {
	tr, err := Setup(Config{DaemonAddress: benchDaemon(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Shutdown(context.Background()) })
	header := "Root=" + testRoot + ";Parent=" + testParent + ";Sampled=0"
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ictx, end := tr.StartInvocation(ctx, header)
		Annotate(ictx, "O-1", "E-1", "applied")
		end()
	}
}
