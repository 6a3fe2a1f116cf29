#!/usr/bin/env bash
# Sets up (idempotent) and runs every test: the Swift test suites, then the CLI end to end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
swift build
swift test
./scripts/cli-test.sh
