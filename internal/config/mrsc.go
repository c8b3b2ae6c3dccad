package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tap-trading/tap/internal/schema"
)

// ThirdRegionRole is what the third region of a multi-Region strongly
// consistent (MRSC) orders table holds. MRSC needs exactly three Regions; TAP's
// primary and secondary are always the two full replicas (they run the
// processors), so the third is either a witness or a third replica (DESIGN §3,
// strong consistency).
type ThirdRegionRole string

// The two forms of an MRSC global table AWS offers.
const (
	// Witness holds recent replicated data only: no reads or writes, no
	// table in the account, and "no storage or write costs" (AWS
	// Prescriptive Guidance, Using DynamoDB global tables, "Key facts about
	// MRSC"). The default.
	Witness ThirdRegionRole = "witness"
	// ThirdReplica holds a full replica, readable and writable like the
	// other two; TAP runs no processor there.
	ThirdReplica ThirdRegionRole = "replica"
)

// RegionSet is a group of Regions an MRSC global table may span.
type RegionSet struct {
	Name    string
	Regions []string
}

// MRSCRegionSets are the Region sets of MRSC global tables, as the DynamoDB
// Developer Guide (pageMRSC), CloudFormation's GlobalTableWitness
// (pageWitness) and the CDK's own TableV2 check (validateMrscConfiguration in
// aws-cdk-lib 2.275.0) list them. An MRSC table cannot span sets.
var MRSCRegionSets = []RegionSet{
	{Name: "US", Regions: []string{"us-east-1", "us-east-2", "us-west-2"}},
	{Name: "EU", Regions: []string{"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"}},
	{Name: "AP", Regions: []string{"ap-northeast-1", "ap-northeast-2", "ap-northeast-3"}},
}

// The pages that state the MRSC rules the validation enforces; each error
// names one.
const (
	pageMRSC    = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html#V2globaltables_HowItWorks.consistency-modes"
	pageWitness = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-dynamodb-globaltable-globaltablewitness.html"
)

// MRSCRegionSetOf returns the MRSC Region set region belongs to.
func MRSCRegionSetOf(region string) (RegionSet, bool) {
	for _, s := range MRSCRegionSets {
		if slices.Contains(s.Regions, region) {
			return s, true
		}
	}
	return RegionSet{}, false
}

// others are the regions of s that are not in exclude.
func (s RegionSet) others(exclude ...string) []string {
	var out []string
	for _, r := range s.Regions {
		if !slices.Contains(exclude, r) {
			out = append(out, r)
		}
	}
	return out
}

func (s RegionSet) String() string { return s.Name + " (" + strings.Join(s.Regions, ", ") + ")" }

// defaultThirdRegion is the MRSC third region TAP picks when none is set:
// the one other region of the set holding both replicas, when there is
// exactly one (US: us-east-1 + us-west-2 → us-east-2). Otherwise "", and
// validation asks for tap:mrscThirdRegion.
func defaultThirdRegion(primary, secondary string) string {
	set, ok := MRSCRegionSetOf(primary)
	if !ok || !slices.Contains(set.Regions, secondary) {
		return ""
	}
	if others := set.others(primary, secondary); len(others) == 1 {
		return others[0]
	}
	return ""
}

// validateConsistency checks the table consistency and the MRSC third
// region against the rules AWS documents for MRSC global tables. Each error
// names the setting, the rule with its page, and the fix.
func (c Config) validateConsistency() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	switch c.TableConsistency {
	case schema.Eventual:
		// A witness (and so a third region) exists only in MRSC: the CDK
		// refuses a witness for an MREC table (WitnessRegionNotSupportedForMrec).
		if c.MRSCThirdRegion != "" {
			bad("%s=%q is set, but %s is %q: a witness or third replica exists only in a strongly consistent (MRSC) global table (%s). Fix: remove %s, or set %s=%s",
				KeyMRSCThirdRegion, c.MRSCThirdRegion, KeyTableConsistency, schema.Eventual, pageWitness, KeyMRSCThirdRegion, KeyTableConsistency, schema.Strong)
		}
		if c.MRSCThirdRegionRole != "" {
			bad("%s=%q is set, but %s is %q: the third region's role applies only to a strongly consistent (MRSC) global table (%s). Fix: remove %s, or set %s=%s",
				KeyMRSCThirdRegionRole, c.MRSCThirdRegionRole, KeyTableConsistency, schema.Eventual, pageWitness, KeyMRSCThirdRegionRole, KeyTableConsistency, schema.Strong)
		}
		return errs
	case schema.Strong:
	default:
		// Reported by Load when the value is read.
		return errs
	}

	switch c.MRSCThirdRegionRole {
	case Witness, ThirdReplica:
	default:
		bad("%s=%q: must be %q (the default: a witness, no reads or writes, no storage charges) or %q (a full third replica)",
			KeyMRSCThirdRegionRole, c.MRSCThirdRegionRole, Witness, ThirdReplica)
	}

	// Malformed region names are reported by validate; the rules below
	// would only repeat them.
	if !regionRE.MatchString(c.PrimaryRegion) || !regionRE.MatchString(c.SecondaryRegion) {
		return errs
	}
	set, ok := MRSCRegionSetOf(c.PrimaryRegion)
	if !ok {
		bad("%s=%s with %s=%q: MRSC global tables are available only in the Region sets %s (%s). Fix: choose %s and %s in one of these sets, or set %s=%s",
			KeyTableConsistency, schema.Strong, KeyPrimaryRegion, c.PrimaryRegion, setList(), pageMRSC,
			KeyPrimaryRegion, KeySecondaryRegion, KeyTableConsistency, schema.Eventual)
		return errs
	}
	if !slices.Contains(set.Regions, c.SecondaryRegion) {
		bad("%s=%s with %s=%q and %s=%q: an MRSC global table cannot span Region sets, and %s is not in the %s Region set of the primary (%s). Fix: choose %s from %s, or set %s=%s",
			KeyTableConsistency, schema.Strong, KeyPrimaryRegion, c.PrimaryRegion, KeySecondaryRegion, c.SecondaryRegion,
			c.SecondaryRegion, set, pageMRSC, KeySecondaryRegion, strings.Join(set.others(c.PrimaryRegion), " or "), KeyTableConsistency, schema.Eventual)
		return errs
	}

	candidates := strings.Join(set.others(c.PrimaryRegion, c.SecondaryRegion), " or ")
	what := "a witness"
	if c.MRSCThirdRegionRole == ThirdReplica {
		what = "a third replica"
	}
	switch third := c.MRSCThirdRegion; {
	case third == "":
		bad("%s is required with %s=%s in the %s Region set: an MRSC global table must be deployed in exactly three Regions of one set, the two replicas (%s, %s) and a witness or third replica (%s), and this set leaves more than one to choose from. Fix: set %s to %s",
			KeyMRSCThirdRegion, KeyTableConsistency, schema.Strong, set, c.PrimaryRegion, c.SecondaryRegion, pageMRSC, KeyMRSCThirdRegion, candidates)
	case !regionRE.MatchString(third):
		bad("%s=%q: not an AWS region name; expected the form us-east-2", KeyMRSCThirdRegion, third)
	case third == c.PrimaryRegion || third == c.SecondaryRegion:
		key := KeyPrimaryRegion
		if third == c.SecondaryRegion {
			key = KeySecondaryRegion
		}
		bad("%s=%q is also %s: %s must be in a different Region than the two replicas, %s and %s (%s). Fix: set %s to %s",
			KeyMRSCThirdRegion, third, key, what, c.PrimaryRegion, c.SecondaryRegion, pageWitness, KeyMRSCThirdRegion, candidates)
	case !slices.Contains(set.Regions, third):
		bad("%s=%q is not in the %s Region set of the replicas: %s must be within the same Region set (%s). Fix: set %s to %s",
			KeyMRSCThirdRegion, third, set, what, pageWitness, KeyMRSCThirdRegion, candidates)
	}
	return errs
}

// setList spells every MRSC Region set for an error message.
func setList() string {
	parts := make([]string, len(MRSCRegionSets))
	for i, s := range MRSCRegionSets {
		parts[i] = s.String()
	}
	return strings.Join(parts, ", ")
}
