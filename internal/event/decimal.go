package event

// Decimal is an exact decimal number, held in the canonical text form DynamoDB
// accepts as a Number (no exponent, no leading '+', no redundant zeros). The
// zero value is "not set", which optional fields use for absence.
type Decimal struct {
	text string
}

// IsSet reports whether the decimal was present in the event.
func (d Decimal) IsSet() bool { return d.text != "" }

// String returns the canonical text, or "" when not set.
func (d Decimal) String() string { return d.text }
