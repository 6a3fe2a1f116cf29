#!/usr/bin/env bash
# Installs numpy and pandas, pinned by hash, into .deps/bench-venv: the native CPython that
# `wasm-sandbox-bench library --suite python` times next to the sandbox's Python. Optional;
# only the benchmark uses it. Rebuilt when the lock file changes.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lock="$root/tests-external/bench-requirements.lock"
venv="$root/.deps/bench-venv"
if ! cmp -s "$lock" "$venv/requirements.lock"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r "$lock"
  cp "$lock" "$venv/requirements.lock"
fi
"$venv/bin/python" -c 'import numpy, pandas; print("bench-venv: numpy", numpy.__version__, "pandas", pandas.__version__)'
