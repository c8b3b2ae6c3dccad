package eventbus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
)

// Pattern is a compiled EventBridge event pattern (EventBridge User Guide,
// "Amazon EventBridge event patterns" and "Comparison operators for use in
// event patterns",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html,
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html):
//
//   - every field of the pattern must match (and); "$or" takes a list of
//     patterns of which one must match;
//   - a field whose pattern is an object matches the event's field of that
//     name, an object, against it; through an array of objects, every
//     element counts;
//   - a field whose pattern is an array matches if any of the event's
//     values there (the value, or any element of an array) matches any of
//     the array's filters: a string, number, true, false or null (equal;
//     numbers by value), or an object with one of prefix, suffix,
//     equals-ignore-case, wildcard, anything-but, numeric, exists, cidr;
//   - a field the event lacks matches only {"exists": false}.
//
// An operator it does not know fails CompilePattern, so a rule is never
// matched by a guess.
type Pattern struct {
	root object
	text string
}

// String is the pattern's source text.
func (p *Pattern) String() string { return p.text }

// object is a pattern object: fields all of which must match, and "$or"
// alternatives one of which must.
type object struct {
	fields []field
	or     [][]object // each $or: its alternatives
}

type field struct {
	name   string
	nested *object  // an object pattern
	leaf   []filter // an array of filters
}

// filter matches one value of the event (exists, which matches the field
// rather than a value, is handled by leafMatches).
type filter interface {
	match(v any) bool
}

// CompilePattern parses an EventBridge event pattern.
func CompilePattern(pattern string) (*Pattern, error) {
	var raw any
	d := json.NewDecoder(strings.NewReader(pattern))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
		return nil, fmt.Errorf("event pattern %s: %w", pattern, err)
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("event pattern %s: not a JSON object", pattern)
	}
	o, err := compileObject(m, "")
	if err != nil {
		return nil, fmt.Errorf("event pattern %s: %w", pattern, err)
	}
	return &Pattern{root: o, text: pattern}, nil
}

func compileObject(m map[string]any, path string) (object, error) {
	var o object
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		at := join(path, k)
		switch v := m[k].(type) {
		case map[string]any:
			n, err := compileObject(v, at)
			if err != nil {
				return o, err
			}
			o.fields = append(o.fields, field{name: k, nested: &n})
		case []any:
			if k == "$or" {
				var alts []object
				for _, a := range v {
					am, ok := a.(map[string]any)
					if !ok {
						return o, fmt.Errorf("%s: $or takes a list of patterns", at)
					}
					n, err := compileObject(am, path)
					if err != nil {
						return o, err
					}
					alts = append(alts, n)
				}
				if len(alts) == 0 {
					return o, fmt.Errorf("%s: empty $or", at)
				}
				o.or = append(o.or, alts)
				continue
			}
			fs, err := compileFilters(v, at)
			if err != nil {
				return o, err
			}
			o.fields = append(o.fields, field{name: k, leaf: fs})
		default:
			return o, fmt.Errorf("%s: want an object or an array of values, got %s", at, jsonText(v))
		}
	}
	return o, nil
}

func compileFilters(vs []any, at string) ([]filter, error) {
	if len(vs) == 0 {
		return nil, fmt.Errorf("%s: empty array", at)
	}
	fs := make([]filter, 0, len(vs))
	for _, v := range vs {
		f, err := compileFilter(v, at)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return fs, nil
}

func compileFilter(v any, at string) (filter, error) {
	switch x := v.(type) {
	case nil, string, bool:
		return equals{x}, nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("%s: number %s: %w", at, x, err)
		}
		return equals{f}, nil
	case map[string]any:
		if len(x) != 1 {
			return nil, fmt.Errorf("%s: a filter object has one operator, got %s", at, jsonText(x))
		}
		for op, arg := range x {
			return compileOperator(op, arg, at)
		}
	}
	return nil, fmt.Errorf("%s: unsupported filter %s", at, jsonText(v))
}

func compileOperator(op string, arg any, at string) (filter, error) {
	bad := func() (filter, error) { return nil, fmt.Errorf("%s: bad %s argument %s", at, op, jsonText(arg)) }
	switch op {
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return bad()
		}
		return exists(b), nil
	case "prefix", "suffix":
		s, fold, ok := stringOrIgnoreCase(arg)
		if !ok {
			return bad()
		}
		return affix{suffix: op == "suffix", s: s, fold: fold}, nil
	case "equals-ignore-case":
		ss, ok := strings1(arg)
		if !ok {
			return bad()
		}
		return ignoreCase(ss), nil
	case "wildcard":
		ss, ok := strings1(arg)
		if !ok {
			return bad()
		}
		return wildcard(ss), nil
	case "numeric":
		n, err := compileNumeric(arg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		return n, nil
	case "cidr":
		s, ok := arg.(string)
		if !ok {
			return bad()
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s: cidr %q: %w", at, s, err)
		}
		return cidr{p.Masked()}, nil
	case "anything-but":
		var inner filter
		switch a := arg.(type) {
		case string, json.Number:
			f, err := compileFilter(a, at)
			if err != nil {
				return nil, err
			}
			inner = f
		case []any:
			fs := make(anyOf, 0, len(a))
			for _, e := range a {
				switch e.(type) {
				case string, json.Number:
				default:
					return bad()
				}
				f, err := compileFilter(e, at)
				if err != nil {
					return nil, err
				}
				fs = append(fs, f)
			}
			if len(fs) == 0 {
				return bad()
			}
			inner = fs
		case map[string]any:
			if len(a) != 1 {
				return bad()
			}
			for k := range a {
				switch k {
				case "prefix", "suffix", "equals-ignore-case", "wildcard":
				default:
					return nil, fmt.Errorf("%s: anything-but with %s is not supported", at, k)
				}
			}
			f, err := compileFilter(a, at)
			if err != nil {
				return nil, err
			}
			inner = f
		default:
			return bad()
		}
		return anythingBut{inner}, nil
	}
	return nil, fmt.Errorf("%s: unsupported operator %q", at, op)
}

// Matches reports whether event, an EventBridge event as JSON, matches p.
func (p *Pattern) Matches(event []byte) (bool, error) {
	var ev any
	d := json.NewDecoder(bytes.NewReader(event))
	d.UseNumber()
	if err := d.Decode(&ev); err != nil {
		return false, fmt.Errorf("event: %w", err)
	}
	m, ok := ev.(map[string]any)
	if !ok {
		return false, errors.New("event: not a JSON object")
	}
	return p.root.matches([]map[string]any{m}), nil
}

// matches reports whether o matches at the event objects nodes (several
// when the path went through an array of objects).
func (o object) matches(nodes []map[string]any) bool {
	for _, f := range o.fields {
		var values []any
		present := false
		for _, n := range nodes {
			if v, ok := n[f.name]; ok {
				present = true
				values = appendFlat(values, v)
			}
		}
		if f.nested != nil {
			var children []map[string]any
			for _, v := range values {
				if c, ok := v.(map[string]any); ok {
					children = append(children, c)
				}
			}
			if !f.nested.matches(children) {
				return false
			}
			continue
		}
		if !leafMatches(f.leaf, present, values) {
			return false
		}
	}
	for _, alts := range o.or {
		ok := false
		for _, a := range alts {
			if a.matches(nodes) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// appendFlat appends v, or the elements of v if it is an array.
func appendFlat(values []any, v any) []any {
	if a, ok := v.([]any); ok {
		for _, e := range a {
			values = appendFlat(values, e)
		}
		return values
	}
	return append(values, v)
}

func leafMatches(fs []filter, present bool, values []any) bool {
	for _, f := range fs {
		if e, ok := f.(exists); ok {
			// Exists matches leaf values only.
			if !bool(e) && !present {
				return true
			}
			if bool(e) {
				for _, v := range values {
					if _, obj := v.(map[string]any); !obj {
						return true
					}
				}
			}
			continue
		}
		for _, v := range values {
			if f.match(v) {
				return true
			}
		}
	}
	return false
}

type equals struct{ v any }

func (e equals) match(v any) bool {
	switch want := e.v.(type) {
	case float64:
		f, ok := number(v)
		return ok && f == want
	case nil:
		return v == nil
	default:
		return v == e.v
	}
}

type exists bool

func (exists) match(any) bool { return false } // handled in leafMatches

type affix struct {
	suffix bool
	s      string
	fold   bool
}

func (a affix) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	want := a.s
	if a.fold {
		s, want = strings.ToLower(s), strings.ToLower(want)
	}
	if a.suffix {
		return strings.HasSuffix(s, want)
	}
	return strings.HasPrefix(s, want)
}

type ignoreCase []string

func (c ignoreCase) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, w := range c {
		if strings.EqualFold(s, w) {
			return true
		}
	}
	return false
}

type wildcard []string

func (w wildcard) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, p := range w {
		if globMatch(p, s) {
			return true
		}
	}
	return false
}

// globMatch matches s against p, where * matches any run of characters and
// \* and \\ are a literal * and \.
func globMatch(p, s string) bool {
	type tok struct {
		star bool
		lit  string
	}
	var toks []tok
	var lit strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p) && (p[i+1] == '*' || p[i+1] == '\\'):
			lit.WriteByte(p[i+1])
			i++
		case p[i] == '*':
			toks = append(toks, tok{lit: lit.String()}, tok{star: true})
			lit.Reset()
		default:
			lit.WriteByte(p[i])
		}
	}
	toks = append(toks, tok{lit: lit.String()})
	// Literal segments between stars: the first anchors the start, the last
	// the end, the middle ones are found greedily left to right.
	var segs []string
	for _, t := range toks {
		if !t.star {
			segs = append(segs, t.lit)
		}
	}
	if len(segs) == 1 {
		return s == segs[0]
	}
	if !strings.HasPrefix(s, segs[0]) {
		return false
	}
	s = s[len(segs[0]):]
	last := segs[len(segs)-1]
	for _, seg := range segs[1 : len(segs)-1] {
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

type numeric []struct {
	op string
	v  float64
}

func compileNumeric(arg any) (numeric, error) {
	a, ok := arg.([]any)
	if !ok || len(a) == 0 || len(a)%2 != 0 || len(a) > 4 {
		return nil, fmt.Errorf("numeric takes one or two [operator, number] pairs, got %s", jsonText(arg))
	}
	var n numeric
	for i := 0; i < len(a); i += 2 {
		op, ok := a[i].(string)
		num, isNum := a[i+1].(json.Number)
		if !ok || !isNum {
			return nil, fmt.Errorf("numeric: bad pair %s, %s", jsonText(a[i]), jsonText(a[i+1]))
		}
		switch op {
		case "<", "<=", "=", ">=", ">":
		default:
			return nil, fmt.Errorf("numeric: unknown operator %q", op)
		}
		f, err := num.Float64()
		if err != nil {
			return nil, fmt.Errorf("numeric: %w", err)
		}
		n = append(n, struct {
			op string
			v  float64
		}{op, f})
	}
	return n, nil
}

func (n numeric) match(v any) bool {
	f, ok := number(v)
	if !ok {
		return false
	}
	for _, c := range n {
		var ok bool
		switch c.op {
		case "<":
			ok = f < c.v
		case "<=":
			ok = f <= c.v
		case "=":
			ok = f == c.v
		case ">=":
			ok = f >= c.v
		case ">":
			ok = f > c.v
		}
		if !ok {
			return false
		}
	}
	return true
}

type cidr struct{ p netip.Prefix }

func (c cidr) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	a, err := netip.ParseAddr(s)
	return err == nil && c.p.Contains(a)
}

type anyOf []filter

func (a anyOf) match(v any) bool {
	for _, f := range a {
		if f.match(v) {
			return true
		}
	}
	return false
}

// anythingBut matches a present value the inner filter does not match.
type anythingBut struct{ inner filter }

func (a anythingBut) match(v any) bool { return !a.inner.match(v) }

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil && !math.IsInf(f, 0)
}

// stringOrIgnoreCase reads a prefix or suffix argument: "s" or
// {"equals-ignore-case": "s"}.
func stringOrIgnoreCase(arg any) (s string, fold, ok bool) {
	switch a := arg.(type) {
	case string:
		return a, false, true
	case map[string]any:
		if len(a) == 1 {
			if s, ok := a["equals-ignore-case"].(string); ok {
				return s, true, true
			}
		}
	}
	return "", false, false
}

// strings1 reads "s" or ["s", ...].
func strings1(arg any) ([]string, bool) {
	switch a := arg.(type) {
	case string:
		return []string{a}, true
	case []any:
		ss := make([]string, 0, len(a))
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			ss = append(ss, s)
		}
		return ss, len(ss) > 0
	}
	return nil, false
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
