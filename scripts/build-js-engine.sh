#!/usr/bin/env bash
# Builds the JavaScript engine module: quickjs-ng (from its pinned PyPI sdist) with our runner
# (engines/javascript), compiled to a wasm32-wasi reactor by the Swift toolchain's clang and
# pre-initialised by `wasmtime wizer`. The result is cached under .deps/javascript by a hash
# of every input, so it is rebuilt only when one changes, and installed as
# $PREFIX/share/wasm-sandbox/javascript.wasm. Called by scripts/setup.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps="$root/.deps"
prefix="${WASM_SANDBOX_PREFIX:-$(cat "$deps/prefix" 2>/dev/null || echo /usr/local)}"
log() { printf 'build-js-engine: %s\n' "$*" >&2; }

quickjs_version=0.17.0.2
quickjs_sdist="quickjs_ng-${quickjs_version}.tar.gz"
quickjs_sha256=43d2e48272208721a7aaea8e3f02d4b9318f12ef20cc4f5421b59d9a470706ef
sources=(quickjs libregexp libunicode dtoa)

clang="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
[ -x "$clang" ] || { log "the Swift toolchain's clang was not found next to swift"; exit 1; }
wasmtime="$deps/wasmtime-cli/wasmtime"
[ -x "$wasmtime" ] || { log "run scripts/setup.sh first: $wasmtime is missing"; exit 1; }

# Where this clang links the wasm32 compiler builtins from. The Swift toolchain ships none
# for wasm32; Debian does, in the resource directory of its own LLVM (any version: the
# builtins' ABI is stable), so the one nearest the toolchain's LLVM stands in at link time.
resource_dir=$("$clang" -print-resource-dir)
wanted_builtins=$("$clang" --target=wasm32-wasi -rtlib=compiler-rt -print-libgcc-file-name)
clang_major=${resource_dir##*/}
# nearest: from LLVM major versions on stdin, the newest not above clang's, else the oldest.
nearest() { sort -n | awk -v max="$clang_major" '$1 <= max { best = $1 } !first { first = $1 } END { print best ? best : first }'; }
find_builtins() {
  local found major
  major=$(for found in /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a \
                       /usr/lib/llvm-*/lib/clang/*/lib/wasm32-unknown-wasi/libclang_rt.builtins.a; do
            [ -f "$found" ] && { found=${found#/usr/lib/llvm-}; echo "${found%%/*}"; }
          done | nearest)
  [ -n "$major" ] && ls /usr/lib/llvm-"$major"/lib/clang/*/lib/{wasi/libclang_rt.builtins-wasm32.a,wasm32-unknown-wasi/libclang_rt.builtins.a} 2>/dev/null | head -1
  return 0
}
builtins=$wanted_builtins
[ -f "$builtins" ] || builtins=$(find_builtins)

# The WASI sysroot and the wasm32 compiler builtins come from Debian.
if [ ! -f /usr/lib/wasm32-wasi/libc.a ] || [ -z "$builtins" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing wasi-libc or the wasm32 compiler builtins: as root, apt-get install wasi-libc libclang-rt-NN-dev-wasm32"
    exit 1
  fi
  apt-get update -qq
  packages=(wasi-libc)
  if [ -z "$builtins" ]; then
    major=$(apt-cache search --names-only '^libclang-rt-[0-9]+-dev-wasm32$' | sed -E 's/^libclang-rt-([0-9]+).*/\1/' | nearest)
    [ -n "$major" ] || { log "no libclang-rt-NN-dev-wasm32 package is available"; exit 1; }
    packages+=("libclang-rt-$major-dev-wasm32")
  fi
  log "installing ${packages[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  [ -n "$builtins" ] || builtins=$(find_builtins)
  [ -n "$builtins" ] || { log "${packages[*]} installed no wasm32 builtins where expected"; exit 1; }
fi

downloads="$deps/downloads"
source "$root/scripts/download.sh"
download_pinned "$quickjs_sdist" "$quickjs_sha256" "quickjs-ng==$quickjs_version (sdist)" \
  --no-binary=:all: "quickjs-ng==$quickjs_version"

cflags=(--target=wasm32-wasi --sysroot=/usr -O2 -D_WASI_EMULATED_SIGNAL)
# A reactor (no `_start`: the host calls `turn`). The shadow stack (in linear memory) is 2 MiB
# and placed first, so an overflow traps instead of overwriting data; the runner keeps
# QuickJS's own limit below it.
ldflags=(-mexec-model=reactor -Wl,-z,stack-size=2097152 -Wl,--stack-first -lwasi-emulated-signal)
key=$( { echo "$quickjs_sha256"; cat "$root/engines/javascript/runner.c" "$root/engines/javascript/prelude.js" \
  "${BASH_SOURCE[0]}" "$builtins"; "$clang" --version | head -1; "$wasmtime" --version; } | sha256sum | cut -c1-16)
out="$deps/javascript/engine-$key.wasm"

if [ ! -f "$out" ]; then
  log "building the QuickJS engine module ($key)"
  work=$(mktemp -d "$deps/build-js.XXXXXX"); trap 'rm -rf "$work"' EXIT
  if [ "$builtins" != "$wanted_builtins" ]; then
    # clang insists on its own resource directory's layout, so the builtins found elsewhere
    # are placed where it looks, in a private resource directory used for linking only.
    resource="$work/resource"
    relative=${wanted_builtins#"$resource_dir"/}
    mkdir -p "$resource/$(dirname "$relative")"
    ln -s "$builtins" "$resource/$relative"
    ldflags+=(-resource-dir="$resource")
  fi
  tar -xzf "$downloads/$quickjs_sdist" -C "$work"
  upstream="$work/quickjs_ng-$quickjs_version/upstream-quickjs"
  python3 - "$root/engines/javascript/prelude.js" "$work/prelude.h" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "w") as header:
    header.write("static const unsigned char prelude_js[] = {%s};\n" % ",".join(map(str, data)))
    header.write("static const unsigned int prelude_js_len = %d;\n" % len(data))
PY
  # Compiled in parallel; each compiler is waited for by its pid, since a bare `wait` would
  # return 0 whatever they returned.
  declare -A compiling=()
  for name in "${sources[@]}"; do
    "$clang" "${cflags[@]}" -c "$upstream/$name.c" -o "$work/$name.o" &
    compiling[$name]=$!
  done
  "$clang" "${cflags[@]}" -I"$upstream" -I"$work" -c "$root/engines/javascript/runner.c" -o "$work/runner.o" &
  compiling[runner]=$!
  failed=()
  for name in "${!compiling[@]}"; do wait "${compiling[$name]}" || failed+=("$name.c"); done
  [ ${#failed[@]} = 0 ] || { log "compiling failed: ${failed[*]}"; exit 1; }
  "$clang" "${cflags[@]}" "$work"/*.o -o "$work/engine.wasm" "${ldflags[@]}"
  # host.call is the sandbox's, left unbound here: initialisation never calls it. Without
  # -C cache=n the CLI would keep its compiled copy in ~/.cache/wasmtime, outside the prefix
  # and .deps; it compiles this module once anyway.
  RUST_BACKTRACE=0 "$wasmtime" wizer -C cache=n -S cli=y -W unknown-imports-trap=y -f wizer.initialize "$work/engine.wasm" -o "$work/engine.wizer.wasm"
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
