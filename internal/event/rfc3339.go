package event

import (
	"errors"
	"time"
)

// errNotRFC3339 is the syntax error of parseRFC3339.
var errNotRFC3339 = errors.New("not an RFC 3339 date-time")

// parseRFC3339 parses an RFC 3339 date-time (RFC 3339 §5.6,
// https://www.rfc-editor.org/rfc/rfc3339#section-5.6): YYYY-MM-DDThh:mm:ss,
// an optional fraction after '.', then Z or ±hh:mm with hh ≤ 23 and
// mm ≤ 59, upper-case T and Z (§5.6 allows a format to require them). The
// syntax is checked first because time.Parse(time.RFC3339, …) falls back
// to Go's layout parser, which also takes a one-digit hour, a comma before
// the fraction and offsets of 24 hours or 60 minutes; time.Parse then
// checks the ranges of the date and the clock.
func parseRFC3339(s string) (time.Time, error) {
	if !rfc3339Syntax(s) {
		return time.Time{}, errNotRFC3339
	}
	return time.Parse(time.RFC3339, s)
}

func rfc3339Syntax(s string) bool {
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	const head = len("2006-01-02T15:04:05")
	if len(s) < head+1 {
		return false
	}
	for i, c := range []byte("dddd-dd-ddTdd:dd:dd") {
		if c == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != c {
			return false
		}
	}
	rest := s[head:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z":
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' && digits(rest[1:3]) && digits(rest[4:6]):
		return rest[1:3] <= "23" && rest[4:6] <= "59"
	}
	return false
}
