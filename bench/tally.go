package bench

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Call is one DynamoDB request the keep-alive front passed to moto, as the
// cost model counts it.
type Call struct {
	// Op is the operation (PutItem, UpdateItem, GetItem, Query, …).
	Op string
	// Consistent reports a strongly consistent read.
	Consistent bool
	// ConditionFailed reports a write refused by its condition (it still
	// consumes write units in DynamoDB).
	ConditionFailed bool
	// Status is the HTTP status moto answered.
	Status int
	// Start and End bound the request as the front saw it: the time the
	// caller waited on DynamoDB.
	Start, End time.Time
}

// Wait is how long the caller waited on the call.
func (c Call) Wait() time.Duration { return c.End.Sub(c.Start) }

// recorder keeps every call; phases take the calls between two marks.
type recorder struct {
	mu    sync.Mutex
	calls []Call
}

// Mark is the index of the next call.
func (r *recorder) Mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// Since returns the calls made since mark.
func (r *recorder) Since(mark int) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls[mark:])
}

func (r *recorder) add(c Call) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

// record wraps next, recording every request that names a DynamoDB
// operation. It reads the request body (to see ConsistentRead) and sniffs
// the head of an error response (to see a failed condition).
func (r *recorder) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		target := req.Header.Get("X-Amz-Target")
		if !strings.HasPrefix(target, "DynamoDB_") {
			next.ServeHTTP(w, req)
			return
		}
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		c := Call{Op: target[strings.IndexByte(target, '.')+1:], Start: time.Now()}
		c.Consistent = bytes.Contains(body, []byte(`"ConsistentRead":true`))
		sw := &sniffWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, req)
		c.End, c.Status = time.Now(), sw.status
		c.ConditionFailed = sw.status == http.StatusBadRequest && bytes.Contains(sw.head, []byte("ConditionalCheckFailed"))
		r.add(c)
	})
}

// sniffWriter keeps the status and the first bytes of a response.
type sniffWriter struct {
	http.ResponseWriter
	status int
	head   []byte
}

func (w *sniffWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *sniffWriter) Write(b []byte) (int, error) {
	if n := min(len(b), 512-len(w.head)); n > 0 {
		w.head = append(w.head, b[:n]...)
	}
	return w.ResponseWriter.Write(b)
}
