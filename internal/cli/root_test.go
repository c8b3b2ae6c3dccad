package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasHelpWithExamples walks the command tree: every command
// answers --help with exit 0, its usage and an Examples section.
func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	a := &app{env: Env{}.withDefaults()}
	var walk func(c *cobra.Command)
	var paths []string
	walk = func(c *cobra.Command) {
		if c.Name() != "help" {
			paths = append(paths, c.CommandPath())
			if c.Example == "" {
				t.Errorf("%s has no examples", c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(a.rootCmd())
	if len(paths) < 14 {
		t.Fatalf("found %d commands, want every tapctl command: %v", len(paths), paths)
	}
	f := newFixture(t)
	for _, p := range paths {
		args := append(strings.Fields(p)[1:], "--help")
		r := f.run("", args...)
		if r.code != ExitOK || !contains(r.stdout, "Usage:", "Examples:") {
			t.Errorf("tapctl %v: exit %d, output lacks usage or examples:\n%s", args, r.code, r.stdout)
		}
	}
}

func TestExitCodes(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		args  []string
		code  int
		says  string
		stdin string
	}{
		{[]string{}, ExitUsage, "tapctl needs a command", ""},
		{[]string{"nope"}, ExitUsage, `unknown command "nope"`, ""},
		{[]string{"order"}, ExitUsage, "needs a command: get", ""},
		{[]string{"order", "get"}, ExitUsage, "tapctl order get needs ORDER_ID", ""},
		{[]string{"order", "get", "a", "b"}, ExitUsage, "takes one ORDER_ID, got 2 arguments: a b", ""},
		{[]string{"account", "orders"}, ExitUsage, "tapctl account orders needs ACCOUNT_ID", ""},
		{[]string{"dlq", "list", "--local"}, ExitUsage, "--queue is required: processing or delivery", ""},
		{[]string{"order", "get", "x", "--output", "xml"}, ExitUsage, `--output "xml": want text or json`, ""},
		{[]string{"account", "orders", "a", "--since", "soon"}, ExitUsage, "--since", ""},
		{[]string{"send", "--max-attempts", "0", "--bus", "b"}, ExitUsage, "--max-attempts", ""},
		{[]string{"load", "--rate", "0", "--duration", "1s"}, ExitUsage, "--rate and --duration", ""},
		{[]string{"load", "--rate", "five"}, ExitUsage, "invalid argument", ""},
		{[]string{"failover", "drill", "--yes", "--poll", "0s"}, ExitUsage, "--poll", ""},
		{[]string{"order", "get", "x", "--local"}, ExitFailure, "no local pipeline is running", ""},
		{[]string{"send", "--bus", "b"}, ExitUsage, "no events in stdin", ""},
		{[]string{"send", "--bus", "b"}, ExitFailure, "line 1: want one JSON object per line: an event detail or a PutEvents entry, got a JSON array", "[1,2]\n"},
		{[]string{"send", "--bus", "b"}, ExitFailure, "Source must be a JSON string, not a number", `{"DetailType":"x","Detail":"{}","Source":5}` + "\n"},
	} {
		r := f.run(tc.stdin, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("tapctl %v: exit %d stderr %q, want exit %d and %q", tc.args, r.code, r.stderr, tc.code, tc.says)
		}
		if tc.code == ExitUsage && !strings.Contains(r.stderr, "--help' for usage") {
			t.Errorf("tapctl %v: usage error does not point at --help: %q", tc.args, r.stderr)
		}
	}
}
