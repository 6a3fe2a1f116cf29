#!/usr/bin/env bash
# Sets up (idempotent) and runs every test: the Swift test suites, the CLI end to end, and the
# MCP server with the official MCP Python SDK and five other clients and agent frameworks. Uses the prefix setup.sh
# was given (see scripts/prefix.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
./scripts/setup.sh
source scripts/prefix.sh
swift build "${link_flags[@]}"
./.build/debug/wasm-sandbox prepare  # compiles the engines once (Python: minutes), not in every test process
swift test "${link_flags[@]}"
./scripts/cli-test.sh
# The external MCP client in a virtual environment of its own, every package pinned by hash;
# rebuilt whenever the lock file changes.
lock=tests-external/requirements.lock
venv=.deps/venv
if ! cmp -s "$lock" "$venv/requirements.lock"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r "$lock"
  cp "$lock" "$venv/requirements.lock"
fi
"$venv/bin/python" tests-external/mcp_client_test.py .build/debug/wasm-sandbox
# Six real MCP clients and agent frameworks, each in a pinned virtual environment of its own.
./scripts/client-tests.sh .build/debug/wasm-sandbox
# Three replicas behind HAProxy (deploy/haproxy), when HAProxy is installed (.ci/run installs it).
if command -v haproxy >/dev/null; then
  python3 tests-external/haproxy_test.py .build/debug/wasm-sandbox
elif [ -n "${CI:-}" ]; then
  echo "test.sh: haproxy is not installed, and CI must run the replicas test" >&2
  exit 1
else
  echo "test.sh: haproxy not installed (apt-get install haproxy): the replicas test is skipped" >&2
fi
