#!/usr/bin/env bash
# Runs every external MCP client test, tests-external/clients/<client>/test.py, against a server binary
# ($1, default .build/debug/wasm-sandbox), each client in a virtual environment of its own,
# .deps/venvs/<client>, installed from its hash-pinned requirements.lock and rebuilt whenever that lock
# changes. Runs all clients even if one fails; prints one summary line per client; exits non-zero if
# any failed. CLIENTS="mcp-sdk-1 fastmcp" runs only those.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
binary=$(realpath "${1:-.build/debug/wasm-sandbox}")
python=${PYTHON:-python3}
summary=()
status=0
for lock in tests-external/clients/*/requirements.lock; do
  dir=$(dirname "$lock")
  client=$(basename "$dir")
  if [ -n "${CLIENTS:-}" ] && [[ " $CLIENTS " != *" $client "* ]]; then
    continue
  fi
  venv=.deps/venvs/$client
  if ! cmp -s "$lock" "$venv/requirements.lock"; then
    rm -rf "$venv"
    if ! { "$python" -m venv "$venv" &&
           "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
             -r "$lock" &&
           cp "$lock" "$venv/requirements.lock"; }; then
      summary+=("FAIL $client: could not install $lock")
      status=1
      continue
    fi
  fi
  echo "== $client"
  log=$(mktemp)
  "$venv/bin/python" "$dir/test.py" "$binary" 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  line=$(grep -E "^$client: [0-9]+ passed" "$log" | tail -1)
  rm -f "$log"
  if [ "$code" -eq 0 ]; then
    summary+=("ok   ${line:-$client}")
  else
    summary+=("FAIL ${line:-$client: exit code $code}")
    status=1
  fi
done
echo "== client tests"
printf '%s\n' "${summary[@]}"
exit $status
