#!/usr/bin/env bash
# Checks (and where it can, installs) what TAP's build and tests need. Idempotent:
# safe to run on every `make test`. Versions are pinned; a wrong one is an error.
set -euo pipefail

want_go_minor="1.26"
want_moto="5.2.1"
want_cfnlint="1.51.0"
# Node.js LTS lines TAP supports (the CDK's jsii runtime and the pinned CDK CLI
# support exactly these); 20 is end of life since 2026-10-30 and still works.
want_node_majors="22 24"
node20_eol="2026-10-30"

fail=0
say() { printf 'setup: %s\n' "$*" >&2; }
problem() { say "$*"; fail=1; }

# Go: the module pins the language version; the toolchain must be at least it.
if ! command -v go >/dev/null; then
	problem "go not found: install Go ${want_go_minor}.x from https://go.dev/dl/"
else
	have=$(go env GOVERSION | sed 's/^go//')
	case "$have" in ${want_go_minor}.*|1.2[7-9].*) ;; *) problem "go $have found; need go ${want_go_minor}.x or newer";; esac
fi

# Node.js: the CDK's jsii runtime runs the construct library in node, and the
# pinned CDK CLI (tools/cdk) runs on it.
if ! command -v node >/dev/null; then
	problem "node not found: install Node.js 22 or 24 LTS (https://nodejs.org, or your distribution's nodejs and npm)"
else
	major=$(node -p 'process.versions.node.split(".")[0]')
	case " $want_node_majors " in
	*" $major "*) ;;
	*)
		if [ "$major" -eq 20 ]; then
			say "note: node $(node --version) is end of life since ${node20_eol}; TAP supports Node.js 22 and 24 LTS. The build and tests still run on 20 (CI runs them there), so this is a notice, not an error: upgrade when you can."
		elif [ "$major" -lt 20 ]; then
			problem "node $(node --version) found; the CDK needs Node.js 22 or 24 LTS"
		else
			say "warning: node $(node --version) found; TAP is tested with Node.js 22 and 24 LTS"
		fi
		;;
	esac
fi

# moto (local AWS, DESIGN §8) and cfn-lint (template linter): Python tools.
check_py_tool() { # name binary version-command wanted
	local name=$1 bin=$2 wanted=$4 have
	if ! command -v "$bin" >/dev/null; then
		problem "$bin not found: pip install '$name==$wanted' (moto: 'moto[server]==$wanted')"
		return
	fi
	have=$(eval "$3" 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1 || true)
	if [ "$have" != "$wanted" ]; then
		say "warning: $bin $have found; TAP is tested with $wanted (pip install '$name==$wanted')"
	fi
}
check_py_tool moto moto_server "python3 -c 'import moto; print(moto.__version__)'" "$want_moto"
check_py_tool cfn-lint cfn-lint "cfn-lint --version" "$want_cfnlint"

# The pinned CDK CLI (tools/cdk) for `make cdk` and its synth test: installed
# from npm into .cache/cdk once (again only when the lockfile changes). Without
# npm or the registry everything else still works; the test then skips, and
# this says so here because `go test ./...` shows a skip's reason only with -v.
cdk_note="go test ./tools/cdk/ will skip its proof that the CDK CLI synthesizes what make synth does"
if ! command -v npm >/dev/null; then
	say "note: npm not found: $cdk_note"
elif [ ! -x .cache/cdk/node_modules/.bin/cdk ] && ! timeout 20 npm ping >/dev/null 2>&1; then
	say "note: the npm registry is unreachable and the pinned CDK CLI is not in .cache/cdk yet: $cdk_note"
elif ! out=$(timeout 300 ./tools/cdk/cdk --install-only 2>&1 >/dev/null); then
	say "note: could not install the pinned CDK CLI into .cache/cdk ($(printf '%s\n' "$out" | grep -m1 -i error || true)): $cdk_note"
fi

# Go modules: download once so tests run offline afterwards.
if [ "$fail" -eq 0 ]; then
	go mod download
fi

[ "$fail" -eq 0 ] || { say "fix the above, then run make setup again"; exit 1; }
say "ok: go $(go env GOVERSION | sed 's/^go//'), node $(node --version), moto_server, cfn-lint present"
