package strongtable

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// readItem reads an item from the region's replica through via, strongly
// consistent; nil if there is none.
func (s *side) readItem(ctx context.Context, via *dynamodb.Client, key map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := via.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.g.cfg.Table), Key: key, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// apply makes the region's replica hold item under key (nil: no item)
// through via: a whole-item put or a delete, as the quorum write ships the
// item's state rather than the request that made it.
func (s *side) apply(ctx context.Context, via *dynamodb.Client, key, item map[string]types.AttributeValue) error {
	table := aws.String(s.g.cfg.Table)
	if item == nil {
		_, err := via.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: key})
		return err
	}
	_, err := via.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: item})
	return err
}

// reachable reports whether the other region reaches this region over its
// link now: a call that succeeded within RelayEvery vouches for it; a link
// known down is down until the relay loop's probe finds it up (so a hanging
// link costs one LinkTimeout, not one per request); else a probe decides.
func (s *side) reachable(ctx context.Context) bool {
	switch {
	case s.linkHealth.fresh(s.g.cfg.RelayEvery):
		return true
	case s.linkHealth.isDown():
		return false
	}
	return s.probe(ctx)
}

// probe calls DescribeTable through the link, bounded by LinkTimeout, and
// reports whether the other region reached this one.
func (s *side) probe(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, s.g.cfg.LinkTimeout)
	defer cancel()
	_, err := s.link.DescribeTable(cctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.g.cfg.Table)})
	if ctx.Err() != nil {
		return false // the caller gave up: nothing learnt of the link
	}
	return s.linkHealth.observe(err)
}

// unreachable reports whether err says the far end was not reached (a
// refused, reset or timed-out connection) rather than answered: any
// DynamoDB error response, even a 500, proves the path works.
func unreachable(err error) bool {
	var api smithy.APIError
	return err != nil && !errors.As(err, &api)
}

// linkState is what the group last learnt of the path into a region from
// the other region.
type linkState struct {
	mu sync.Mutex
	// down: the last call through it failed. While down and the witness is
	// reachable, quorum writes skip the region (a failure detector: a
	// hanging link would otherwise cost every write LinkTimeout); the relay
	// loop probes it every RelayEvery.
	down   bool
	lastOK time.Time
}

// observe learns from a call through the link: up unless err says the far
// end was not reached. It reports whether the link is up.
func (l *linkState) observe(err error) bool {
	if unreachable(err) {
		l.failed()
		return false
	}
	l.ok()
	return true
}

func (l *linkState) ok() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down, l.lastOK = false, time.Now()
}

func (l *linkState) failed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down, l.lastOK = true, time.Time{}
}

func (l *linkState) isDown() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.down
}

// fresh reports whether a call succeeded within d and none failed since.
func (l *linkState) fresh(d time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.down && time.Since(l.lastOK) < d
}
