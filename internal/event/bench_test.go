package event

import (
	"testing"
	"time"

	"github.com/tap-trading/tap/internal/schema"
)

// benchEvent is a realistic event as Lambda receives it from EventBridge.
func benchEvent(b *testing.B) []byte {
	b.Helper()
	return reportEvent(b, baseDetail())
}

// BenchmarkDecodeValidate is the processor's per-event decode + validate cost.
func BenchmarkDecodeValidate(b *testing.B) {
	raw := benchEvent(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		d, err := Decode(raw, testNow)
		if err != nil || d.Report == nil {
			b.Fatalf("Decode = %v, %v", d.Report, err)
		}
	}
}

// BenchmarkDecodeReject is the cost of a typical rejection, which builds a
// message.
func BenchmarkDecodeReject(b *testing.B) {
	m := baseDetail()
	m["leavesQty"] = raw(`"59"`)
	raw := reportEvent(b, m)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(raw, testNow); err == nil {
			b.Fatal("Decode accepted an invalid event")
		}
	}
}

func BenchmarkDecodeHeartbeat(b *testing.B) {
	raw := wrap(schema.DetailTypeHeartbeat, EncodeHeartbeat(Heartbeat{Region: "eu-west-1", SentAt: testNow.Add(-time.Second)}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(raw, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	r := baseReport()
	b.ReportAllocs()
	for b.Loop() {
		if err := Validate(r, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeDetail(b *testing.B) {
	r := baseReport()
	b.ReportAllocs()
	for b.Loop() {
		_ = EncodeDetail(r)
	}
}
