package infra

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppression is one cdk-nag finding accepted on purpose, with the reason a
// reviewer reads in the template metadata.
type suppression struct {
	rule   string
	reason string
	// appliesTo narrows an IAM5/IAM4 suppression to the exact findings
	// (e.g. "Resource::*"); empty means the whole rule.
	appliesTo []string
	// appliesToRegex narrows it to findings matching a JavaScript regular
	// expression literal such as "/^Resource::arn:.*$/g", for findings whose
	// text holds an account or partition that depends on the environment.
	appliesToRegex []string
}

// suppress attaches suppressions to construct and its children.
func suppress(construct any, ss ...suppression) {
	list := make([]*cdknag.NagPackSuppression, 0, len(ss))
	for _, s := range ss {
		n := &cdknag.NagPackSuppression{Id: jsii.String(s.rule), Reason: jsii.String(s.reason)}
		var applies []any
		for _, a := range s.appliesTo {
			applies = append(applies, a)
		}
		for _, r := range s.appliesToRegex {
			applies = append(applies, &cdknag.RegexAppliesTo{Regex: jsii.String(r)})
		}
		if len(applies) > 0 {
			n.AppliesTo = &applies
		}
		list = append(list, n)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(construct, &list, jsii.Bool(true))
}
