package replay

import (
	"fmt"
	"regexp"

	"github.com/tap-trading/tap/internal/names"
)

// nameRE is EventBridge's rule for a replay name: 1 to 64 characters of
// [.\-_A-Za-z0-9] (Replay, ReplayName,
// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Replay.html).
var nameRE = regexp.MustCompile(`^[.\-_A-Za-z0-9]{1,64}$`)

// ValidName reports whether EventBridge accepts name as a replay name.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// nameTime is the time format in replay names: compact, sortable, UTC, and
// without the colons a replay name may not hold.
const nameTime = "20060102T150405Z"

// BaseName is the readable name of a replay of window w in env n, e.g.
// tap-dev-replay-20260105T143000Z-20260105T150000Z: it says whose replay
// it is and what it replays, so an operator can find and cancel it. At
// most 61 characters for the longest env name (16, config).
//
// The tap-<env>- prefix is internal/names' convention; names has no replay
// entry because a replay is not a deployed resource.
func BaseName(n names.Names, w Window) string {
	return fmt.Sprintf("tap-%s-replay-%s-%s", n.Env, w.From.UTC().Format(nameTime), w.To.UTC().Format(nameTime))
}

// Name is BaseName, or, when taken says that name already names a replay
// (EventBridge keeps finished replays listed, and names are unique per
// account and region), the first of BaseName-2, BaseName-3, … that is free.
func Name(n names.Names, w Window, taken func(string) bool) (string, error) {
	base := BaseName(n, w)
	name := base
	for i := 2; taken(name); i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	if !ValidName(name) {
		return "", fmt.Errorf("replay name %q is not a valid EventBridge replay name (1-64 characters of A-Z a-z 0-9 . - _)", name)
	}
	return name, nil
}
