package event

import (
	"errors"
	"strings"
)

// MaxDecimalDigits is the most digits a decimal may carry: DynamoDB numbers
// keep 38 digits of precision, so a longer value could not be stored exactly.
const MaxDecimalDigits = 38

// maxDecimalText bounds the input scanned before any other check, so a huge
// string costs nothing to reject.
const maxDecimalText = 64

// Decimal is an exact decimal number, held in the canonical text form DynamoDB
// accepts as a Number (no exponent, no '+', no leading or trailing zeros, "0"
// for zero). The zero value is "not set", which optional fields use for absence.
type Decimal struct {
	text string
}

// Decimal parse errors; ParseDecimal wraps nothing, so callers compare directly.
var (
	ErrDecimalSyntax    = errors.New("not a plain decimal: want digits with an optional '-' and '.', no exponent")
	ErrDecimalPrecision = errors.New("more than 38 significant digits: DynamoDB cannot store it exactly")
)

// ParseDecimal parses plain decimal text ("12", "-0.5", "100.25000") into its
// canonical form. Exponents, '+', whitespace, NaN and Infinity are rejected:
// producers send decimal strings, and accepting other spellings would make two
// texts of one value look like different events. "-0" is zero.
func ParseDecimal(s string) (Decimal, error) {
	if len(s) == 0 || len(s) > maxDecimalText {
		if len(s) > maxDecimalText {
			return Decimal{}, ErrDecimalPrecision
		}
		return Decimal{}, ErrDecimalSyntax
	}
	neg := s[0] == '-'
	body := s
	if neg {
		body = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(body, ".")
	if intPart == "" || (hasDot && frac == "") || !allDigits(intPart) || !allDigits(frac) {
		return Decimal{}, ErrDecimalSyntax
	}
	intPart = strings.TrimLeft(intPart, "0")
	frac = strings.TrimRight(frac, "0")
	if intPart == "" && frac == "" {
		return Decimal{text: "0"}, nil
	}
	digits := len(intPart) + len(frac)
	if intPart == "" {
		digits = len(strings.TrimLeft(frac, "0"))
	}
	if digits > MaxDecimalDigits {
		return Decimal{}, ErrDecimalPrecision
	}
	if intPart == "" {
		intPart = "0"
	}
	// Producers nearly always send canonical text already; the canonical form
	// is never longer than the input, so equal lengths mean equal texts and the
	// input can be kept without allocating.
	canonLen := len(intPart)
	if neg {
		canonLen++
	}
	if frac != "" {
		canonLen += 1 + len(frac)
	}
	if canonLen == len(s) {
		return Decimal{text: s}, nil
	}
	var b strings.Builder
	b.Grow(len(intPart) + len(frac) + 2)
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(intPart)
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return Decimal{text: b.String()}, nil
}

// MustDecimal is ParseDecimal for constants in tests and generators; it panics
// on bad input.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic("event.MustDecimal(" + s + "): " + err.Error())
	}
	return d
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsSet reports whether the decimal was present in the event.
func (d Decimal) IsSet() bool { return d.text != "" }

// String returns the canonical text, or "" when not set.
func (d Decimal) String() string { return d.text }

// IsNegative reports whether the value is below zero.
func (d Decimal) IsNegative() bool { return len(d.text) > 0 && d.text[0] == '-' }

// IsZero reports whether the value is zero.
func (d Decimal) IsZero() bool { return d.text == "0" }

// Scale is the number of digits after the decimal point in canonical form.
func (d Decimal) Scale() int {
	if _, frac, ok := strings.Cut(d.text, "."); ok {
		return len(frac)
	}
	return 0
}
