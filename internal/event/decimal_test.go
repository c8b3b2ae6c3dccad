package event

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	digits38 := "12345678901234567890123456789012345678"
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"0", "0", nil},
		{"-0", "0", nil},
		{"-0.000", "0", nil},
		{"000", "0", nil},
		{"0.0", "0", nil},
		{"7", "7", nil},
		{"007", "7", nil},
		{"1.50", "1.5", nil},
		{"-1.10", "-1.1", nil},
		{"00.01", "0.01", nil},
		{"0.5", "0.5", nil},
		{"-0.5", "-0.5", nil},
		{"100", "100", nil},
		{"101.25", "101.25", nil},
		{"0.00000001", "0.00000001", nil},
		{"1.123456789012", "1.123456789012", nil},
		{digits38, digits38, nil},
		{"-" + digits38, "-" + digits38, nil},
		{digits38[:20] + "." + digits38[20:], digits38[:20] + "." + digits38[20:], nil},
		{"0." + strings.Repeat("0", 20) + digits38[:29], "0." + strings.Repeat("0", 20) + digits38[:29], nil},
		{digits38 + ".000", digits38, nil},                            // trailing zeros are not significant
		{strings.Repeat("0", 26) + digits38, digits38, nil},           // 64 chars: at the text limit
		{strings.Repeat("0", 27) + digits38, "", ErrDecimalPrecision}, // 65 chars
		{digits38 + "9", "", ErrDecimalPrecision},
		{"1" + digits38[:19] + "." + digits38[:19], "", ErrDecimalPrecision},
		{"0." + digits38 + "9", "", ErrDecimalPrecision},
		{"", "", ErrDecimalSyntax},
		{"-", "", ErrDecimalSyntax},
		{".", "", ErrDecimalSyntax},
		{"-.5", "", ErrDecimalSyntax},
		{".5", "", ErrDecimalSyntax},
		{"5.", "", ErrDecimalSyntax},
		{"1e3", "", ErrDecimalSyntax},
		{"1E3", "", ErrDecimalSyntax},
		{"1.5e-3", "", ErrDecimalSyntax},
		{"+1", "", ErrDecimalSyntax},
		{" 1", "", ErrDecimalSyntax},
		{"1 ", "", ErrDecimalSyntax},
		{"1\n", "", ErrDecimalSyntax},
		{"--1", "", ErrDecimalSyntax},
		{"1-", "", ErrDecimalSyntax},
		{"1.2.3", "", ErrDecimalSyntax},
		{"1,5", "", ErrDecimalSyntax},
		{"1_000", "", ErrDecimalSyntax},
		{"NaN", "", ErrDecimalSyntax},
		{"Infinity", "", ErrDecimalSyntax},
		{"-Inf", "", ErrDecimalSyntax},
		{"0x10", "", ErrDecimalSyntax},
		{"١٢", "", ErrDecimalSyntax}, // Arabic-Indic digits are not ASCII digits
		{"１", "", ErrDecimalSyntax},  // nor are full-width ones
	}
	for _, tt := range tests {
		got, err := ParseDecimal(tt.in)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseDecimal(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			continue
		}
		if got.String() != tt.want {
			t.Errorf("ParseDecimal(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if err == nil {
			again, err := ParseDecimal(got.String())
			if err != nil || again != got {
				t.Errorf("ParseDecimal(%q) = %q, %v; canonical text must parse to itself", got, again, err)
			}
		}
	}
}

func TestDecimalAccessors(t *testing.T) {
	tests := []struct {
		in             string
		set, neg, zero bool
		scale          int
	}{
		{"", false, false, false, 0},
		{"0", true, false, true, 0},
		{"-0.00", true, false, true, 0},
		{"-1.5", true, true, false, 1},
		{"12.34000", true, false, false, 2},
		{"0.00000001", true, false, false, 8},
		{"1000", true, false, false, 0},
	}
	for _, tt := range tests {
		var d Decimal
		if tt.in != "" {
			d = MustDecimal(tt.in)
		}
		if d.IsSet() != tt.set || d.IsNegative() != tt.neg || d.IsZero() != tt.zero || d.Scale() != tt.scale {
			t.Errorf("Decimal(%q): IsSet %v IsNegative %v IsZero %v Scale %d; want %v %v %v %d",
				tt.in, d.IsSet(), d.IsNegative(), d.IsZero(), d.Scale(), tt.set, tt.neg, tt.zero, tt.scale)
		}
	}
}

func TestMustDecimalPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustDecimal(\"1e3\") did not panic")
		}
	}()
	MustDecimal("1e3")
}

// TestParseDecimalCanonicalDoesNotAllocate pins the fast path: producers send
// canonical text, and keeping it costs no allocation per decimal.
func TestParseDecimalCanonicalDoesNotAllocate(t *testing.T) {
	in := strings.Clone("101.25")
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseDecimal(in) }); n != 0 {
		t.Errorf("ParseDecimal(canonical) allocates %v times, want 0", n)
	}
}

func TestDecimalCmp(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"0", "0", 0},
		{"", "0", 0},
		{"1", "", 1},
		{"1", "2", -1},
		{"10", "9", 1},
		{"9.99", "10", -1},
		{"1.5", "1.50", 0},
		{"1.05", "1.5", -1},
		{"1.5", "1.05", 1},
		{"-1", "1", -1},
		{"1", "-1", 1},
		{"-1", "-2", 1},
		{"-1.5", "-1.25", -1},
		{"0.1", "0.10000000000000000000000000000000000001", -1},
		{"123456789012345678901234567890123456.78", "123456789012345678901234567890123456.77", 1},
	}
	for _, tt := range tests {
		a, b := decOrUnset(tt.a), decOrUnset(tt.b)
		if got := a.Cmp(b); got != tt.want {
			t.Errorf("Decimal(%q).Cmp(%q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := b.Cmp(a); got != -tt.want {
			t.Errorf("Decimal(%q).Cmp(%q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func decOrUnset(s string) Decimal {
	if s == "" {
		return Decimal{}
	}
	return MustDecimal(s)
}

func TestSumEquals(t *testing.T) {
	tests := []struct {
		a, b, c string
		want    bool
	}{
		{"0", "0", "0", true},
		{"40", "60", "100", true},
		{"40", "60", "100.0000001", false},
		{"9.99999999", "0.00000001", "10", true},
		{"9.99999999", "0.00000001", "1", false},
		{"0.5", "0.5", "1", true},
		{"99", "1", "100", true},
		{"99", "1", "10", false},
		{"99", "2", "100", false},
		{"1", "1", "2.5", false},
		// Every column matches and only the final carry is left over.
		{"5", "5", "0", false},
		{"60", "40", "0", false},
		{"0.5", "0.5", "0", false},
		{"12345678901234567890123456789012345678", "0.0000000000000000000000001",
			"12345678901234567890123456789012345678.0000000000000000000000001", true},
		{"99999999999999999999999999999999999999", "1", "100000000000000000000000000000000000000", true},
	}
	for _, tt := range tests {
		// Build from text directly: some sums exceed 38 digits, which
		// ParseDecimal rightly refuses, but the arithmetic must still be exact.
		a, b, c := Decimal{tt.a}, Decimal{tt.b}, Decimal{tt.c}
		if got := sumEquals(a, b, c); got != tt.want {
			t.Errorf("sumEquals(%s + %s == %s) = %v, want %v", tt.a, tt.b, tt.c, got, tt.want)
		}
		if got := sumEquals(b, a, c); got != tt.want {
			t.Errorf("sumEquals(%s + %s == %s) = %v, want %v", tt.b, tt.a, tt.c, got, tt.want)
		}
	}
}

// TestDecimalArithmeticAgainstBigRat checks Cmp and sumEquals against
// math/big's exact rationals on random decimals of every shape, with a fixed
// seed so a failure reproduces.
func TestDecimalArithmeticAgainstBigRat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		a, b := randDecimal(rng, true), randDecimal(rng, true)
		ra, rb := rat(t, a), rat(t, b)
		if got, want := a.Cmp(b), ra.Cmp(rb); got != want {
			t.Fatalf("Decimal(%s).Cmp(%s) = %d, want %d", a, b, got, want)
		}
		// Non-negative operands, with c either the true sum or a near miss.
		x, y := randDecimal(rng, false), randDecimal(rng, false)
		sum := new(big.Rat).Add(rat(t, x), rat(t, y))
		c := Decimal{text: canonicalRat(sum)}
		if rng.IntN(2) == 0 {
			c = randDecimal(rng, false)
		}
		want := sum.Cmp(rat(t, c)) == 0
		if got := sumEquals(x, y, c); got != want {
			t.Fatalf("sumEquals(%s + %s == %s) = %v, want %v", x, y, c, got, want)
		}
	}
}

// randDecimal makes canonical decimals with up to 19 integer and 19
// fractional digits, often with runs of 9s and 0s to provoke carries.
func randDecimal(rng *rand.Rand, signed bool) Decimal {
	digit := func() byte {
		switch rng.IntN(4) {
		case 0:
			return '9'
		case 1:
			return '0'
		}
		return byte('0' + rng.IntN(10))
	}
	var b strings.Builder
	if signed && rng.IntN(2) == 0 {
		b.WriteByte('-')
	}
	for n := 1 + rng.IntN(19); n > 0; n-- {
		b.WriteByte(digit())
	}
	if n := rng.IntN(20); n > 0 {
		b.WriteByte('.')
		for ; n > 0; n-- {
			b.WriteByte(digit())
		}
	}
	return MustDecimal(b.String())
}

func rat(t *testing.T, d Decimal) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(d.String())
	if !ok {
		t.Fatalf("big.Rat cannot parse %q", d)
	}
	return r
}

// canonicalRat renders a rational with a finite decimal expansion exactly.
func canonicalRat(r *big.Rat) string {
	s := r.FloatString(60)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
