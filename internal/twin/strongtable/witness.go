package strongtable

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// errCatchingUp refuses a request of a region that missed writes (they are
// in the witness log) and can reach neither the witness nor the other
// region to fetch them.
var errCatchingUp = errors.New("the replica missed writes and can reach neither the witness nor the other region to catch up")

// witness is the witness's log: for each region, the acknowledged writes
// its replica has not received — the latest image of each item, as a later
// write of an item supersedes the earlier ones.
type witness struct {
	mu sync.Mutex
	// pending[region][item] is the item as it must be in region's replica.
	pending map[string]map[itemKey]*change
	// relays are the changes relayed so far.
	relays []relay
}

// change is an item as the write that acknowledged it left it.
type change struct {
	key  map[string]types.AttributeValue
	item map[string]types.AttributeValue // nil: the write deleted it
	from string
	// acked is when the write was acknowledged (for RelayedAfter).
	acked time.Time
}

// relay is one change the witness's log relayed: from which region, when
// it was acknowledged there and when the other replica took it.
type relay struct {
	from           string
	acked, applied time.Time
}

// add keeps c for region, superseding any older change of the item.
func (w *witness) add(region string, k itemKey, c *change) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending[region][k] = c
}

// get returns the change of item k pending for region, or nil.
func (w *witness) get(region string, k itemKey) *change {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending[region][k]
}

// done drops the change of k pending for region if it is still c: a later
// change logged meanwhile stays.
func (w *witness) done(region string, k itemKey, c *change) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending[region][k] == c {
		delete(w.pending[region], k)
	}
}

// drop forgets whatever is pending of item k for region: the region's
// replica has just received a later write of it.
func (w *witness) drop(region string, k itemKey) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.pending[region], k)
}

func (w *witness) count(region string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending[region])
}

func (w *witness) keys(region string) []itemKey {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Collect(maps.Keys(w.pending[region]))
}

// backlog counts the pending changes by region.
func (w *witness) backlog() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := map[string]int{}
	for r, p := range w.pending {
		b[r] = len(p)
	}
	return b
}

// relayPath returns the client through which the region's replica can
// fetch its missed writes now: from the witness (the region's own storage,
// reached locally) or, failing that, from the other region (over the
// region's link); nil if neither is reachable.
func (s *side) relayPath(ctx context.Context) *dynamodb.Client {
	if s.g.third(s.Name) {
		return s.local
	}
	if s.reachable(ctx) {
		return s.link
	}
	return nil
}

// catchUp relays every change pending for the region into its replica, or
// returns errCatchingUp if it can fetch them from nowhere. Each change is
// applied under its item's lock, so it never lands over a later write.
func (s *side) catchUp(ctx context.Context) error {
	if s.g.witness.count(s.Name) == 0 {
		return nil
	}
	via := s.relayPath(ctx)
	if via == nil {
		return errCatchingUp
	}
	for _, k := range s.g.witness.keys(s.Name) {
		if err := s.relayItem(ctx, k, via, false); err != nil {
			return err
		}
	}
	return nil
}

// catchUpItem relays the change of item k pending for the region, if any;
// the caller holds k's lock.
func (s *side) catchUpItem(ctx context.Context, k itemKey) error {
	if s.g.witness.get(s.Name, k) == nil {
		return nil
	}
	via := s.relayPath(ctx)
	if via == nil {
		return errCatchingUp
	}
	return s.relayItem(ctx, k, via, true)
}

// relayItem applies the change of item k pending for the region through
// via, taking k's lock unless held.
func (s *side) relayItem(ctx context.Context, k itemKey, via *dynamodb.Client, held bool) error {
	if !held {
		release, err := s.g.locks.wait(ctx, k)
		if err != nil {
			return err
		}
		defer release()
	}
	c := s.g.witness.get(s.Name, k)
	if c == nil {
		return nil // relayed meanwhile, or superseded by a direct write
	}
	timeout := s.g.cfg.LinkTimeout
	if via == s.local {
		timeout = localTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := s.apply(cctx, via, c.key, c.item)
	if ctx.Err() != nil {
		return ctx.Err() // the caller gave up; the change stays pending
	}
	if via == s.link {
		s.linkHealth.observe(err)
	}
	if err != nil {
		err = fmt.Errorf("strongtable: relay a write of %s to %s: %w", c.from, s.Name, err)
		s.g.cfg.OnError(err)
		return errors.Join(errCatchingUp, err)
	}
	s.g.witness.done(s.Name, k, c)
	s.g.stats.add(s.Name, func(c *regionCounts) { c.Relayed++ })
	s.g.witness.relayed(relay{from: c.from, acked: c.acked, applied: time.Now()})
	return nil
}

// relayed records r for RelayedAfter.
func (w *witness) relayed(r relay) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.relays = append(w.relays, r)
}

// RelayedAfter counts the writes acknowledged in region from at or before
// at that the other replica took from the witness's log only after at:
// had from been lost for good at that instant, the witness — not the other
// replica — held them, and they were not lost (under MREC they would have
// been: replication.Stranded).
func (g *Group) RelayedAfter(from string, at time.Time) int64 {
	g.witness.mu.Lock()
	defer g.witness.mu.Unlock()
	var n int64
	for _, r := range g.witness.relays {
		if r.from == from && !r.acked.After(at) && r.applied.After(at) {
			n++
		}
	}
	return n
}
