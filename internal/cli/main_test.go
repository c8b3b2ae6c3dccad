package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tap-trading/tap/internal/awslocal"
	"github.com/tap-trading/tap/internal/motoserver"
	"github.com/tap-trading/tap/internal/names"
	"github.com/tap-trading/tap/internal/store"
)

// motoEndpoint is the package's moto server, started once in TestMain; each
// test uses its own env name in it.
var motoEndpoint string

const (
	primary   = "us-east-1"
	secondary = "us-west-2"
)

func TestMain(m *testing.M) { os.Exit(motoserver.RunTests(m, "cli", &motoEndpoint)) }

var envs atomic.Int64

// fixture is one test's environment: its env name and a tapctl Env pointing
// at moto (and at fakes for the services in endpoints).
type fixture struct {
	t     *testing.T
	names names.Names
	env   Env
	vars  map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, names: names.For(fmt.Sprintf("c%d", envs.Add(1)))}
	f.vars = map[string]string{
		EnvEnv:         f.names.Env,
		"TAPCTL_STATE": filepath.Join(t.TempDir(), "state.json"),
	}
	f.env = Env{
		Getenv: func(k string) string { return f.vars[k] },
		LoadAWS: func(ctx context.Context, region string) (aws.Config, error) {
			return awslocal.Config(ctx, motoEndpoint, region)
		},
		Endpoints: map[string]string{},
	}
	return f
}

// cfg is an SDK config for moto in region.
func (f *fixture) cfg(region string) aws.Config {
	f.t.Helper()
	c, err := awslocal.Config(context.Background(), motoEndpoint, region)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// result is one tapctl run.
type result struct {
	stdout, stderr string
	code           int
}

// run runs tapctl with args and stdin.
func (f *fixture) run(stdin string, args ...string) result {
	f.t.Helper()
	return f.runContext(context.Background(), stdin, args...)
}

func (f *fixture) runContext(ctx context.Context, stdin string, args ...string) result {
	return f.runReader(ctx, strings.NewReader(stdin), nil, args...)
}

// runReader runs tapctl with stdin read as it comes (commands typed into a
// running `tapctl local --regions`); stderr, when not nil, also gets what
// tapctl writes there, as it writes it.
func (f *fixture) runReader(ctx context.Context, stdin io.Reader, stderr io.Writer, args ...string) result {
	var out, errOut syncBuffer
	env := f.env
	env.Stdin, env.Stdout, env.Stderr = stdin, &out, &errOut
	if stderr != nil {
		env.Stderr = io.MultiWriter(&errOut, stderr)
	}
	code := Main(ctx, args, env)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// want fails the test unless the run exited with code.
func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

// decode parses the run's stdout as JSON into v.
func (r result) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
}

// table creates the env's orders table in region and returns a store on it
// that records region as the processing region.
func (f *fixture) table(region string) *store.Store {
	f.t.Helper()
	client := dynamodb.NewFromConfig(f.cfg(region))
	if err := store.CreateTable(context.Background(), client, f.names.Table()); err != nil {
		f.t.Fatal(err)
	}
	return store.New(client, f.names.Table(), region, nil)
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (progress bars,
// invoker errors and the command write from several goroutines).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recorded is one request a fake AWS server received.
type recorded struct {
	Target, Auth, RegionSet, Path, Method string
	Body                                  []byte
}

// fakeAWS is a loopback server standing in for an AWS service moto lacks. It
// records each request and answers with respond.
type fakeAWS struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
}

func newFakeAWS(t *testing.T, respond func(r recorded, w http.ResponseWriter)) *fakeAWS {
	t.Helper()
	f := &fakeAWS{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		rec := recorded{
			Target: req.Header.Get("X-Amz-Target"), Auth: req.Header.Get("Authorization"),
			RegionSet: req.Header.Get("X-Amz-Region-Set"), Path: req.URL.Path, Method: req.Method, Body: body,
		}
		f.mu.Lock()
		f.requests = append(f.requests, rec)
		f.mu.Unlock()
		respond(rec, w)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAWS) calls() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

// awsJSON writes a JSON 1.1 protocol answer.
func awsJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// awsError writes a JSON 1.1 protocol error.
func awsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	awsJSON(w, status, fmt.Sprintf(`{"__type":%q,"message":%q}`, code, msg))
}

// authAlgorithm is the signing algorithm of an Authorization header.
func authAlgorithm(auth string) string {
	alg, _, _ := strings.Cut(auth, " ")
	return alg
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
