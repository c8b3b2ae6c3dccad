package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/local"
	"github.com/tap-trading/tap/internal/schema"
	"github.com/tap-trading/tap/internal/verify"
)

// verifyFlags are tapctl verify's flags.
type verifyFlags struct {
	useLocal   bool
	secondary  string
	rcu        float64
	segments   int
	pause      time.Duration
	rechecks   int
	consistent bool
}

// textDifferences bounds the differences text output lists; -o json lists
// them all.
const textDifferences = 100

func (a *app) verifyCmd() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare the table's two replicas item by item, and list the keys that differ",
		Long: `Compare the orders table's replica in the primary region with the one in the
secondary, item by item: both are scanned at once, in parallel segments, each
region under its own read capacity budget (--rcu, RCU per second). The
attributes legacy global tables add (aws:rep:*) are left out. Keys that differ
are read again, strongly consistent in both regions, after --pause, so that
replication in flight is not reported; a key still changing is re-read up to
--rechecks times.

Exit 0 when the replicas hold the same items (the count is printed), 1 when
keys differ (each listed with what differs), 2 on a usage error.

The scans are eventually consistent, half the RCU of strongly consistent ones
(--consistent for those). Each replica's every item is read once: N items of
up to 1 KB cost about N/8 RCU in each region (N/4 with --consistent), which
takes N/8 divided by --rcu seconds at the least.

Regions: the primary is --region (TAP_REGION, TAP_PRIMARY_REGION, AWS_REGION,
default us-east-1); the secondary is --secondary-region (TAP_SECONDARY_REGION,
default us-west-2). The credentials need dynamodb:Scan and
dynamodb:BatchGetItem on the table in both. With --local, the two regions of
the running tapctl local --regions.`,
		Example: `  tapctl verify --env dev
  tapctl verify --env prod --region eu-west-1 --secondary-region eu-central-1 --rcu 50 -o json
  tapctl verify --local --pause 1s`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runVerify(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.useLocal, "local", false, "compare the two regions of the running local pipeline (tapctl local --regions)")
	fl.StringVar(&f.secondary, "secondary-region", "", "the secondary region (env TAP_SECONDARY_REGION; default us-west-2)")
	fl.Float64Var(&f.rcu, "rcu", verify.DefaultRCU, "read capacity budget of each region, in RCU per second (above 0)")
	fl.IntVar(&f.segments, "segments", verify.DefaultSegments, "parallel scan segments in each region")
	fl.DurationVar(&f.pause, "pause", verify.DefaultPause, "wait before re-reading the keys that differ: longer than replication takes")
	fl.IntVar(&f.rechecks, "rechecks", verify.DefaultRechecks, "most re-reads of a key whose content keeps changing")
	fl.BoolVar(&f.consistent, "consistent", false, "strongly consistent scans (twice the RCU); the re-reads always are")
	return cmd
}

func (a *app) runVerify(ctx context.Context, f verifyFlags) error {
	asJSON, err := a.json()
	if err != nil {
		return err
	}
	switch {
	case !(f.rcu > 0) || math.IsInf(f.rcu, 0):
		return usagef("--rcu %v: the read capacity budget must be above 0 RCU per second (e.g. %d)", f.rcu, verify.DefaultRCU)
	case f.segments < 1 || f.segments > verify.MaxSegments:
		return usagef("--segments %d: want 1 to %d", f.segments, verify.MaxSegments)
	case f.pause < 0:
		return usagef("--pause %s: want 0 or more", f.pause)
	case f.rechecks < 1:
		return usagef("--rechecks %d: want at least 1", f.rechecks)
	}
	primary, secondary, err := a.verifyReplicas(ctx, f)
	if err != nil {
		return err
	}
	w := a.env.Stderr
	scans := "eventually consistent scans (half the RCU of strongly consistent)"
	if f.consistent {
		scans = "strongly consistent scans"
	}
	fmt.Fprintf(w, "verify: table %s in %s (primary) and %s (secondary): %d segments each, at most %g RCU/s per region, %s\n",
		primary.Table, primary.Region, secondary.Region, f.segments, f.rcu, scans)
	pr := &verifyProgress{w: w, interactive: a.env.Interactive, pause: f.pause}
	every := 10 * time.Second
	if a.env.Interactive {
		every = time.Second
	}
	res, err := verify.Run(ctx, verify.Config{
		A: primary, B: secondary, Keys: []string{schema.AttrPK, schema.AttrSK},
		RCU: f.rcu, Segments: f.segments, Consistent: f.consistent, Pause: f.pause, Rechecks: f.rechecks,
		Progress: pr.show, ProgressEvery: every,
	})
	pr.end()
	if err != nil {
		return verifyError(err)
	}
	rep := viewVerify(res, primary, secondary, f)
	if asJSON {
		if err := writeJSON(a.env.Stdout, rep); err != nil {
			return err
		}
	} else {
		writeVerify(a.env.Stdout, rep)
	}
	if !rep.Identical {
		return failed()
	}
	return nil
}

// verifyReplicas are the two replicas to compare: the local pipeline's two
// regions, or the env's table in the primary and the secondary region.
func (a *app) verifyReplicas(ctx context.Context, f verifyFlags) (primary, secondary verify.Replica, err error) {
	if f.useLocal {
		st, err := local.ReadState(local.StatePath(a.env.Getenv))
		if err != nil {
			return primary, secondary, err
		}
		if len(st.Regions) != 2 {
			return primary, secondary, usagef("the local pipeline runs one region (%s): verify --local compares the two of `tapctl local --regions PRIMARY,SECONDARY`", st.Region)
		}
		var reps [2]verify.Replica
		for i, r := range st.Regions {
			cfg, err := awslocal.Config(ctx, r.Endpoint, r.Region)
			if err != nil {
				return primary, secondary, err
			}
			reps[i] = verify.Replica{Region: r.Region, Table: r.Table, Client: dynamodb.NewFromConfig(cfg)}
		}
		return reps[0], reps[1], nil
	}
	p := first(a.flags.region, a.env.Getenv(EnvRegion), a.env.Getenv(config.EnvPrimaryRegion),
		a.env.Getenv("AWS_REGION"), a.env.Getenv("AWS_DEFAULT_REGION"), config.Defaults().PrimaryRegion)
	s := first(f.secondary, a.env.Getenv(EnvSecondaryRegion), config.Defaults().SecondaryRegion)
	if p == s {
		return primary, secondary, usagef("the primary and the secondary region are both %s: give the primary with --region and the secondary with --secondary-region", p)
	}
	var reps [2]verify.Replica
	for i, region := range []string{p, s} {
		t, err := a.aws(ctx, region)
		if err != nil {
			return primary, secondary, err
		}
		reps[i] = verify.Replica{Region: region, Table: t.table(), Client: t.dynamodb()}
	}
	return reps[0], reps[1], nil
}

// verifyError says what to do about a failed verification; access denied
// in one region names the region, the table and the actions to allow.
func verifyError(err error) error {
	var verr *verify.Error
	var api smithy.APIError
	if errors.As(err, &verr) && errors.As(err, &api) {
		switch code := api.ErrorCode(); {
		case strings.HasPrefix(code, "AccessDenied"), code == "UnauthorizedOperation":
			// A new error, not a wrapped one: explain's general hint for
			// AccessDenied would only repeat this one, less precisely.
			return fmt.Errorf("%s of table %s in %s was denied: %s\n  what to do: allow %s on arn:aws:dynamodb:%s:<account>:table/%s for the role or user in use (aws sts get-caller-identity), in both regions",
				verr.Op, verr.Table, verr.Region, api.ErrorMessage(), strings.Join(verify.Actions, " and "), verr.Region, verr.Table)
		}
	}
	return err
}

// verifyReport is what tapctl verify prints (-o json).
type verifyReport struct {
	Table           string `json:"table"`
	PrimaryRegion   string `json:"primaryRegion"`
	SecondaryRegion string `json:"secondaryRegion"`
	Identical       bool   `json:"identical"`
	// Items counts the distinct keys found in either replica.
	Items int `json:"items"`
	// Settled counts the keys that differed in the scans and were equal
	// when read again: replication in flight.
	Settled     int                  `json:"settledOnRecheck"`
	Differences []verifyDifference   `json:"differences"`
	Regions     []verify.RegionStats `json:"regions"`
	// RCUBudget is each region's budget, RCU per second.
	RCUBudget         float64  `json:"rcuBudget"`
	ConsistentScans   bool     `json:"consistentScans"`
	Pause             string   `json:"pause"`
	IgnoredAttributes []string `json:"ignoredAttributes"`
	Elapsed           string   `json:"elapsed"`
}

// verifyDifference is one key the replicas disagree on.
type verifyDifference struct {
	Key map[string]string `json:"key"`
	// OnlyIn is the region of the one replica holding the item.
	OnlyIn string `json:"onlyIn,omitempty"`
	// Attributes are the attributes the two items differ in, with their
	// values as JSON text (absent: omitted).
	Attributes []verifyAttribute `json:"attributes,omitempty"`
	Changing   bool              `json:"changing,omitempty"`
	keyText    string
}

type verifyAttribute struct {
	Name      string  `json:"name"`
	Primary   *string `json:"primary,omitempty"`
	Secondary *string `json:"secondary,omitempty"`
}

func viewVerify(res verify.Result, primary, secondary verify.Replica, f verifyFlags) verifyReport {
	rep := verifyReport{
		Table: primary.Table, PrimaryRegion: primary.Region, SecondaryRegion: secondary.Region,
		Identical: res.Identical(), Items: res.Items, Settled: res.Settled, Differences: []verifyDifference{},
		Regions: res.Regions[:], RCUBudget: f.rcu, ConsistentScans: f.consistent, Pause: f.pause.String(),
		IgnoredAttributes: verify.IgnoredAttributes, Elapsed: res.Elapsed.Round(time.Millisecond).String(),
	}
	for _, d := range res.Differences {
		v := verifyDifference{Key: map[string]string{}, OnlyIn: d.OnlyIn, Changing: d.Changing, keyText: d.Key.String()}
		for _, k := range d.Key {
			v.Key[k.Name] = k.Value
		}
		for _, at := range d.Attributes {
			v.Attributes = append(v.Attributes, verifyAttribute{Name: at.Name, Primary: at.A, Secondary: at.B})
		}
		rep.Differences = append(rep.Differences, v)
	}
	return rep
}

func writeVerify(w io.Writer, rep verifyReport) {
	if rep.Identical {
		fmt.Fprintf(w, "identical: table %s holds the same %s in %s and %s", rep.Table, plural(rep.Items, "item"), rep.PrimaryRegion, rep.SecondaryRegion)
		if rep.Settled > 0 {
			fmt.Fprintf(w, " (%s differed in the scans and matched when read again: replication in flight)", plural(rep.Settled, "key"))
		}
		fmt.Fprintln(w)
		return
	}
	verb := "differ"
	if len(rep.Differences) == 1 {
		verb = "differs"
	}
	fmt.Fprintf(w, "%s of table %s %s between %s (primary) and %s (secondary), still after %s and a strongly consistent re-read (%s compared)\n",
		plural(len(rep.Differences), "key"), rep.Table, verb, rep.PrimaryRegion, rep.SecondaryRegion, rep.Pause, plural(rep.Items, "key"))
	tw := newTable(w)
	fmt.Fprintln(tw, "KEY\tDIFFERENCE")
	for i, d := range rep.Differences {
		if i == textDifferences {
			break
		}
		what := "only in " + d.OnlyIn
		if d.OnlyIn == "" {
			var parts []string
			for _, at := range d.Attributes {
				parts = append(parts, fmt.Sprintf("%s: %s %s, %s %s", at.Name,
					rep.PrimaryRegion, truncate(valueOrAbsent(at.Primary), 40), rep.SecondaryRegion, truncate(valueOrAbsent(at.Secondary), 40)))
			}
			what = strings.Join(parts, "; ")
		}
		if d.Changing {
			what += " (changed at every read: a write in flight?)"
		}
		fmt.Fprintf(tw, "%s\t%s\n", d.keyText, what)
	}
	tw.Flush()
	if n := len(rep.Differences) - textDifferences; n > 0 {
		fmt.Fprintf(w, "… %d more: -o json lists them all\n", n)
	}
}

func valueOrAbsent(v *string) string {
	if v == nil {
		return "(absent)"
	}
	return *v
}

// verifyProgress prints a run's progress on stderr: on a terminal one line
// redrawn, elsewhere a line each report; a line for each phase.
type verifyProgress struct {
	w           io.Writer
	interactive bool
	pause       time.Duration
	drawn       bool
	phase       verify.Phase
	round       int
}

func (p *verifyProgress) show(pr verify.Progress) {
	line := func() string {
		secs := max(pr.Elapsed.Seconds(), 0.001)
		parts := make([]string, 0, 2)
		for _, r := range pr.Regions {
			parts = append(parts, fmt.Sprintf("%s %s, %.1f RCU (%.1f RCU/s)", r.Region, plural(int(r.Items), "item"), r.RCU, r.RCU/secs))
		}
		return fmt.Sprintf("%s: %s", pr.Elapsed.Round(time.Second), strings.Join(parts, "; "))
	}
	switch {
	case pr.Phase == verify.PhaseScan:
		if p.interactive {
			fmt.Fprintf(p.w, "\r\033[K  scanning %s", line())
			p.drawn = true
		} else {
			fmt.Fprintf(p.w, "  scanning %s\n", line())
		}
	case pr.Phase == verify.PhaseScanned && p.phase != pr.Phase:
		p.end()
		fmt.Fprintf(p.w, "  scanned %s; %s differed\n", line(), plural(pr.Candidates, "key"))
	case pr.Phase == verify.PhaseRecheck && pr.Round != p.round:
		p.round = pr.Round
		fmt.Fprintf(p.w, "  re-reading %s in both regions after %s (strongly consistent), round %d\n", plural(pr.Rechecking, "key"), p.pause, pr.Round)
	case pr.Phase == verify.PhaseDone && p.phase != pr.Phase:
		fmt.Fprintf(p.w, "  done %s\n", line())
	}
	p.phase = pr.Phase
}

// end finishes a redrawn line.
func (p *verifyProgress) end() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
