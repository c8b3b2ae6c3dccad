package local

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/names"
)

// motoEndpoint is the package's moto server, started once in TestMain; each
// test provisions its own environment (its own env name) in it.
var motoEndpoint string

const testRegion = "us-east-1"

func TestMain(m *testing.M) { os.Exit(motoserver.RunTests(m, "local", &motoEndpoint)) }

// envs numbers the environments tests create, so names never collide.
var envs atomic.Int64

// testNames returns a fresh environment's names for the test.
func testNames(t *testing.T) names.Names {
	t.Helper()
	return names.For(fmt.Sprintf("t%d", envs.Add(1)))
}

// testConfig returns an SDK config for the package's moto server.
func testConfig(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := awslocal.Config(context.Background(), motoEndpoint, testRegion)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// provision creates a fresh local environment for the test.
func provision(t *testing.T) (Resources, aws.Config) {
	t.Helper()
	cfg := testConfig(t)
	r, err := Provision(context.Background(), cfg, motoEndpoint, testNames(t))
	if err != nil {
		t.Fatal(err)
	}
	return r, cfg
}

// contains reports whether s contains every one of subs.
func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
