package event

import "strings"

// Exact arithmetic on canonical decimal text. The contract needs only a
// comparison and one sum check, so digits are walked in place: no float64 (it
// would round 38-digit quantities), no big-number allocation on the per-event
// path.

// Cmp compares d and o exactly and returns -1, 0 or +1. An unset Decimal
// compares as zero.
func (d Decimal) Cmp(o Decimal) int {
	a, b := d.text, o.text
	if a == "" {
		a = "0"
	}
	if b == "" {
		b = "0"
	}
	aNeg, bNeg := a[0] == '-', b[0] == '-'
	switch {
	case aNeg && !bNeg:
		return -1
	case !aNeg && bNeg:
		return 1
	case aNeg && bNeg:
		return -cmpMagnitude(a[1:], b[1:])
	}
	return cmpMagnitude(a, b)
}

// cmpMagnitude compares two unsigned canonical decimals. Canonical integer
// parts have no leading zeros, so a longer integer part is the larger number;
// equal lengths compare digit by digit, and fractions compare as if the shorter
// one were padded with trailing zeros.
func cmpMagnitude(a, b string) int {
	ai, af, _ := strings.Cut(a, ".")
	bi, bf, _ := strings.Cut(b, ".")
	if len(ai) != len(bi) {
		if len(ai) < len(bi) {
			return -1
		}
		return 1
	}
	if c := strings.Compare(ai, bi); c != 0 {
		return c
	}
	n := max(len(af), len(bf))
	for i := range n {
		x, y := digitOrZero(af, i), digitOrZero(bf, i)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func digitOrZero(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return '0'
}

// sumEquals reports whether a + b == c exactly, for non-negative canonical
// decimals (the caller has rejected negatives). It adds column by column from
// the smallest decimal place up, carrying as on paper, and checks each column
// against c, so it needs no buffer.
func sumEquals(a, b, c Decimal) bool {
	ai, af, _ := strings.Cut(a.text, ".")
	bi, bf, _ := strings.Cut(b.text, ".")
	ci, cf, _ := strings.Cut(c.text, ".")
	scale := max(len(af), len(bf), len(cf))
	cols := scale + max(len(ai), len(bi), len(ci))
	carry := 0
	for k := range cols {
		s := column(ai, af, scale, k) + column(bi, bf, scale, k) + carry
		if s%10 != column(ci, cf, scale, k) {
			return false
		}
		carry = s / 10
	}
	return carry == 0
}

// column returns the digit of intPart.frac at column k, counting from the
// rightmost of scale decimal places (k = 0) to the left.
func column(intPart, frac string, scale, k int) int {
	if k < scale {
		if i := scale - 1 - k; i < len(frac) {
			return int(frac[i] - '0')
		}
		return 0
	}
	if j := k - scale; j < len(intPart) {
		return int(intPart[len(intPart)-1-j] - '0')
	}
	return 0
}
