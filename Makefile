# TAP — one entry for every task. `make help` lists them.
# The module is pinned in go.mod/go.sum; -mod=readonly makes a drifted go.mod an error.
export GOFLAGS := -mod=readonly
# On Node 20 (end of life 2026-10-30) jsii prints an end-of-life banner on every
# synth; scripts/setup.sh says it once instead. The value lists the silenced
# major versions (jsii's format); Node 22 and 24 print nothing.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
GO        ?= go
CDK_OUT   ?= cdk.out
# Test timeout: CDK synthesis (jsii) and moto-backed suites are slow on 2 cores.
TEST_TIMEOUT ?= 40m

.PHONY: help setup build synth lint test run drill bench fmt clean cdk

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

cdk: ## the pinned AWS CDK CLI (tools/cdk, installed into .cache/cdk): make cdk ARGS="diff|deploy|synth ..."
	@./tools/cdk/cdk $(ARGS)

lint: synth ## gofmt, go vet, and cfn-lint on every synthesized template
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	cfn-lint --config-file .cfnlintrc.yaml --non-zero-exit-code warning $(CDK_OUT)/*.template.json

test: setup ## everything CI runs: format, vet, unit + integration tests (moto), CDK synth + cdk-nag + cfn-lint
	@echo "make test: gofmt check"
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	@echo "make test: go vet ./... (silent while it compiles every package: a few minutes on a cold build cache)"
	$(GO) vet ./...
	@echo "make test: go test (one line per package as it finishes; the CDK synthesis and moto suites take minutes)"
	$(GO) test -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v '/internal/drill$$')
	@echo "make test: the drills on the two-region twin, alone: their time bounds are scaled from AWS's, and other suites beside them would load both cores (about 20 minutes)"
	$(GO) test -timeout $(TEST_TIMEOUT) ./internal/drill

run: ## the whole pipeline on this machine: moto + local invoker + demo traffic + report
	@echo "make run: building tapctl (about a minute on a cold build cache), then tapctl local --demo"
	$(GO) run ./cmd/tapctl local --demo

drill: setup ## two regions on this machine: every failure scenario in both table modes, verified reports, timelines in drill-out/
	$(GO) run ./cmd/tapctl local drill --consistency both --timeline drill-out

bench: ## the Go processor against the seed's Node processor; writes BENCHMARKS.md
	$(GO) run ./cmd/tapbench

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build, synthesis and benchmark caches
	rm -rf bin $(CDK_OUT) .cache
