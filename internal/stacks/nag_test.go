package stacks

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// TestNoUnsuppressedNagFindings fails on any AwsSolutions error or warning
// that is not suppressed with a reason next to the resource it concerns, in
// the default app and in the strong app (a strongly consistent table).
func TestNoUnsuppressedNagFindings(t *testing.T) {
	for _, a := range []struct {
		name string
		set  Set
	}{{"default", set}, {"strong", strong.set}} {
		for _, s := range a.set.All() {
			t.Run(a.name+"/"+*s.StackName(), func(t *testing.T) {
				ann := assertions.Annotations_FromStack(s)
				rule := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
				for _, m := range *ann.FindError(jsii.String("*"), rule) {
					t.Errorf("cdk-nag error at %s: %v", *m.Id, m.Entry.Data)
				}
				for _, m := range *ann.FindWarning(jsii.String("*"), rule) {
					t.Errorf("cdk-nag warning at %s: %v", *m.Id, m.Entry.Data)
				}
			})
		}
	}
}
