#!/usr/bin/env bash
# Builds the JavaScript engine module: quickjs-ng (from its pinned PyPI sdist) with our runner
# (engines/javascript), compiled to a wasm32-wasi command by the Swift toolchain's clang and
# pre-initialised by `wasmtime wizer`. The result is cached under .deps/javascript by a hash
# of every input, so it is rebuilt only when one changes, and installed as
# $PREFIX/share/wasm-sandbox/javascript.wasm. Called by scripts/setup.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps="$root/.deps"
prefix="${WASM_SANDBOX_PREFIX:-/usr/local}"
log() { printf 'build-js-engine: %s\n' "$*" >&2; }

quickjs_version=0.17.0.2
quickjs_sdist="quickjs_ng-${quickjs_version}.tar.gz"
quickjs_sha256=43d2e48272208721a7aaea8e3f02d4b9318f12ef20cc4f5421b59d9a470706ef
sources=(quickjs libregexp libunicode dtoa)
builtins=/usr/lib/llvm-16/lib/clang/16/lib/wasi/libclang_rt.builtins-wasm32.a

clang="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
[ -x "$clang" ] || { log "the Swift toolchain's clang was not found next to swift"; exit 1; }
wasmtime="$deps/wasmtime-cli/wasmtime"
[ -x "$wasmtime" ] || { log "run scripts/setup.sh first: $wasmtime is missing"; exit 1; }

# The WASI sysroot and the wasm32 compiler builtins come from Debian.
if [ ! -f /usr/lib/wasm32-wasi/libc.a ] || [ ! -f "$builtins" ]; then
  if [ "$(id -u)" != 0 ]; then log "install wasi-libc and libclang-rt-16-dev-wasm32 (apt-get)"; exit 1; fi
  log "installing wasi-libc and libclang-rt-16-dev-wasm32"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wasi-libc libclang-rt-16-dev-wasm32 >/dev/null
fi

downloads="$deps/downloads"
mkdir -p "$downloads"
if ! echo "$quickjs_sha256  $downloads/$quickjs_sdist" | sha256sum -c --status 2>/dev/null; then
  log "downloading quickjs-ng==$quickjs_version (sdist)"
  rm -f "$downloads/$quickjs_sdist"
  python3 -m pip download --quiet --no-deps --no-binary=:all: --dest "$downloads" "quickjs-ng==$quickjs_version"
  echo "$quickjs_sha256  $downloads/$quickjs_sdist" | sha256sum -c --status || { log "checksum mismatch for $quickjs_sdist"; exit 1; }
fi

cflags=(--target=wasm32-wasi --sysroot=/usr -O2 -D_WASI_EMULATED_SIGNAL)
# The shadow stack (in linear memory) is 2 MiB and placed first, so an overflow traps instead
# of overwriting data; the runner keeps QuickJS's own limit below it.
# Linking takes the compiler builtins from Debian's clang 16 resource directory.
ldflags=(-Wl,-z,stack-size=2097152 -Wl,--stack-first -lwasi-emulated-signal -resource-dir="${builtins%/lib/wasi/*}")
key=$( { echo "$quickjs_sha256"; cat "$root/engines/javascript/runner.c" "$root/engines/javascript/prelude.js" \
  "${BASH_SOURCE[0]}"; "$clang" --version | head -1; "$wasmtime" --version; } | sha256sum | cut -c1-16)
out="$deps/javascript/engine-$key.wasm"

if [ ! -f "$out" ]; then
  log "building the QuickJS engine module ($key)"
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  tar -xzf "$downloads/$quickjs_sdist" -C "$work"
  upstream="$work/quickjs_ng-$quickjs_version/upstream-quickjs"
  python3 - "$root/engines/javascript/prelude.js" "$work/prelude.h" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "w") as header:
    header.write("static const unsigned char prelude_js[] = {%s};\n" % ",".join(map(str, data)))
    header.write("static const unsigned int prelude_js_len = %d;\n" % len(data))
PY
  for name in "${sources[@]}"; do
    "$clang" "${cflags[@]}" -c "$upstream/$name.c" -o "$work/$name.o" &
  done
  "$clang" "${cflags[@]}" -I"$upstream" -I"$work" -c "$root/engines/javascript/runner.c" -o "$work/runner.o" &
  wait
  for name in "${sources[@]}" runner; do [ -f "$work/$name.o" ] || { log "compiling $name.c failed"; exit 1; }; done
  "$clang" "${cflags[@]}" "$work"/*.o -o "$work/engine.wasm" "${ldflags[@]}"
  RUST_BACKTRACE=0 "$wasmtime" wizer -S cli=y -f wizer.initialize "$work/engine.wasm" -o "$work/engine.wizer.wasm"
  mkdir -p "$deps/javascript"
  rm -f "$deps"/javascript/engine-*.wasm
  mv "$work/engine.wizer.wasm" "$out"
fi

mkdir -p "$prefix/share/wasm-sandbox"
if ! cmp -s "$out" "$prefix/share/wasm-sandbox/javascript.wasm"; then
  install -m 0644 "$out" "$prefix/share/wasm-sandbox/javascript.wasm.tmp"
  mv -f "$prefix/share/wasm-sandbox/javascript.wasm.tmp" "$prefix/share/wasm-sandbox/javascript.wasm"
  log "installed $prefix/share/wasm-sandbox/javascript.wasm"
fi
