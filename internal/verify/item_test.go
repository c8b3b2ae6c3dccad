package verify

import (
	"hash/maphash"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestValuesCompareAsDynamoDBMeansThem(t *testing.T) {
	ss := func(v ...string) types.AttributeValue { return &types.AttributeValueMemberSS{Value: v} }
	ns := func(v ...string) types.AttributeValue { return &types.AttributeValueMemberNS{Value: v} }
	l := func(v ...types.AttributeValue) types.AttributeValue { return &types.AttributeValueMemberL{Value: v} }
	m := func(kv ...any) types.AttributeValue {
		out := map[string]types.AttributeValue{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1].(types.AttributeValue)
		}
		return &types.AttributeValueMemberM{Value: out}
	}
	b := func(p string) types.AttributeValue { return &types.AttributeValueMemberB{Value: []byte(p)} }
	for _, tt := range []struct {
		a, b types.AttributeValue
		same bool
	}{
		{n("1.50"), n("1.5"), true},
		{n("100"), n("1E2"), true},
		{n("0.00"), n("0"), true},
		{n("-0"), n("0"), true},
		{n("1.5"), n("1.51"), false},
		{n("5"), s("5"), false},
		{s("a"), s("a"), true},
		{s(""), &types.AttributeValueMemberNULL{Value: true}, false},
		{b("xy"), b("xy"), true},
		{b("xy"), s("xy"), false},
		{ss("a", "b"), ss("b", "a"), true},
		{ss("a", "b"), ss("a", "b", "c"), false},
		{ns("1.0", "2"), ns("2", "1"), true},
		{ss("a"), l(s("a")), false},
		{l(s("a"), s("b")), l(s("b"), s("a")), false},
		{m("x", n("1"), "y", s("z")), m("y", s("z"), "x", n("1.0")), true},
		{m("x", n("1")), m("x", n("1"), "y", s("")), false},
		// Length prefixes keep neighbours apart.
		{l(s("ab"), s("c")), l(s("a"), s("bc")), false},
		{&types.AttributeValueMemberBOOL{Value: true}, &types.AttributeValueMemberBOOL{Value: false}, false},
		{nil, nil, true},
		{nil, s(""), false},
	} {
		if got := sameValue(tt.a, tt.b); got != tt.same {
			t.Errorf("sameValue(%s, %s) = %v, want %v", str(render(tt.a)), str(render(tt.b)), got, tt.same)
		}
	}
}

func str(p *string) string {
	if p == nil {
		return "absent"
	}
	return *p
}

func TestItemHashIgnoresOnlyReplicationMetadata(t *testing.T) {
	h := &hasher{seed: maphash.MakeSeed()}
	base := item{"PK": s("A"), "v": n("1")}
	stamped := item{"PK": s("A"), "v": n("1.0"), "aws:rep:updatetime": n("1.5"), "aws:rep:updateregion": s("us-west-2"), "aws:rep:deleting": &types.AttributeValueMemberBOOL{}}
	if h.hash(base) != h.hash(stamped) {
		t.Error("an item stamped with aws:rep:* hashes unlike the same item without")
	}
	if other := (item{"PK": s("A"), "v": n("1"), "aws:rep:other": s("x")}); h.hash(base) == h.hash(other) {
		t.Error("an attribute outside the documented three is ignored")
	}
	// Names and values are framed: moving a character across the
	// boundary changes the hash.
	if h.hash(item{"ab": s("c")}) == h.hash(item{"a": s("bc")}) {
		t.Error("items {ab: c} and {a: bc} hash alike")
	}
}

func TestKeysRoundTrip(t *testing.T) {
	c := keyCodec{names: []string{"PK", "SK"}}
	for _, it := range []item{
		{"PK": s("ORDER#1"), "SK": s("EXEC#0000000001"), "other": s("x")},
		{"PK": s(""), "SK": n("42")},
		{"PK": &types.AttributeValueMemberB{Value: []byte{0, 1, 2}}, "SK": s("é")},
	} {
		k, err := c.encode(it)
		if err != nil {
			t.Fatal(err)
		}
		back := c.decode(k)
		if len(back) != 2 || !sameValue(back["PK"], it["PK"]) || !sameValue(back["SK"], it["SK"]) {
			t.Errorf("decode(encode(%v)) = %v", it, back)
		}
		if k2, _ := c.encode(back); k2 != k {
			t.Errorf("encode is not stable over decode for %v", it)
		}
	}
	if got := c.attrs(mustEncode(t, c, item{"PK": s("ORDER#1"), "SK": s("STATE")})); Key(got).String() != "PK=ORDER#1 SK=STATE" {
		t.Errorf("printable key %q", Key(got).String())
	}
	if _, err := c.encode(item{"PK": s("x")}); err == nil {
		t.Error("an item without its sort key encoded")
	}
}

func mustEncode(t *testing.T, c keyCodec, it item) string {
	t.Helper()
	k, err := c.encode(it)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAttributeDiffsNameWhatDiffers(t *testing.T) {
	a := item{"PK": s("A"), "status": s("FILLED"), "qty": n("5"), "aws:rep:updatetime": n("1")}
	b := item{"PK": s("A"), "status": s("NEW"), "qty": n("5.0"), "px": n("1.25"), "aws:rep:updatetime": n("2")}
	got := attributeDiffs(a, b)
	if len(got) != 2 || got[0].Name != "px" || got[0].A != nil || str(got[0].B) != "1.25" ||
		got[1].Name != "status" || str(got[1].A) != `"FILLED"` || str(got[1].B) != `"NEW"` {
		t.Errorf("attributeDiffs = %+v, want px (absent, 1.25) and status (\"FILLED\", \"NEW\")", got)
	}
}
