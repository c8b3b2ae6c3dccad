# TAP — one entry for every task. `make help` lists them.
# The module is pinned in go.mod/go.sum; -mod=readonly makes a drifted go.mod an error.
export GOFLAGS := -mod=readonly
# jsii prints a Node end-of-life banner on every synth; Node 20 is what we test on.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
GO        ?= go
CDK_OUT   ?= cdk.out
# Test timeout: CDK synthesis (jsii) and moto-backed suites are slow on 2 cores.
TEST_TIMEOUT ?= 40m

.PHONY: help setup build synth lint test run drill bench fmt clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

setup: ## check/install the tools the build and tests need (idempotent)
	@./scripts/setup.sh

build: ## build tapctl and the processor's bootstrap into bin/
	$(GO) build -o bin/tapctl ./cmd/tapctl
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -buildvcs=false \
		-ldflags='-s -w -buildid=' -o bin/bootstrap ./cmd/processor

synth: ## synthesize every stack to cdk.out/ (offline, no AWS credentials, no CDK CLI)
	CDK_OUTDIR=$(CDK_OUT) $(GO) run ./cmd/tapcdk

lint: synth ## gofmt, go vet, and cfn-lint on every synthesized template
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	cfn-lint --config-file .cfnlintrc.yaml --non-zero-exit-code warning $(CDK_OUT)/*.template.json

test: setup ## everything CI runs: format, vet, unit + integration tests (moto), CDK synth + cdk-nag + cfn-lint
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) test -timeout $(TEST_TIMEOUT) ./...

run: ## the whole pipeline on this machine: moto + local invoker + demo traffic + report
	$(GO) run ./cmd/tapctl local --demo

drill: setup ## two regions on this machine: region-loss and processor-failure drills, verified report
	$(GO) run ./cmd/tapctl local drill

bench: ## the Go processor against the seed's Node processor; writes BENCHMARKS.md
	$(GO) run ./cmd/tapbench

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build, synthesis and benchmark caches
	rm -rf bin $(CDK_OUT) .cache
