package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cockroachdb/apd/v3"
)

// IgnoredAttributes are the attributes global tables version 2017.11.29
// (legacy) add to every item, with values of their own in each region
// ("Global tables: How it works", version 2017.11.29,
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/globaltables_HowItWorks.html).
// They are left out of every comparison. Version 2019.11.21 adds none.
var IgnoredAttributes = []string{"aws:rep:deleting", "aws:rep:updatetime", "aws:rep:updateregion"}

func ignored(name string) bool { return slices.Contains(IgnoredAttributes, name) }

// item is one DynamoDB item.
type item = map[string]types.AttributeValue

// hasher reduces items to a hash of their canonical encoding; one per
// goroutine (it reuses its buffer), all of a run with the run's seed so
// that equal items hash equal in either replica.
type hasher struct {
	seed maphash.Seed
	buf  []byte
}

// hash is the hash of it without the ignored attributes.
func (h *hasher) hash(it item) uint64 {
	h.buf = appendItem(h.buf[:0], it)
	return maphash.Bytes(h.seed, h.buf)
}

// appendItem appends the canonical encoding of it, ignored attributes
// left out: names sorted, each with its value.
func appendItem(b []byte, it item) []byte {
	names := make([]string, 0, len(it))
	for n := range it {
		if !ignored(n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		b = appendBytes(b, []byte(n))
		b = appendValue(b, it[n])
	}
	return b
}

// appendValue appends the canonical encoding of v: equal values as
// DynamoDB means them (numbers by value, sets and maps in any order) encode
// alike, and different values differently (every part length-prefixed and
// typed).
func appendValue(b []byte, v types.AttributeValue) []byte {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return appendBytes(append(b, 'S'), []byte(v.Value))
	case *types.AttributeValueMemberN:
		return appendBytes(append(b, 'N'), []byte(canonicalNumber(v.Value)))
	case *types.AttributeValueMemberB:
		return appendBytes(append(b, 'B'), v.Value)
	case *types.AttributeValueMemberBOOL:
		if v.Value {
			return append(b, 'T')
		}
		return append(b, 'F')
	case *types.AttributeValueMemberNULL:
		return append(b, '0')
	case *types.AttributeValueMemberL:
		b = binary.AppendUvarint(append(b, 'L'), uint64(len(v.Value)))
		for _, e := range v.Value {
			b = appendValue(b, e)
		}
		return b
	case *types.AttributeValueMemberM:
		names := make([]string, 0, len(v.Value))
		for n := range v.Value {
			names = append(names, n)
		}
		slices.Sort(names)
		b = binary.AppendUvarint(append(b, 'M'), uint64(len(names)))
		for _, n := range names {
			b = appendBytes(b, []byte(n))
			b = appendValue(b, v.Value[n])
		}
		return b
	case *types.AttributeValueMemberSS:
		return appendSet(append(b, 's'), v.Value, func(s string) []byte { return []byte(s) })
	case *types.AttributeValueMemberNS:
		return appendSet(append(b, 'n'), v.Value, func(s string) []byte { return []byte(canonicalNumber(s)) })
	case *types.AttributeValueMemberBS:
		return appendSet(append(b, 'b'), v.Value, func(p []byte) []byte { return p })
	}
	// A type this SDK does not know: its Go rendering, so two unknowns
	// compare by what they print.
	return appendBytes(append(b, '?'), fmt.Appendf(nil, "%T%#v", v, v))
}

// appendSet appends a set's elements in sorted order.
func appendSet[T any](b []byte, set []T, enc func(T) []byte) []byte {
	els := make([][]byte, len(set))
	for i, e := range set {
		els[i] = enc(e)
	}
	slices.SortFunc(els, bytes.Compare)
	b = binary.AppendUvarint(b, uint64(len(els)))
	for _, e := range els {
		b = appendBytes(b, e)
	}
	return b
}

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// canonicalNumber is a DynamoDB number's text with its value's one
// spelling ("1.50", "1.5" and "15E-1" are all "1.5"); text that is not a
// number stays as it is.
func canonicalNumber(s string) string {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		return s
	}
	if d.IsZero() {
		return "0"
	}
	d.Reduce(d)
	return d.String()
}

// sameValue reports whether two attribute values (nil: absent) are equal
// as DynamoDB means them.
func sameValue(a, b types.AttributeValue) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return bytes.Equal(appendValue(nil, a), appendValue(nil, b))
}

// attributeDiffs lists the attributes two items (nil: absent) differ in,
// by name, ignored attributes left out.
func attributeDiffs(a, b item) []AttributeDiff {
	names := map[string]bool{}
	for n := range a {
		names[n] = true
	}
	for n := range b {
		names[n] = true
	}
	var diffs []AttributeDiff
	for _, n := range slices.Sorted(maps.Keys(names)) {
		if ignored(n) || sameValue(a[n], b[n]) {
			continue
		}
		diffs = append(diffs, AttributeDiff{Name: n, A: render(a[n]), B: render(b[n])})
	}
	return diffs
}

// render prints a value as JSON (strings quoted, numbers bare, binary in
// base64, sets as arrays); nil for an absent one.
func render(v types.AttributeValue) *string {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(plain(v))
	s := string(b)
	if err != nil {
		s = fmt.Sprintf("%v", v)
	}
	return &s
}

// plain is v as a Go value encoding/json renders the DynamoDB way.
func plain(v types.AttributeValue) any {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return json.Number(v.Value)
	case *types.AttributeValueMemberB:
		return base64.StdEncoding.EncodeToString(v.Value)
	case *types.AttributeValueMemberBOOL:
		return v.Value
	case *types.AttributeValueMemberNULL:
		return nil
	case *types.AttributeValueMemberL:
		out := make([]any, len(v.Value))
		for i, e := range v.Value {
			out[i] = plain(e)
		}
		return out
	case *types.AttributeValueMemberM:
		out := make(map[string]any, len(v.Value))
		for n, e := range v.Value {
			out[n] = plain(e)
		}
		return out
	case *types.AttributeValueMemberSS:
		return v.Value
	case *types.AttributeValueMemberNS:
		out := make([]json.Number, len(v.Value))
		for i, e := range v.Value {
			out[i] = json.Number(e)
		}
		return out
	case *types.AttributeValueMemberBS:
		out := make([]string, len(v.Value))
		for i, e := range v.Value {
			out[i] = base64.StdEncoding.EncodeToString(e)
		}
		return out
	}
	return fmt.Sprintf("%v", v)
}

// keyCodec turns an item's key attributes into a compact map key and back.
type keyCodec struct{ names []string }

var errNoKey = errors.New("item without key attribute")

// encode is the map key of it: each key attribute's type and value,
// length-prefixed. Key attributes are strings, numbers or binary.
func (c keyCodec) encode(it item) (string, error) {
	var b []byte
	for _, n := range c.names {
		switch v := it[n].(type) {
		case *types.AttributeValueMemberS:
			b = appendBytes(append(b, 'S'), []byte(v.Value))
		case *types.AttributeValueMemberN:
			b = appendBytes(append(b, 'N'), []byte(v.Value))
		case *types.AttributeValueMemberB:
			b = appendBytes(append(b, 'B'), v.Value)
		case nil:
			return "", fmt.Errorf("%w %s (the table's key is %s)", errNoKey, n, strings.Join(c.names, ", "))
		default:
			return "", fmt.Errorf("key attribute %s is a %T, not a string, number or binary", n, v)
		}
	}
	return string(b), nil
}

// decode is the key attributes of a map key from encode.
func (c keyCodec) decode(k string) item {
	key := make(item, len(c.names))
	b := []byte(k)
	for _, n := range c.names {
		t := b[0]
		l, w := binary.Uvarint(b[1:])
		v := b[1+w : 1+w+int(l)]
		b = b[1+w+int(l):]
		switch t {
		case 'S':
			key[n] = &types.AttributeValueMemberS{Value: string(v)}
		case 'N':
			key[n] = &types.AttributeValueMemberN{Value: string(v)}
		case 'B':
			key[n] = &types.AttributeValueMemberB{Value: slices.Clone(v)}
		}
	}
	return key
}

// attrs is the printable key of a map key from encode.
func (c keyCodec) attrs(k string) []KeyAttribute {
	key := c.decode(k)
	out := make([]KeyAttribute, 0, len(c.names))
	for _, n := range c.names {
		var s string
		switch v := key[n].(type) {
		case *types.AttributeValueMemberS:
			s = v.Value
		case *types.AttributeValueMemberN:
			s = v.Value
		case *types.AttributeValueMemberB:
			s = base64.StdEncoding.EncodeToString(v.Value)
		}
		out = append(out, KeyAttribute{Name: n, Value: s})
	}
	return out
}

// itemSize estimates an item's size as DynamoDB counts it (names and
// values; numbers at most 21 bytes), for the rare answer without
// ConsumedCapacity.
func itemSize(it item) int {
	n := 0
	for name, v := range it {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return min(21, len(v.Value)/2+2)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, e := range v.Value {
			n += len(e)
		}
		return n
	case *types.AttributeValueMemberNS:
		return 21 * len(v.Value)
	case *types.AttributeValueMemberBS:
		n := 0
		for _, e := range v.Value {
			n += len(e)
		}
		return n
	}
	return 1
}
