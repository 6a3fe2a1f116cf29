#!/usr/bin/env bash
# Checks the README's set-up without root; run as root, by .ci/run, after scripts/test.sh.
#
# A fresh unprivileged user gets a copy of this checkout and does what the README says:
# `WASM_SANDBOX_PREFIX=$HOME/.local ./scripts/setup.sh`, then `./scripts/install.sh`. Then,
# with a clean environment (no WASM_SANDBOX_* variable, no LD_LIBRARY_PATH) and with the
# /usr/local copies of libwasmtime, the engines and the tool hidden, the installed tool runs
# a WAT, a JavaScript and a Python hello: nothing the root set-up installed can stand in for
# what the user installed.
#
# To keep CI short it reuses what the root run has: the pinned downloads (setup checks them
# again) and the binaries test.sh built (with $ORIGIN/../lib in their rpath), so no Swift is
# built twice. The JavaScript engine is built again, as the user would, and install.sh compiles
# the engines for the user's prefix (minutes, for Python).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
user=${WASM_SANDBOX_TEST_USER:-wasm-sandbox-ci}
log() { printf 'nonroot-test: %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "run as root: it creates the user $user"; exit 1; }
for name in wasm-sandbox wasm-sandbox-compile; do
  [ -x "$root/.build/debug/$name" ] || { log "run scripts/test.sh first: .build/debug/$name is missing"; exit 1; }
done
[ -d "$root/.deps/downloads" ] || { log "run scripts/setup.sh first: .deps/downloads is missing"; exit 1; }

id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
home=$(getent passwd "$user" | cut -d: -f6)
checkout="$home/wasm-sandbox"
rm -rf "$checkout" "$home/.local" "$home/.cache/wasm-sandbox"
mkdir -p "$checkout/.deps" "$checkout/.build/debug"
# What a clone holds (with local changes not yet committed), without .build or .deps.
git -c safe.directory='*' -C "$root" ls-files -z --cached --others --exclude-standard |
  tar -C "$root" --null --files-from=- --ignore-failed-read -cf - | tar -C "$checkout" -xf -
cp -a "$root/.deps/downloads" "$checkout/.deps/"
# The pre-initialised Python engine, cached under its inputs' hash (its build checks it).
cp -a "$root/.deps/python" "$checkout/.deps/"
cp "$root/.build/debug/wasm-sandbox" "$root/.build/debug/wasm-sandbox-compile" "$checkout/.build/debug/"
chown -R "$user:" "$checkout"

swift_bin=$(dirname "$(readlink -f "$(command -v swift)")")
# as_user SCRIPT: runs SCRIPT in the user's checkout with the environment a login would give.
as_user() {
  runuser -u "$user" -- env -i HOME="$home" USER="$user" LANG=C.UTF-8 PATH="$swift_bin:/usr/bin:/bin" \
    bash -euo pipefail -c "cd \"\$HOME/wasm-sandbox\"; $1"
}

log "setting up as $user, prefix ~/.local"
marker=$(mktemp); trap 'rm -f "$marker"' EXIT
as_user 'WASM_SANDBOX_PREFIX=$HOME/.local ./scripts/setup.sh && ./scripts/install.sh'
# Set-up writes only the prefix and .deps (install.sh's health check may start the per-user
# module cache); the directories holding them change too.
written=$(find "$home" /tmp /var/tmp /dev/shm -newer "$marker" -user "$user" \
  ! -path "$home" ! -path "$home/.local" ! -path "$home/.local/*" ! -path "$checkout/.deps" ! -path "$checkout/.deps/*" \
  ! -path "$home/.cache" ! -path "$home/.cache/wasm-sandbox" ! -path "$home/.cache/wasm-sandbox/*" 2>/dev/null || true)
[ -z "$written" ] || { log "set-up wrote outside the prefix and .deps:"; echo "$written" >&2; exit 1; }

smoke='
bin=$HOME/.local/bin/wasm-sandbox
library=$(ldd "$bin" | sed -n "s/^[[:space:]]*libwasmtime.so => \(.*\) (0x.*/\1/p")
[ "$(readlink -f "$library")" = "$HOME/.local/lib/libwasmtime.so" ] || { echo "libwasmtime from ${library:-nowhere}" >&2; exit 1; }
[ "$("$bin" run examples/hello.wat)" = "Hello from the sandbox!" ]
[ "$("$bin" run --code "setTimeout(() => console.log(\"hello from\", \"JavaScript\"), 1)")" = "hello from JavaScript" ]
[ "$("$bin" run --lang python --code "import pandas; print(\"hello from Python\", pandas.__version__)" 2>/dev/null)" = "hello from Python 3.0.6" ]
echo "nonroot-test: the installed tool runs WAT, JavaScript and Python on its own" >&2
'
hidden=()
for path in /usr/local/lib/libwasmtime.so /usr/local/share/wasm-sandbox /usr/local/bin/wasm-sandbox \
  /usr/local/bin/wasm-sandbox-compile; do
  [ -e "$path" ] && hidden+=("$path")
done
if unshare --mount --propagation private true 2>/dev/null; then
  log "running as $user with ${hidden[*]:-nothing} hidden"
  export -f as_user; export user home swift_bin
  unshare --mount --propagation private bash -euo pipefail -c '
    for path in "${@:2}"; do
      if [ -d "$path" ]; then mount -t tmpfs -o ro tmpfs "$path"; else mount --bind /dev/null "$path"; fi
    done
    as_user "$1"' _ "$smoke" "${hidden[@]}"
else
  log "no mount namespace here, so /usr/local stays visible: the ldd check alone shows the library is the user's"
  as_user "$smoke"
fi
