package bench

import (
	"strconv"
)

func itoa(i int) string { return strconv.Itoa(i) }

// fmt2 formats f with two decimals, trimming a trailing ".00".
func fmt2(f float64) string {
	s := strconv.FormatFloat(f, 'f', 2, 64)
	if len(s) > 3 && s[len(s)-3:] == ".00" {
		return s[:len(s)-3]
	}
	return s
}
