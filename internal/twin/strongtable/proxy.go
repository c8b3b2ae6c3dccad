package strongtable

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/faultproxy"
)

// ServeHTTP serves one request of the region's clients: the table's reads
// and writes with MRSC semantics, everything else passed through.
func (s *side) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if !strings.HasPrefix(target, targetPrefix) {
		// SQS, EventBridge and the rest: streamed through untouched (an SQS
		// long poll must not be buffered).
		s.pass.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		faultproxy.Reset(w)
		return
	}
	req := s.g.classify(target, body)
	switch req.kind {
	case write:
		s.serveWrite(w, r, body, req)
	case read:
		s.serveRead(w, r, body, req)
	case unsupported:
		s.g.stats.add(s.Name, func(c *regionCounts) { c.Unsupported++ })
		writeError(w, http.StatusBadRequest, "ValidationException", req.why)
	default:
		s.forwardTo(r.Context(), w, r, body)
	}
}

// serveWrite applies a write of one item in this region's replica and, by
// quorum, in the other's (doc.go, Semantics).
func (s *side) serveWrite(w http.ResponseWriter, r *http.Request, body []byte, req request) {
	ctx, other := r.Context(), s.other
	if req.key == nil {
		// No key to lock: moto refuses the request (ValidationException),
		// as DynamoDB would, and nothing is written.
		s.forwardTo(ctx, w, r, body)
		return
	}
	if err := s.catchUp(ctx); err != nil {
		s.refuseWrite(w, err)
		return
	}
	release, err := s.g.locks.write(ctx, req.keyStr, s.Name)
	if errors.Is(err, errConflict) {
		s.g.stats.add(s.Name, func(c *regionCounts) { c.Conflicts++ })
		writeError(w, http.StatusBadRequest, "ReplicatedWriteConflictException",
			fmt.Sprintf("The request was rejected because one or more items in the request are being modified by a request in another Region (%s).", other.Name))
		return
	}
	if err != nil {
		return // the client gave up waiting for its turn
	}
	defer release()
	// From here the write runs to its end whatever the client does: once
	// applied in this replica it must reach a quorum or be undone.
	ctx = context.WithoutCancel(ctx)
	// A write of the other region acknowledged through the witness while
	// this one waited for the lock.
	if err := s.catchUpItem(ctx, req.keyStr); err != nil {
		s.refuseWrite(w, err)
		return
	}
	// Quorum first: a write that cannot reach one is refused before it
	// touches this replica. With the witness reachable the quorum is
	// assured; without it the other replica must answer now, and the item
	// is read so the write can be undone should the other replica fail it.
	witnessOK := s.g.third(s.Name)
	var before map[string]types.AttributeValue
	if !witnessOK {
		if !other.reachable(ctx) {
			s.refuseWrite(w, errNoQuorum)
			return
		}
		lctx, cancel := context.WithTimeout(ctx, localTimeout)
		before, err = s.readItem(lctx, s.local, req.key)
		cancel()
		if err != nil {
			s.g.cfg.OnError(fmt.Errorf("strongtable: %s: read %s before a write: %w", s.Name, req.op, err))
			faultproxy.Reset(w)
			return
		}
	}
	resp, err := s.forward(ctx, r, body)
	if err != nil {
		faultproxy.Reset(w)
		return
	}
	if resp.status != http.StatusOK {
		// A failed condition, a validation error: nothing was written, so
		// nothing is replicated; the answer (with ALL_OLD's item) goes back
		// as moto gave it.
		resp.writeTo(w)
		return
	}
	start := time.Now()
	if err := s.quorum(ctx, req, witnessOK, before); err != nil {
		if errors.Is(err, errNoQuorum) {
			s.refuseWrite(w, err)
			return
		}
		// Applied here, but its result is unknown, so it cannot be
		// replicated: DynamoDB answers a write whose outcome it does not
		// know with a 500.
		s.g.cfg.OnError(err)
		writeError(w, http.StatusInternalServerError, "InternalServerError", "The write's result could not be replicated.")
		return
	}
	took := time.Since(start)
	s.g.stats.add(s.Name, func(c *regionCounts) {
		c.WriteLatencyAdded += took
		c.MaxWriteLatencyAdded = max(c.MaxWriteLatencyAdded, took)
	})
	resp.writeTo(w)
}

// quorum is a write's quorum step, once the write is applied in this
// region's replica: the item's result goes, after CrossRegionDelay, to the
// other replica, else to the witness log if this region reaches the
// witness, else the write is undone here and errNoQuorum returned. Any
// other error: the result could not be read back.
func (s *side) quorum(ctx context.Context, req request, witnessOK bool, before map[string]types.AttributeValue) error {
	other := s.other
	lctx, cancel := context.WithTimeout(ctx, localTimeout)
	after, err := s.readItem(lctx, s.local, req.key)
	cancel()
	if err != nil {
		return fmt.Errorf("strongtable: %s: read back %s: %w (the replicas may differ on this item)", s.Name, req.op, err)
	}
	if d := s.g.cfg.CrossRegionDelay; d > 0 {
		time.Sleep(d)
	}
	c := &change{key: req.key, item: after, from: s.Name, acked: time.Now()}
	if s.g.cfg.ThirdIsNearest && (witnessOK || s.g.third(s.Name)) {
		// The third member completes the quorum first: the write is
		// acknowledged without waiting for the other replica, which takes
		// the change from the witness's log — at once in the background,
		// or before it next serves the table. A slow other region thus
		// slows none of this region's writes.
		s.g.witness.add(other.Name, req.keyStr, c)
		s.g.stats.add(s.Name, func(c *regionCounts) { c.AckedViaWitness++ })
		if !other.linkHealth.isDown() {
			s.g.goRelay(func(ctx context.Context) { _ = other.relayItem(ctx, req.keyStr, other.link, false) })
		}
		return nil
	}
	// Without the witness the other replica is tried even if known down:
	// it is the only way to a quorum.
	err = errLinkDown
	if !witnessOK || !other.linkHealth.isDown() {
		lctx, cancel := context.WithTimeout(ctx, s.g.cfg.LinkTimeout)
		err = other.apply(lctx, other.link, c.key, c.item)
		cancel()
		other.linkHealth.observe(err)
	}
	switch {
	case err == nil:
		s.g.witness.drop(other.Name, req.keyStr)
		s.g.stats.add(s.Name, func(c *regionCounts) { c.AckedBoth++ })
	case witnessOK || s.g.third(s.Name):
		if !errors.Is(err, errLinkDown) {
			s.g.cfg.OnError(fmt.Errorf("strongtable: %s: %s not written to %s (kept in the witness log): %w", s.Name, req.op, other.Name, err))
		}
		s.g.witness.add(other.Name, req.keyStr, c)
		s.g.stats.add(s.Name, func(c *regionCounts) { c.AckedViaWitness++ })
	default:
		s.undo(ctx, req, before)
		return errNoQuorum
	}
	return nil
}

// errNoQuorum refuses a request of a region that reaches neither the other
// replica nor the witness.
var errNoQuorum = errors.New("the replica can reach neither the other replica nor the witness")

// errLinkDown skips the other replica while its link is known down and
// the witness completes the quorum.
var errLinkDown = errors.New("link known down")

// undo puts the item back as it was before a write that found no quorum
// after it was applied here (the other replica failed it mid-way).
func (s *side) undo(ctx context.Context, req request, before map[string]types.AttributeValue) {
	ctx, cancel := context.WithTimeout(ctx, localTimeout)
	defer cancel()
	if err := s.apply(ctx, s.local, req.key, before); err != nil {
		s.g.cfg.OnError(fmt.Errorf("strongtable: %s: undo a %s that found no quorum: %w (the write stays in this replica only)", s.Name, req.op, err))
	}
}

// serveRead serves a read of the table from this region's replica; a
// strongly consistent one only with a quorum (doc.go, Semantics).
func (s *side) serveRead(w http.ResponseWriter, r *http.Request, body []byte, req request) {
	ctx := r.Context()
	if err := s.catchUp(ctx); err != nil {
		if req.consistent {
			s.refuseRead(w, err)
			return
		}
		// A replica that is catching up serves eventually consistent reads
		// from what it has (doc.go).
		s.forwardTo(ctx, w, r, body)
		return
	}
	if req.consistent {
		if !s.g.third(s.Name) && !s.other.reachable(ctx) {
			s.refuseRead(w, errNoQuorum)
			return
		}
		if req.key != nil {
			// A strongly consistent GetItem waits for a write of its item
			// in flight, so no read sees a write another region's read
			// could still miss.
			release, err := s.g.locks.wait(ctx, req.keyStr)
			if err != nil {
				return
			}
			defer release()
			if err := s.catchUpItem(ctx, req.keyStr); err != nil {
				s.refuseRead(w, err)
				return
			}
		}
		if d := s.g.cfg.ConsistentReadDelay; d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
		}
	}
	s.forwardTo(ctx, w, r, body)
}

func (s *side) refuseWrite(w http.ResponseWriter, why error) {
	s.g.stats.add(s.Name, func(c *regionCounts) { c.WriteRefusals++ })
	s.refuse(w, why)
}

func (s *side) refuseRead(w http.ResponseWriter, why error) {
	s.g.stats.add(s.Name, func(c *regionCounts) { c.ReadRefusals++ })
	s.refuse(w, why)
}

// refuse answers a request the region cannot serve without a quorum:
// HTTP 500 InternalServerError (doc.go: the status is documented, the code
// assumed).
func (s *side) refuse(w http.ResponseWriter, why error) {
	writeError(w, http.StatusInternalServerError, "InternalServerError",
		fmt.Sprintf("The replica in %s cannot reach a quorum of the multi-Region strongly consistent table: %v.", s.Name, why))
}

// response is a response from the region's storage, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// writeTo sends the response to the client byte for byte, headers
// (X-Amz-Crc32 included) as they came.
func (r *response) writeTo(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range r.header {
		h[k] = vs
	}
	for _, k := range hopByHop {
		h.Del(k)
	}
	h.Set("Content-Length", strconv.Itoa(len(r.body)))
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
}

// hopByHop are the headers of one connection, not of the request or
// response (RFC 9110, section 7.6.1): never forwarded.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forward sends the client's request to the region's storage with the same
// method, path, query, headers and Host (the SDK signed them), and reads
// the answer whole.
func (s *side) forward(ctx context.Context, r *http.Request, body []byte) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, localTimeout)
	defer cancel()
	u := *s.localURL
	u.Path = strings.TrimSuffix(u.Path, "/") + r.URL.Path
	u.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out.Header = r.Header.Clone()
	for _, h := range hopByHop {
		out.Header.Del(h)
	}
	out.Host = r.Host
	out.ContentLength = int64(len(body))
	resp, err := s.g.transport.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// forwardTo forwards the request and answers the client with the storage's
// response; a storage that cannot be reached resets the client's
// connection, as the storage's own path would.
func (s *side) forwardTo(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte) {
	resp, err := s.forward(ctx, r, body)
	if err != nil {
		if ctx.Err() == nil {
			faultproxy.Reset(w)
		}
		return
	}
	resp.writeTo(w)
}

// writeError answers like DynamoDB's JSON protocol, with the X-Amz-Crc32
// header DynamoDB sends and the SDK checks.
func writeError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{"com.amazonaws.dynamodb.v20120810#" + code, message})
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Requestid", requestID())
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// requestID makes a request ID of DynamoDB's shape (52 characters of
// A-Z and 0-9).
func requestID() string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 52)
	for i := range b {
		b[i] = chars[rand.IntN(len(chars))]
	}
	return string(b)
}
