#!/usr/bin/env bash
# Checks the built `wasm-sandbox` CLI end to end: exit statuses, JSON output, passthrough.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=.build/debug/wasm-sandbox
bench=.build/debug/wasm-sandbox-bench
passed=0 failed=0
# check NAME EXPECTED_STATUS EXPECTED_OUTPUT -- COMMAND...: the output (stdout and stderr)
# contains EXPECTED_OUTPUT, or is exactly what follows a leading "=".
check() {
  local name=$1 want_status=$2 want_text=$3; shift 4
  local out status matched
  out=$("$@" 2>&1); status=$?
  if [[ "$want_text" == =* ]]; then [ "$out" = "${want_text#=}" ] && matched=1; else [[ "$out" == *"$want_text"* ]] && matched=1; fi
  if [ "$status" = "$want_status" ] && [ -n "${matched:-}" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAIL $name: status $status (want $want_status), output: ${out:0:300}"
  fi
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'not wasm' >"$tmp/bad.wasm"; : >"$tmp/empty.wasm"; echo "data" >"$tmp/in.txt"
check hello 0 "Hello from the sandbox!" -- $bin run examples/hello.wat
check hello-json 0 '"status":"ok"' -- $bin run examples/hello.wat --json
check timeout 124 '"status":"timed_out"' -- $bin run examples/spin.wat --timeout-ms 200 --json
check timeout-text 124 "wasm-sandbox: timed_out" -- $bin run examples/spin.wat --timeout-ms 200
check exit-code 7 "=" -- $bin run examples/exit.wat -- 7
check memory 137 '"status":"memory_limit"' -- $bin run examples/memory-bomb.wat --memory-mb 16 --json
check fuel 152 '"status":"out_of_fuel"' -- $bin run examples/spin-counting.wat --fuel 100000 --json
check bad-wasm 65 "invalid WebAssembly module" -- $bin run "$tmp/bad.wasm"
check empty 65 "empty module" -- $bin run "$tmp/empty.wasm" --json
check unknown-type 64 "unknown file type" -- $bin run "$tmp/in.txt"
check bad-dir 64 "is not a directory" -- $bin run examples/hello.wat --dir /nonexistent
check bad-env 64 "NAME=VALUE" -- $bin run examples/hello.wat --env nope
printf 'console.log("ok")\n\xc3\x28' >"$tmp/bad-utf8.js"
check js-file 0 "Hello { from: 'the sandbox'" -- $bin run examples/hello.js -- a b
check js-args 0 "args: [ 'a', 'b' ]" -- $bin run examples/hello.js -- a b
check js-code 0 "=3" -- $bin run --code 'console.log(1 + 2)'
check js-lang 0 "1229 primes below 10000" -- $bin run --lang js examples/primes.js -- 10000
check js-throw 1 "Error: boom" -- $bin run --code 'throw new Error("boom")'
check js-timeout 124 '"status":"timed_out"' -- $bin run --code 'for (;;) {}' --timeout-ms 200 --json
check wasmkit-wat 0 "Hello from the sandbox!" -- $bin run --backend wasmkit examples/hello.wat
check wasmkit-js 0 "=3" -- $bin run --backend wasmkit --code 'console.log(1 + 2)'
check wasmkit-timeout 124 '"status":"timed_out"' -- $bin run --backend wasmkit --code 'for (;;) {}' --timeout-ms 200 --json
check wasmkit-python 65 "legacy exception-handling" -- $bin run --backend wasmkit --lang python --code 'print(1)'
# The WasmKit product alone: it runs, and nothing it links is libwasmtime.
example="$(dirname "$bin")/wasmkit-example"
check wasmkit-product 0 "hello from WasmKit" -- "$example"
check wasmkit-product-links 1 "" -- bash -c "ldd '$example' | grep wasmtime"
check bad-backend 64 "wasmtime" -- $bin run --backend v8 examples/hello.wat
check wasmkit-repl 64 "only the wasmtime backend" -- $bin repl --backend wasmkit
check js-utf8 65 "not valid UTF-8 (at byte 18)" -- $bin run "$tmp/bad-utf8.js"
check code-and-file 64 "not both" -- $bin run examples/hello.js --code '1'
check py-file 0 '"args": ["x"]' -- $bin run examples/hello.py -- x
check py-code 0 "=6" -- $bin run --lang python --code 'print(2 * 3)'
check py-exit 3 "=" -- $bin run --lang python --code 'import sys; sys.exit(3)'
check py-traceback 1 "ZeroDivisionError" -- $bin run --lang python --code '1/0'
check py-stdin 0 "DATA" -- $bin run --lang python --code 'import sys; print(sys.stdin.read().upper())' --stdin "$tmp/in.txt"
# repl: piped input is one cell per blank-line-separated block; state persists; a cell that
# times out ends the session and the command with the timeout's status.
printf 'x = 20\n\ndef f(n):\n    return n + 1\n\nf(x) * 2\n\nprint("hi")\n' >"$tmp/cells.py"
check repl-python 0 $'=42\nhi' -- sh -c "$bin repl < $tmp/cells.py"
printf 'let a = [1, 2]\n\na.map((x) => x * 2)\n\nfor (;;) {}\n\na\n' >"$tmp/cells.js"
check repl-js-timeout 124 "the session has ended" -- sh -c "$bin repl --lang js --timeout-ms 300 < $tmp/cells.js"
check repl-js-value 124 "[ 2, 4 ]" -- sh -c "$bin repl --lang js --timeout-ms 300 < $tmp/cells.js"
check repl-wasm 64 "--lang must be python or javascript" -- $bin repl --lang wat
# On a terminal: a prompt, a block ended by a blank line, Ctrl-D to leave.
# (`script` runs the REPL on a pseudo-terminal fed from its stdin, and passes on its end.)
check repl-terminal 0 ">>> ... ... >>> 42" -- sh -c "printf 'def g():\n    return 7\n\ng() * 6\n' | script -qec '$bin repl' /dev/null"
# test.sh ran `prepare`: the engines load precompiled, so even an empty cache compiles nothing.
check prepare-up-to-date 0 "Python (no fuel metering): up to date" -- $bin prepare
check py-precompiled 0 "=1" -- $bin run --lang python --code 'print(1)' --cache-dir "$tmp/cache"
# Replicas may share one compile cache directory: twelve processes at once, four of each of
# three modules, all writing the same entries. Every run answers, the cache holds exactly one
# entry per module (no temporary file left, nothing torn), and each entry loads afterwards.
shared=$tmp/shared-cache
concurrent_writers() {
  local pids=() i m status=0
  for i in 1 2 3 4; do
    for m in 1 2 3; do
      $bin run --cache-dir "$shared" --lang wat --code "(module (memory (export \"memory\") 1) (func (export \"_start\") (drop (i32.const $m))))" >/dev/null 2>&1 &
      pids+=($!)
    done
  done
  for i in "${pids[@]}"; do wait "$i" || status=1; done
  echo "status=$status entries=$(find "$shared" -name '*.cwasm' | wc -l) tmp=$(find "$shared" -name '*.tmp' | wc -l)"
}
check shared-cache-writers 0 "=status=0 entries=3 tmp=0" -- concurrent_writers
check shared-cache-reads 0 '"cache_hit":true' -- $bin run --json --cache-dir "$shared" --lang wat --code '(module (memory (export "memory") 1) (func (export "_start") (drop (i32.const 2))))'
check py-pandas 0 "=[3, 22]" -- $bin run --lang python --code 'import pandas as pd
print(pd.DataFrame({"k": list("abab"), "v": [1, 7, 2, 15]}).groupby("k")["v"].sum().tolist())'
mkdir -p "$tmp/plots"
check py-plot 0 "=" -- $bin run --lang python --dir "$tmp/plots::/workspace:rw" --code 'import matplotlib.pyplot as plt
plt.plot([1, 3, 2]); plt.show()'
check py-plot-png 0 "=89504e470d0a1a0a" -- sh -c "head -c 8 '$tmp/plots/figure-1.png' | od -An -tx1 | tr -d ' \n'"
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
call='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sandbox_health","arguments":{}}}'
# serve LINES...: feeds the lines to `serve` over stdio and keeps its input open until the
# answer to id 2 has come (or a minute has passed), then prints everything it answered. An
# `initialize` first is answered before the rest is sent, as the protocol has clients wait.
serve() {
  local out; out=$(mktemp -p "$tmp")
  awaiting() { for _ in $(seq 600); do grep -q "$1" "$out" && return; sleep 0.1; done; }
  {
    if [[ "$1" == *'"method":"initialize"'* ]]; then printf '%s\n' "$1"; shift; awaiting '"id":1'; fi
    printf '%s\n' "$@"; awaiting '"id":2'
  } | $bin serve --log-level critical >"$out"
  cat "$out"
}
serve_malformed() { serve "$init" '{"jsonrpc":"2.0","method":"notifications/initialized"}' 'this is not json' '{"jsonrpc":"2.0","id":' "$call"; }
check mcp-malformed 0 '"code":-32700,"message":"not valid JSON: Invalid value around character 1."' -- serve_malformed
check mcp-serves-after-malformed 0 '"healthy":true' -- serve_malformed
check health 0 '"healthy":true' -- $bin health
# A number no Int holds used to trap the server in Int(Double); now it is an error and the server goes on.
huge='{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"execute_code","arguments":{"language":"javascript","code":"1","timeout_ms":1e300}}}'
serve_huge() { serve "$init" '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$huge" "$call"; }
check mcp-huge-number 0 "'timeout_ms' must be an integer from 1 to 86400000, got 1e+300" -- serve_huge
check mcp-serves-after-huge-number 0 '"healthy":true' -- serve_huge
serve_uninitialized() { serve "$call"; }
check mcp-call-before-initialize 0 '"message":"Invalid Request: the session is not initialized: send '"'"'initialize'"'"' first"},"id":2' -- serve_uninitialized
# Numeric flags outside their documented ranges are usage errors (64), never a trap or a silent wrap.
check timeout-huge 64 "is invalid for '--timeout-ms" -- $bin run examples/hello.wat --timeout-ms 1e300
check timeout-too-long 64 "--timeout-ms must be an integer from 1 to 86400000, got 86400001" -- $bin run examples/hello.wat --timeout-ms 86400001
check memory-huge 64 "--memory-mb must be an integer from 1 to 4096, got 99999999999999" -- $bin run examples/hello.wat --memory-mb 99999999999999
check output-huge 64 "--max-output-kb must be an integer from 0 to 1048576" -- $bin run examples/hello.wat --max-output-kb 9007199254740993
check fuel-zero 64 "--fuel must be an integer from 1 to 9007199254740992, got 0" -- $bin run examples/hello.wat --fuel 0
check fuel-huge 64 "--fuel must be an integer from 1 to 9007199254740992" -- $bin run examples/hello.wat --fuel 18446744073709551615
check soak-clients 64 "--clients must be an integer from 1 to 1024" -- $bench soak --clients 99999999
check bench-negative 64 "--iterations must be an integer from 1 to 100000000, got 0" -- $bench library --iterations 0
check bench-process 64 "--iterations must be an integer from 1 to 10000, got 0" -- $bench process --iterations 0
check bench-mcp-calls 64 "--calls must be an integer from 1 to 100000, got 9223372036854775807" -- $bench mcp --calls 9223372036854775807
check bench-mcp-clients 64 "--clients must be an integer from 1 to 256, got -1" -- $bench mcp --clients=-1
check removed-bench 64 "Unexpected argument 'bench'" -- $bin bench
check serve-memory-flag 64 "--max-memory-mb must be an integer from 1 to 4096" -- $bin serve --max-memory-mb 99999999999999
check serve-memory-env 64 "MCP_SANDBOX_MAX_MEMORY_MB must be an integer from 1 to 4096, got '99999999999999'" -- env MCP_SANDBOX_MAX_MEMORY_MB=99999999999999 $bin serve
check serve-port 64 "--http must look like HOST:PORT" -- $bin serve --http 127.0.0.1:99999999999999999999
# Overlong command lines are refused before ArgumentParser (whose parsing is quadratic) sees them.
many_env=(); for _ in $(seq 10000); do many_env+=(--env A=1); done
check argv-cap 64 "20002 command-line arguments exceed the limit of 4096" -- $bin run examples/hello.wat "${many_env[@]}"
check options-cap 64 "1202 options and values exceed the limit of 1024" -- $bin run examples/hello.wat "${many_env[@]:0:1200}"
many_args=(); for _ in $(seq 4000); do many_args+=(x); done
check guest-args 0 "3900 more items" -- $bin run examples/hello.js -- "${many_args[@]}"
echo "cli: $passed passed, $failed failed"
[ "$failed" = 0 ]
