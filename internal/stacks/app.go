package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/tap-trading/tap/internal/config"
	"github.com/tap-trading/tap/internal/deployspec"
)

// Set is every stack of one environment.
type Set struct {
	// Spec is the deployed behaviour every stack was built from.
	Spec       deployspec.Spec
	Data       *Data
	Processing []*Processing // primary first
	Failover   *Failover
}

// All returns every stack in deploy order: Data, Processing per region, Failover.
func (s Set) All() []awscdk.Stack {
	all := []awscdk.Stack{s.Data.Stack}
	for _, p := range s.Processing {
		all = append(all, p.Stack)
	}
	return append(all, s.Failover.Stack)
}

// NewAll creates every stack of the environment under scope (the app), with
// the deploy order as stack dependencies so `cdk deploy --all` follows it.
// The behavioural values come from one deployspec.For(cfg), the Spec the
// two-region twin runs on.
func NewAll(scope constructs.Construct, cfg config.Config, assetDir string) Set {
	spec := deployspec.For(cfg)
	set := Set{Spec: spec, Data: NewData(scope, cfg, spec)}
	var processing []awscdk.Stack
	for _, region := range spec.Regions() {
		p := NewProcessing(scope, cfg, spec, region, assetDir)
		// The processor writes the replica the Data stack creates.
		p.AddStackDependency(set.Data.Stack, nil)
		set.Processing = append(set.Processing, p)
		processing = append(processing, p.Stack)
	}
	set.Failover = NewFailover(scope, cfg, spec, processing...)
	return set
}
