package store

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tap-trading/tap/internal/schema"
)

// WithConsistency returns a copy of s for a table in consistency mode c
// (DESIGN §3, strong consistency). New's Store is for schema.Eventual; only
// schema.Strong changes anything, and any other value means eventual.
//
// That default is the safe one: what Apply does under eventual consistency
// is also correct on a table with multi-Region strong consistency — it only
// reads and defers where that table has no need to — while strong mode
// relies on conditional writes that every region evaluates against the
// latest version, which an eventually consistent global table does not give.
func (s *Store) WithConsistency(c schema.Consistency) *Store {
	cp := *s
	cp.strong = c == schema.Strong
	return &cp
}

// replicatedWriteConflict is the error code DynamoDB answers a write with
// when another region is writing the same item of a table with multi-Region
// strong consistency.
var replicatedWriteConflict = (&types.ReplicatedWriteConflictException{}).ErrorCode()

// RetryReplicatedWriteConflicts makes a DynamoDB client's retryer retry
// ReplicatedWriteConflictException, with the retryer's own backoff and
// attempts, as it retries throttling and server errors. Pass it to
// dynamodb.NewFromConfig (or dynamodb.New), which resolve the retryer
// before they apply their options.
//
// The SDK does not retry it by default: it is a client fault (HTTP 400).
// But the write it refuses was not applied, and the conflict lasts only
// while the other region's write to the item is in flight, so retrying the
// same request after a backoff is both safe and what resolves it; every
// write the store makes is conditional and idempotent (DESIGN §3). On a
// table with eventual consistency the error never occurs, so the processor
// sets this whatever the mode.
func RetryReplicatedWriteConflicts(o *dynamodb.Options) {
	o.Retryer = retry.AddWithErrorCodes(o.Retryer, replicatedWriteConflict)
}

// Transient write failures that the SDK's retries did not overcome, named so
// that the error the processor returns — and Lambda's on-failure record,
// which carries its text to the processing DLQ — says what happened. Apply
// and RecordHeartbeat wrap them (errors.Is finds them) around the SDK's
// error; like every error they return, they are transient.
var (
	// ErrReplicatedWriteConflict: another region kept writing the same item
	// (ReplicatedWriteConflictException, multi-Region strong consistency)
	// through every retry.
	ErrReplicatedWriteConflict = errors.New("replicated write conflict: another region was writing the same item through every retry (ReplicatedWriteConflictException); once the other region has stopped writing it, redrive the event: tapctl dlq redrive --queue processing")
	// ErrWriteNotAccepted: under multi-Region strong consistency, the table
	// answered the write with a server error through every retry — as a
	// region does while it cannot reach a quorum of the global table's
	// regions, when it refuses writes.
	ErrWriteNotAccepted = errors.New("write not accepted by the strongly consistent table: server errors through every retry (a region that cannot reach a quorum of the global table's regions refuses writes); once the region reaches its quorum again, redrive the event: tapctl dlq redrive --queue processing")
)

// writeFailure names err, a write's error other than a failed condition,
// when it is one of the failures above; otherwise it returns err.
func (s *Store) writeFailure(err error) error {
	var conflict *types.ReplicatedWriteConflictException
	if errors.As(err, &conflict) {
		return fmt.Errorf("%w: %w", ErrReplicatedWriteConflict, err)
	}
	var resp *awshttp.ResponseError
	if s.strong && errors.As(err, &resp) && resp.HTTPStatusCode() >= 500 {
		return fmt.Errorf("%w: %w", ErrWriteNotAccepted, err)
	}
	return err
}
