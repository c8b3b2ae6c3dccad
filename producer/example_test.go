package producer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/tap-trading/tap/producer"
)

// eventBridge is a loopback PutEvents service for the examples: it accepts
// every entry except the first refuse ones it sees, which it refuses with
// InternalFailure, as EventBridge reports an entry it could not take (a
// global endpoint failing over does the same).
func eventBridge(refuse int) (*httptest.Server, *eventbridge.Client) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Entries []json.RawMessage }
		_ = json.NewDecoder(r.Body).Decode(&in)
		mu.Lock()
		defer mu.Unlock()
		var out []string
		failed := 0
		for range in.Entries {
			n++
			if n <= refuse {
				out = append(out, `{"ErrorCode":"InternalFailure","ErrorMessage":"try again"}`)
				failed++
				continue
			}
			out = append(out, fmt.Sprintf(`{"EventId":"ev-%d"}`, n))
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprintf(w, `{"FailedEntryCount":%d,"Entries":[%s]}`, failed, strings.Join(out, ","))
	}))
	// In production: cfg, err := config.LoadDefaultConfig(ctx), and
	// Config.EndpointID set to the global endpoint's ID.
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("id", "secret", "")}
	client := eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return srv, client
}

// execution is an ExecutionReport entry for TAP's bus.
func execution(orderID string, seq int) types.PutEventsRequestEntry {
	detail := fmt.Sprintf(`{"eventId":"00000000-0000-4000-8000-%012d","orderId":%q,"seq":%d}`, seq, orderID, seq)
	return types.PutEventsRequestEntry{
		EventBusName: aws.String("tap-dev-trading"), Source: aws.String("tap.trading"),
		DetailType: aws.String("ExecutionReport"), Detail: aws.String(detail),
	}
}

// A durable producer: Send returns once the entries are fsync'd in the
// spool; the one entry refused is retried with backoff; Close waits until
// everything is accepted.
func Example() {
	srv, client := eventBridge(1)
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "spool")
	defer os.RemoveAll(dir)

	p, err := producer.Open(client, producer.Config{SpoolDir: dir, Backoff: 10 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	first, err := p.Send(ctx, execution("ORD-1", 1), execution("ORD-1", 2), execution("ORD-1", 3))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("spooled from sequence number", first)
	if err := p.Close(ctx); err != nil {
		log.Fatal(err)
	}
	s := p.Stats()
	fmt.Printf("accepted %d, refused %d, retried %d, spooled %d, unsent %d\n", s.Accepted, s.Refused, s.Retried, s.Spooled, s.Unsent)
	// Output:
	// spooled from sequence number 1
	// accepted 3, refused 1, retried 1, spooled 3, unsent 0
}

// A producer stopped (or crashed) while EventBridge refused its entries
// leaves them in the spool; the next producer opened on it sends them
// first, under the sequence numbers they were given.
func ExampleOpen_resume() {
	down, refusing := eventBridge(1 << 30)
	dir, _ := os.MkdirTemp("", "spool")
	defer os.RemoveAll(dir)

	p, err := producer.Open(refusing, producer.Config{SpoolDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := p.Send(context.Background(), execution("ORD-2", 1), execution("ORD-2", 2)); err != nil {
		log.Fatal(err)
	}
	stop, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	fmt.Println(p.Close(stop) != nil, "— entries left in the spool")
	down.Close()

	up, client := eventBridge(0)
	defer up.Close()
	p, err = producer.Open(client, producer.Config{SpoolDir: dir, OnResult: func(r producer.Result) {
		fmt.Printf("seq %d resumed %v accepted as %s\n", r.Seq, r.Resumed, r.EventID)
	}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("resumed", p.Recovery().Resumed)
	if err := p.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// true — entries left in the spool
	// resumed 2
	// seq 1 resumed true accepted as ev-1
	// seq 2 resumed true accepted as ev-2
}

// Publish is the synchronous form: it returns when every entry is settled,
// with each entry's fate.
func ExamplePublisher_Publish() {
	srv, client := eventBridge(1)
	defer srv.Close()
	pub := producer.New(client, producer.Options{Backoff: 10 * time.Millisecond})
	entries := []types.PutEventsRequestEntry{execution("ORD-3", 1), execution("ORD-3", 2)}
	sum, err := pub.Publish(context.Background(), entries, func(r producer.EntryResult) {
		fmt.Printf("entry %d accepted after %d attempt(s)\n", r.Index, r.Attempts)
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d accepted in %d calls\n", sum.Accepted, sum.Calls)
	// Output:
	// entry 1 accepted after 1 attempt(s)
	// entry 0 accepted after 2 attempt(s)
	// 2 accepted in 2 calls
}

// EntrySize counts an entry as EventBridge does against a call's 256 KiB;
// Batches splits entries, in order, into calls within both limits: two
// 100 KiB entries fill a call's bytes, ten entries its count.
func ExampleBatches() {
	big := strings.Repeat("x", 100<<10)
	var entries []types.PutEventsRequestEntry
	for range 4 {
		entries = append(entries, types.PutEventsRequestEntry{Source: aws.String("tap.trading"), DetailType: aws.String("ExecutionReport"), Detail: aws.String(big)})
	}
	for range 12 {
		entries = append(entries, execution("ORD-4", 1))
	}
	fmt.Println(producer.EntrySize(entries[0]), "bytes counted for a 100 KiB detail")
	for _, b := range producer.Batches(entries) {
		fmt.Print(len(b), " ")
	}
	fmt.Println()
	// Output:
	// 102426 bytes counted for a 100 KiB detail
	// 2 10 4
}
