package strongtable

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// targetPrefix starts the X-Amz-Target of every DynamoDB API call.
const targetPrefix = "DynamoDB_20120810."

// kind is what a DynamoDB request does to the table.
type kind int

const (
	// passThrough: not the table's, or not data (DescribeTable, UpdateTable…):
	// passed through unchanged.
	passThrough kind = iota
	// write: PutItem, UpdateItem or DeleteItem of one item of the table.
	write
	// read: GetItem, Query, Scan or BatchGetItem reading the table.
	read
	// unsupported: a call on the table the group does not replicate
	// (doc.go, faithfulness limits).
	unsupported
)

// request is what the proxy needs to know of a DynamoDB request.
type request struct {
	op   string
	kind kind
	// key is the item's key, for item operations (nil if the request
	// names none: moto answers its ValidationException).
	key    map[string]types.AttributeValue
	keyStr itemKey
	// consistent: ConsistentRead true (for BatchGetItem, the table's entry).
	consistent bool
	// why says, for unsupported, what is not emulated.
	why string
}

// classify reads a DynamoDB request's operation and body. A body that is
// not valid JSON is passed through: moto answers it as DynamoDB would.
func (g *Group) classify(target string, body []byte) request {
	op := strings.TrimPrefix(target, targetPrefix)
	req := request{op: op}
	var in struct {
		TableName      string
		Item           map[string]json.RawMessage
		Key            map[string]json.RawMessage
		ConsistentRead bool
		RequestItems   map[string]json.RawMessage
		TransactItems  []map[string]struct{ TableName string }
		Statement      string
		Statements     []struct{ Statement string }
		// ExecuteTransaction's statements.
		TransactStatements []struct{ Statement string }
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return req
	}
	switch op {
	case "PutItem", "UpdateItem", "DeleteItem", "GetItem":
		if !g.isTable(in.TableName) {
			return req
		}
		attrs := in.Key
		if op == "PutItem" {
			attrs = in.Item
		}
		req.key, req.keyStr = g.keyOf(attrs)
		req.kind = write
		if op == "GetItem" {
			req.kind, req.consistent = read, in.ConsistentRead
		}
	case "Query", "Scan":
		if g.isTable(in.TableName) {
			req.kind, req.consistent = read, in.ConsistentRead
		}
	case "BatchGetItem":
		for name, raw := range in.RequestItems {
			if g.isTable(name) {
				var ka struct{ ConsistentRead bool }
				_ = json.Unmarshal(raw, &ka)
				req.kind, req.consistent = read, ka.ConsistentRead
			}
		}
	case "BatchWriteItem":
		for name := range in.RequestItems {
			if g.isTable(name) {
				req.kind, req.why = unsupported, "BatchWriteItem is not replicated by the twin's MRSC table; write items one by one"
			}
		}
	case "TransactWriteItems", "TransactGetItems":
		for _, ti := range in.TransactItems {
			for _, a := range ti {
				if g.isTable(a.TableName) {
					req.kind, req.why = unsupported, "MRSC global tables do not support transaction operations"
				}
			}
		}
	case "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction":
		stmts := []string{in.Statement}
		for _, s := range in.Statements {
			stmts = append(stmts, s.Statement)
		}
		for _, s := range in.TransactStatements {
			stmts = append(stmts, s.Statement)
		}
		for _, s := range stmts {
			if strings.Contains(s, g.cfg.Table) {
				req.kind, req.why = unsupported, "PartiQL is not replicated by the twin's MRSC table; use the item operations"
			}
		}
	}
	return req
}

// isTable reports whether a request's TableName (a name or an ARN) is the
// group's table.
func (g *Group) isTable(name string) bool {
	return name == g.cfg.Table || strings.HasSuffix(name, ":table/"+g.cfg.Table)
}

// keyOf picks the key attributes out of an item or a Key, in SDK form and
// canonical form; nil if one is missing or not a key type (S, N, B).
func (g *Group) keyOf(attrs map[string]json.RawMessage) (map[string]types.AttributeValue, itemKey) {
	names := []string{g.cfg.PartitionKey}
	if g.cfg.SortKey != "" {
		names = append(names, g.cfg.SortKey)
	}
	key := map[string]types.AttributeValue{}
	var canon strings.Builder
	for _, n := range names {
		raw, ok := attrs[n]
		if !ok {
			return nil, ""
		}
		av, s, err := keyValue(raw)
		if err != nil {
			return nil, ""
		}
		key[n] = av
		fmt.Fprintf(&canon, "%s\x00", s)
	}
	return key, itemKey(canon.String())
}

// keyValue decodes a key attribute value of the wire format ({"S":"…"},
// {"N":"…"} or {"B":"<base64>"}).
func keyValue(raw json.RawMessage) (types.AttributeValue, string, error) {
	var v map[string]string
	if err := json.Unmarshal(raw, &v); err != nil || len(v) != 1 {
		return nil, "", fmt.Errorf("not a key attribute value: %s", raw)
	}
	for t, s := range v {
		switch t {
		case "S":
			return &types.AttributeValueMemberS{Value: s}, "S:" + s, nil
		case "N":
			return &types.AttributeValueMemberN{Value: s}, "N:" + s, nil
		case "B":
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, "", err
			}
			return &types.AttributeValueMemberB{Value: b}, "B:" + s, nil
		}
	}
	return nil, "", fmt.Errorf("not a key attribute value: %s", raw)
}
