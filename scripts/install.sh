#!/usr/bin/env bash
# Installs the built `wasm-sandbox` and its compile helper into $PREFIX/bin, the prefix
# setup.sh was given (see scripts/prefix.sh). There they find libwasmtime in ../lib (their
# rpath), the engines in ../share/wasm-sandbox and each other, with no environment variable.
# Builds nothing: takes the binaries from the directory given, else .build/release, else
# .build/debug, as quickstart.sh or test.sh built them (they add the rpath).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/prefix.sh"
log() { printf 'install: %s\n' "$*" >&2; }

from=${1:-}
if [ -z "$from" ]; then
  for candidate in "$root/.build/release" "$root/.build/debug"; do
    if [ -x "$candidate/wasm-sandbox" ] && [ -x "$candidate/wasm-sandbox-compile" ]; then from=$candidate; break; fi
  done
fi
[ -n "$from" ] || { log "nothing to install: build first (scripts/quickstart.sh or scripts/test.sh)"; exit 1; }

mkdir -p "$prefix/bin"
for name in wasm-sandbox wasm-sandbox-compile; do
  install -m 0755 "$from/$name" "$prefix/bin/$name.tmp"
  mv -f "$prefix/bin/$name.tmp" "$prefix/bin/$name"
done
# What the installed tool finds must not depend on the caller's environment.
if ! env -u WASM_SANDBOX_PREFIX -u LD_LIBRARY_PATH -u WASM_SANDBOX_JS_ENGINE -u WASM_SANDBOX_PYTHON \
  -u WASM_SANDBOX_COMPILER "$prefix/bin/wasm-sandbox" health >/dev/null; then
  log "$prefix/bin/wasm-sandbox does not run on its own; binaries from a plain \`swift build\` lack the"
  log "rpath to $prefix/lib: build with scripts/quickstart.sh or scripts/test.sh"
  exit 1
fi
# The engines' compiled code is keyed to the installed engine files: compile it for them once.
"$prefix/bin/wasm-sandbox" prepare
log "installed $prefix/bin/wasm-sandbox and wasm-sandbox-compile (from $from)"
