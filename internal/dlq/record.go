// Package dlq reads and redrives TAP's dead-letter queues. Three kinds of
// message end up in them, and a record of each kind is parsed into one Record
// holding the original event:
//   - the processor's own rejections (processing DLQ): the body is the
//     original EventBridge event, message attributes give the reason;
//   - Lambda's on-failure destination records (processing DLQ), written when
//     an asynchronous invocation ran out of retries or event age: the event
//     is the record's requestPayload;
//   - EventBridge's target dead-letter messages (delivery DLQ): the body is
//     the event, attributes ERROR_CODE and ERROR_MESSAGE say why.
//
// The local invoker writes the second kind with NewLambdaFailure, so the
// local pipeline's queues look exactly like the deployed ones.
package dlq

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Format is the kind of a dead-letter message.
type Format string

// Formats of dead-letter messages.
const (
	// FormatProcessor is the processor's rejection of a permanent failure.
	FormatProcessor Format = "processor"
	// FormatLambda is Lambda's on-failure destination record.
	FormatLambda Format = "lambda"
	// FormatDelivery is EventBridge's target dead-letter message.
	FormatDelivery Format = "delivery"
	// FormatUnknown is anything else; it is listed but never redriven.
	FormatUnknown Format = "unknown"
)

// Message attributes of the processor's rejections (DESIGN §4).
const (
	AttrReason   = "reason"
	AttrMessage  = "message"
	AttrRegion   = "region"
	AttrFailedAt = "failedAt"
	AttrEventID  = "eventId"
	AttrOrderID  = "orderId"
)

// Message attributes EventBridge sets on a target dead-letter message.
const (
	AttrEBErrorCode     = "ERROR_CODE"
	AttrEBErrorMessage  = "ERROR_MESSAGE"
	AttrEBRuleARN       = "RULE_ARN"
	AttrEBTargetARN     = "TARGET_ARN"
	AttrEBRetryAttempts = "RETRY_ATTEMPTS"
	AttrEBExhausted     = "EXHAUSTED_RETRY_CONDITION"
)

// Lambda on-failure conditions (requestContext.condition).
const (
	ConditionRetriesExhausted = "RetriesExhausted"
	ConditionEventAgeExceeded = "EventAgeExceeded"
)

// Record is one dead-letter message, parsed.
type Record struct {
	MessageID     string `json:"messageId"`
	ReceiptHandle string `json:"-"`
	Format        Format `json:"format"`
	// Reason is a code: the processor's reason, Lambda's condition, or
	// EventBridge's error code.
	Reason string `json:"reason"`
	// Message is the human-readable explanation, when there is one.
	Message string `json:"message,omitempty"`
	// EventID and OrderID are the detail's, when known.
	EventID string `json:"eventId,omitempty"`
	OrderID string `json:"orderId,omitempty"`
	// Region is where the event failed, when the record says.
	Region string `json:"region,omitempty"`
	// FailedAt is when the record says the event failed; SentAt is when the
	// message entered the queue.
	FailedAt time.Time `json:"failedAt,omitzero"`
	SentAt   time.Time `json:"sentAt,omitzero"`
	// ReceiveCount is SQS's ApproximateReceiveCount, this receive included.
	ReceiveCount int `json:"receiveCount"`
	// Attributes are the message attributes as strings.
	Attributes map[string]string `json:"attributes,omitempty"`
	// Event is the original EventBridge event; nil when the record holds
	// none (then the record cannot be redriven).
	Event json.RawMessage `json:"event,omitempty"`
}

// Age is how long the message has been in the queue at now.
func (r Record) Age(now time.Time) time.Duration {
	if r.SentAt.IsZero() {
		return 0
	}
	return now.Sub(r.SentAt)
}

// Parse parses one received SQS message (received with all message and
// system attributes) into a Record.
func Parse(m sqstypes.Message) Record {
	r := Record{
		MessageID:     aws.ToString(m.MessageId),
		ReceiptHandle: aws.ToString(m.ReceiptHandle),
		Attributes:    map[string]string{},
	}
	for k, v := range m.MessageAttributes {
		if v.StringValue != nil {
			r.Attributes[k] = *v.StringValue
		}
	}
	if ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		r.SentAt = time.UnixMilli(ms).UTC()
	}
	r.ReceiveCount, _ = strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])

	body := []byte(aws.ToString(m.Body))
	var lf LambdaFailure
	switch {
	case json.Unmarshal(body, &lf) == nil && lf.RequestContext.Condition != "" && len(lf.RequestPayload) > 0:
		r.Format = FormatLambda
		r.Reason = lf.RequestContext.Condition
		r.Message = lf.errorMessage()
		r.Event = lf.RequestPayload
		r.FailedAt, _ = time.Parse(time.RFC3339Nano, lf.Timestamp)
		r.Region = regionOfARN(lf.RequestContext.FunctionARN)
	case r.Attributes[AttrReason] != "":
		r.Format = FormatProcessor
		r.Reason = r.Attributes[AttrReason]
		r.Message = r.Attributes[AttrMessage]
		r.Region = r.Attributes[AttrRegion]
		r.FailedAt, _ = time.Parse(time.RFC3339Nano, r.Attributes[AttrFailedAt])
		r.EventID, r.OrderID = r.Attributes[AttrEventID], r.Attributes[AttrOrderID]
		if json.Valid(body) {
			r.Event = body
		}
	case r.Attributes[AttrEBErrorCode] != "" || r.Attributes[AttrEBRuleARN] != "":
		r.Format = FormatDelivery
		r.Reason = r.Attributes[AttrEBErrorCode]
		r.Message = r.Attributes[AttrEBErrorMessage]
		r.Region = regionOfARN(r.Attributes[AttrEBRuleARN])
		if json.Valid(body) {
			r.Event = body
		}
	default:
		r.Format = FormatUnknown
		r.Reason = "UNKNOWN_FORMAT"
		if ev, ok := asEvent(body); ok {
			r.Event = ev
		}
	}
	if r.Event != nil {
		if d, ok := detailIDs(r.Event); ok {
			r.EventID = first(r.EventID, d.EventID)
			r.OrderID = first(r.OrderID, d.OrderID)
		}
	}
	return r
}

// LambdaFailure is the record Lambda sends to an asynchronous invocation's
// on-failure destination.
type LambdaFailure struct {
	Version         string          `json:"version"`
	Timestamp       string          `json:"timestamp"`
	RequestContext  RequestContext  `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext ResponseContext `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload,omitempty"`
}

// RequestContext of a LambdaFailure.
type RequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// ResponseContext of a LambdaFailure: the last invocation's result.
type ResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// errorPayload is a Go Lambda function's error response.
type errorPayload struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

func (f LambdaFailure) errorMessage() string {
	var p errorPayload
	if json.Unmarshal(f.ResponsePayload, &p) == nil {
		return p.ErrorMessage
	}
	return ""
}

// NewLambdaFailure builds the on-failure record Lambda writes when an event
// has failed: condition (RetriesExhausted or EventAgeExceeded), the number of
// invocations made, the event, and the last invocation's error (nil if none
// was made).
func NewLambdaFailure(requestID, functionARN, condition string, invokes int, event json.RawMessage, lastErr error, at time.Time) LambdaFailure {
	f := LambdaFailure{
		Version:   "1.0",
		Timestamp: at.UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: RequestContext{
			RequestID:              requestID,
			FunctionARN:            functionARN + ":$LATEST",
			Condition:              condition,
			ApproximateInvokeCount: invokes,
		},
		RequestPayload:  event,
		ResponseContext: ResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST"},
	}
	if lastErr != nil {
		f.ResponseContext.FunctionError = "Unhandled"
		f.ResponsePayload, _ = json.Marshal(errorPayload{ErrorMessage: lastErr.Error(), ErrorType: errorType(lastErr)})
	}
	return f
}

// errorType names an error's dynamic type as the Go Lambda runtime does
// (e.g. "errorString", "wrapError").
func errorType(err error) string {
	t := typeName(err)
	for i := len(t) - 1; i >= 0; i-- {
		if t[i] == '.' {
			return t[i+1:]
		}
	}
	return t
}

func typeName(err error) string { return strings.TrimLeft(fmt.Sprintf("%T", err), "*") }

// ids are the detail fields a record is indexed by.
type ids struct {
	EventID string `json:"eventId"`
	OrderID string `json:"orderId"`
}

// detailIDs reads the detail's eventId and orderId from an event.
func detailIDs(ev json.RawMessage) (ids, bool) {
	var e struct {
		Detail ids `json:"detail"`
	}
	if json.Unmarshal(ev, &e) != nil {
		return ids{}, false
	}
	return e.Detail, true
}

// asEvent reports whether body is an EventBridge event (has detail-type).
func asEvent(body []byte) (json.RawMessage, bool) {
	var e struct {
		DetailType *string `json:"detail-type"`
	}
	if json.Unmarshal(body, &e) != nil || e.DetailType == nil {
		return nil, false
	}
	return body, true
}

// regionOfARN is the region field of an ARN, or "".
func regionOfARN(arn string) string {
	field, start := 0, 0
	for i := 0; i < len(arn); i++ {
		if arn[i] != ':' {
			continue
		}
		if field == 3 {
			return arn[start:i]
		}
		field++
		start = i + 1
	}
	return ""
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
