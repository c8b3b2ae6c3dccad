package strongtable

import (
	"context"
	"errors"
	"sync"
)

// errConflict is a write refused because a write from the other region is
// in flight on its item.
var errConflict = errors.New("item is being modified by a request in another region")

// itemKey is an item's primary key in canonical form (type and value of
// each key attribute), the same whatever JSON spelling a request used.
type itemKey string

// locks are the per-item locks both regions' proxies share: DynamoDB's MRSC
// coordination of writes to one item across regions, as far as the twin
// needs it (doc.go).
type locks struct {
	mu sync.Mutex
	m  map[itemKey]*lockEntry
}

// lockEntry is one item's lock: a one-slot semaphore and who holds or waits
// for it.
type lockEntry struct {
	sem chan struct{}
	// region is the region of the client writes holding or waiting for the
	// lock, while writers > 0.
	region  string
	writers int
	// refs counts everyone holding or waiting: writes, consistent reads
	// and relays. The entry is dropped at 0.
	refs int
}

// write takes item k's lock for a client write from region. A write from
// the other region holding or waiting for it fails the call with
// errConflict at once; writes from the same region wait their turn, as
// DynamoDB serializes them within a region.
func (l *locks) write(ctx context.Context, k itemKey, region string) (release func(), err error) {
	l.mu.Lock()
	e := l.entry(k)
	if e.writers > 0 && e.region != region {
		l.drop(k, e)
		l.mu.Unlock()
		return nil, errConflict
	}
	e.region = region
	e.writers++
	l.mu.Unlock()
	return l.acquire(ctx, k, e, true)
}

// wait takes item k's lock whoever holds it, waiting as long as it takes:
// strongly consistent reads and relays, which never conflict.
func (l *locks) wait(ctx context.Context, k itemKey) (release func(), err error) {
	l.mu.Lock()
	e := l.entry(k)
	l.mu.Unlock()
	return l.acquire(ctx, k, e, false)
}

// entry returns k's entry, counting the caller in. l.mu is held.
func (l *locks) entry(k itemKey) *lockEntry {
	e := l.m[k]
	if e == nil {
		e = &lockEntry{sem: make(chan struct{}, 1)}
		l.m[k] = e
	}
	e.refs++
	return e
}

// drop counts a caller out of k's entry, and removes it when unused. l.mu
// is held.
func (l *locks) drop(k itemKey, e *lockEntry) {
	e.refs--
	if e.refs == 0 {
		delete(l.m, k)
	}
}

func (l *locks) acquire(ctx context.Context, k itemKey, e *lockEntry, writer bool) (func(), error) {
	leave := func() {
		l.mu.Lock()
		if writer {
			e.writers--
		}
		l.drop(k, e)
		l.mu.Unlock()
	}
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
	return func() {
		<-e.sem
		leave()
	}, nil
}
