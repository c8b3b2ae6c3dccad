package cli

import (
	"os"
	"path/filepath"
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
		{[]string{"local", "--aws-endpoint", "http://127.0.0.1:1"}, ExitFailure, "nothing answers at --aws-endpoint http://127.0.0.1:1: start moto_server there", ""},
		{[]string{"send", "--bus", "b"}, ExitUsage, "no events in stdin", ""},
		{[]string{"send", "--bus", "b"}, ExitFailure, "entry 1 (line 1): want a JSON object: an event detail or a PutEvents entry, got a JSON number", "[1,2]\n"},
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

// TestHelpExamplesParse takes every tapctl command line of every help
// example, as printed, and parses it the way a run would: the command
// exists, its flags parse, its positional arguments are accepted. Examples
// have no placeholders, and the repository files they name exist.
func TestHelpExamplesParse(t *testing.T) {
	a := &app{env: Env{}.withDefaults()}
	root := a.rootCmd()
	var cmds []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		cmds = append(cmds, c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	parsed := 0
	for _, c := range cmds {
		if strings.Contains(c.Example, "…") {
			t.Errorf("%s: example has a … placeholder:\n%s", c.CommandPath(), c.Example)
		}
		for _, line := range exampleLines(c.Example) {
			for _, word := range shellWords(line) {
				if p, ok := strings.CutPrefix(word, "file://"); ok {
					word = p
				}
				if strings.HasPrefix(word, "examples/") {
					if _, err := os.Stat(filepath.Join("..", "..", word)); err != nil {
						t.Errorf("%s: example names %s, which the repository lacks: %v", c.CommandPath(), word, err)
					}
				}
			}
			// The tapctl part of a pipeline.
			if i := strings.LastIndex(line, "| tapctl "); i >= 0 {
				line = line[i+2:]
			}
			if !strings.HasPrefix(line, "tapctl ") {
				continue
			}
			args := shellWords(line)[1:]
			parsed++
			// A fresh tree per line: parsed flag values stick to commands.
			cmd, rest, err := (&app{env: Env{}.withDefaults()}).rootCmd().Find(args)
			if err == nil {
				err = cmd.ParseFlags(rest)
			}
			if err == nil {
				err = cmd.ValidateArgs(cmd.Flags().Args())
			}
			if err != nil {
				t.Errorf("%s example %q does not parse: %v", c.CommandPath(), line, err)
			}
		}
	}
	if parsed < 20 {
		t.Errorf("parsed %d example command lines, want every command's (at least 20)", parsed)
	}
}

// exampleLines returns an Example's command lines, continuations joined and
// comments dropped.
func exampleLines(example string) []string {
	var out []string
	var cur string
	for _, l := range strings.Split(example, "\n") {
		l = strings.TrimSpace(l)
		if cur == "" && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(l, "\\"); ok {
			cur += more
			continue
		}
		out = append(out, cur+l)
		cur = ""
	}
	return out
}

// shellWords splits a command line as a POSIX shell does for the simple
// quoting help examples use: single quotes, double quotes, spaces.
func shellWords(line string) []string {
	var words []string
	var w strings.Builder
	in, quote := false, rune(0)
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

// TestLocalHelpAgreesOnEnvDefault: local's own help and its Global Flags
// section give the same default env.
func TestLocalHelpAgreesOnEnvDefault(t *testing.T) {
	r := newFixture(t).run("", "local", "--help").want(t, ExitOK)
	if !contains(r.stdout, `default "local", not TAP_ENV`, "tapctl local: default local, TAP_ENV ignored") {
		t.Errorf("local --help does not give one env default:\n%s", r.stdout)
	}
}
