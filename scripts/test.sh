#!/usr/bin/env bash
# Sets up (idempotent) and runs every test: the Swift test suites, the CLI end to end, and the
# MCP server with the official MCP Python SDK as an external client. Uses the prefix setup.sh
# was given (see scripts/prefix.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
./scripts/setup.sh
source scripts/prefix.sh
swift build "${link_flags[@]}"
swift test "${link_flags[@]}"
./scripts/cli-test.sh
# The external MCP client, pinned, in a virtual environment of its own.
if [ ! -x .deps/venv/bin/python ] || ! .deps/venv/bin/python -c 'import mcp' 2>/dev/null; then
  python3 -m venv .deps/venv
  .deps/venv/bin/python -m pip install --quiet --disable-pip-version-check mcp==1.30.0
fi
.deps/venv/bin/python tests-external/mcp_client_test.py .build/debug/wasm-sandbox
