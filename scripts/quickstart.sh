#!/usr/bin/env bash
# Sets everything up, builds the release CLI and runs the bundled examples through it. Uses
# the prefix setup.sh was given (see scripts/prefix.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
./scripts/setup.sh
source scripts/prefix.sh
swift build -c release "${link_flags[@]}" --product wasm-sandbox
swift build -c release "${link_flags[@]}" --product wasm-sandbox-compile  # compiles request modules under a budget
bin=.build/release/wasm-sandbox
$bin prepare  # compiles the engines once (Python: minutes); later processes load them in milliseconds
show() {  # show DESCRIPTION COMMAND...: runs one example and prints its JSON result
  echo "== $1"
  echo "\$ wasm-sandbox ${*:2}"
  "$bin" "${@:2}" || true
  echo
}
show "a greeting, output passed through" run examples/hello.wat
show "the same run as JSON" run examples/hello.wat --json
show "an endless loop stopped at its 500 ms deadline" run examples/spin.wat --timeout-ms 500 --json
show "a loop stopped by its fuel budget" run examples/spin-counting.wat --fuel 1000000 --json
show "a memory bomb stopped at 32 MiB" run examples/memory-bomb.wat --memory-mb 32 --json
show "a guest exit code" run examples/exit.wat --json -- 3
show "JavaScript: Node-style console output, a timer, arguments" run examples/hello.js -- one two
show "JavaScript: a CPU-bound script" run examples/primes.js --json
show "JavaScript: an endless loop stopped at 300 ms" run --code 'while (true) {}' --timeout-ms 300 --json
show "Python: CPython 3.15 (precompiled by prepare)" run examples/hello.py -- x y
show "Python: pandas, imported ahead in the engine's snapshot" run --lang python --code 'import pandas as pd; print(pd.DataFrame({"city": ["Oslo", "Lima", "Oslo"], "sales": [3, 5, 4]}).groupby("city").sum())'
show "Python: an exception" run --lang python --code 'raise ValueError("no")' --json
show "the health check" health
