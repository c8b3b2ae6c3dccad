package replication

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cockroachdb/apd/v3"
)

// Diff is how two replicas of a table differ, item by item, every
// attribute compared.
type Diff struct {
	// ItemsA and ItemsB count the items of each replica.
	ItemsA, ItemsB int
	// OnlyA and OnlyB are the keys of items only one replica holds; Differ
	// those both hold with different attributes. Keys are printed
	// "name=type:value" pairs, sorted.
	OnlyA, OnlyB, Differ []string
}

// Identical reports whether the replicas hold the same items.
func (d Diff) Identical() bool {
	return len(d.OnlyA) == 0 && len(d.OnlyB) == 0 && len(d.Differ) == 0
}

// String summarizes the diff, naming up to five keys of each kind.
func (d Diff) String() string {
	if d.Identical() {
		return fmt.Sprintf("identical (%d items)", d.ItemsA)
	}
	some := func(keys []string) string {
		if len(keys) > 5 {
			return strings.Join(keys[:5], "; ") + fmt.Sprintf("; … %d more", len(keys)-5)
		}
		return strings.Join(keys, "; ")
	}
	var parts []string
	for _, p := range []struct {
		what string
		keys []string
	}{{"only in A", d.OnlyA}, {"only in B", d.OnlyB}, {"different", d.Differ}} {
		if len(p.keys) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s (%s)", len(p.keys), p.what, some(p.keys)))
		}
	}
	return fmt.Sprintf("A %d items, B %d items: %s", d.ItemsA, d.ItemsB, strings.Join(parts, ", "))
}

// Compare scans table in both replicas (strongly consistent) and compares
// them item by item, every attribute (the replicator writes none of its
// own).
func Compare(ctx context.Context, a, b *dynamodb.Client, table string) (Diff, error) {
	itemsA, err := scanAll(ctx, a, table)
	if err != nil {
		return Diff{}, fmt.Errorf("replication: compare, replica A: %w", err)
	}
	itemsB, err := scanAll(ctx, b, table)
	if err != nil {
		return Diff{}, fmt.Errorf("replication: compare, replica B: %w", err)
	}
	d := Diff{ItemsA: len(itemsA), ItemsB: len(itemsB)}
	for k, ia := range itemsA {
		ib, ok := itemsB[k]
		switch {
		case !ok:
			d.OnlyA = append(d.OnlyA, printableKey(k))
		case !equalItems(ia, ib):
			d.Differ = append(d.Differ, printableKey(k))
		}
	}
	for k := range itemsB {
		if _, ok := itemsA[k]; !ok {
			d.OnlyB = append(d.OnlyB, printableKey(k))
		}
	}
	slices.Sort(d.OnlyA)
	slices.Sort(d.OnlyB)
	slices.Sort(d.Differ)
	return d, nil
}

// scanAll reads every item of table by its key.
func scanAll(ctx context.Context, db *dynamodb.Client, table string) (map[string]map[string]ddbtypes.AttributeValue, error) {
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	var keyNames []string
	for _, k := range desc.Table.KeySchema {
		keyNames = append(keyNames, deref(k.AttributeName))
	}
	items := map[string]map[string]ddbtypes.AttributeValue{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: &table, ConsistentRead: boolPtr(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", table, err)
		}
		for _, it := range page.Items {
			keys := make(map[string]ddbtypes.AttributeValue, len(keyNames))
			for _, n := range keyNames {
				keys[n] = it[n]
			}
			items[itemKey(keys)] = it
		}
	}
	return items, nil
}

// equalItems compares two items attribute by attribute; numbers by value.
func equalItems(a, b map[string]ddbtypes.AttributeValue) bool {
	if len(a) != len(b) {
		return false
	}
	for n, va := range a {
		vb, ok := b[n]
		if !ok || !equalValues(va, vb) {
			return false
		}
	}
	return true
}

func equalValues(a, b ddbtypes.AttributeValue) bool {
	switch va := a.(type) {
	case *ddbtypes.AttributeValueMemberS:
		vb, ok := b.(*ddbtypes.AttributeValueMemberS)
		return ok && va.Value == vb.Value
	case *ddbtypes.AttributeValueMemberN:
		vb, ok := b.(*ddbtypes.AttributeValueMemberN)
		return ok && equalNumbers(va.Value, vb.Value)
	case *ddbtypes.AttributeValueMemberB:
		vb, ok := b.(*ddbtypes.AttributeValueMemberB)
		return ok && bytes.Equal(va.Value, vb.Value)
	case *ddbtypes.AttributeValueMemberBOOL:
		vb, ok := b.(*ddbtypes.AttributeValueMemberBOOL)
		return ok && va.Value == vb.Value
	case *ddbtypes.AttributeValueMemberNULL:
		vb, ok := b.(*ddbtypes.AttributeValueMemberNULL)
		return ok && va.Value == vb.Value
	case *ddbtypes.AttributeValueMemberL:
		vb, ok := b.(*ddbtypes.AttributeValueMemberL)
		return ok && slices.EqualFunc(va.Value, vb.Value, equalValues)
	case *ddbtypes.AttributeValueMemberM:
		vb, ok := b.(*ddbtypes.AttributeValueMemberM)
		return ok && equalItems(va.Value, vb.Value)
	case *ddbtypes.AttributeValueMemberSS:
		vb, ok := b.(*ddbtypes.AttributeValueMemberSS)
		return ok && sameSet(va.Value, vb.Value, func(x, y string) bool { return x == y })
	case *ddbtypes.AttributeValueMemberNS:
		vb, ok := b.(*ddbtypes.AttributeValueMemberNS)
		return ok && sameSet(va.Value, vb.Value, equalNumbers)
	case *ddbtypes.AttributeValueMemberBS:
		vb, ok := b.(*ddbtypes.AttributeValueMemberBS)
		return ok && sameSet(va.Value, vb.Value, bytes.Equal)
	}
	return false
}

// sameSet compares two DynamoDB sets, whose order means nothing.
func sameSet[T any](a, b []T, eq func(T, T) bool) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y T) bool { return eq(x, y) }) {
			return false
		}
	}
	return true
}

// equalNumbers compares two DynamoDB numbers by value ("1.50" = "1.5").
func equalNumbers(a, b string) bool {
	if a == b {
		return true
	}
	x, _, errA := apd.NewFromString(a)
	y, _, errB := apd.NewFromString(b)
	return errA == nil && errB == nil && x.Cmp(y) == 0
}
