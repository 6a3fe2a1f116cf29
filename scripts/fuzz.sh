#!/usr/bin/env bash
# Builds one libFuzzer target and runs it on its corpus.
#
#   scripts/fuzz.sh TARGET [SECONDS] [LIBFUZZER-FLAG...]   fuzz (default 600 s)
#   scripts/fuzz.sh TARGET merge                           add the new inputs that add coverage
#                                                          to the committed corpus
#
# TARGET is mcp-arguments, disk-cache or wasi-shadows. The build is instrumented
# (WASM_SANDBOX_FUZZ=1) in .build-fuzz, apart from the normal one. New inputs go to
# .build-fuzz/corpus/TARGET, not to the committed Tests/FuzzCorpus/TARGET, which the normal
# test run replays; crashes are saved as .build-fuzz/artifacts/TARGET-crash-*.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-}
case "$target" in
    mcp-arguments | disk-cache | wasi-shadows) ;;
    *)
        echo "usage: $0 mcp-arguments|disk-cache|wasi-shadows [SECONDS|merge] [LIBFUZZER-FLAG...]" >&2
        exit 64
        ;;
esac
seconds=${2:-600}
shift $(($# < 2 ? $# : 2))

export WASM_SANDBOX_FUZZ=1
swift build --scratch-path .build-fuzz --product "fuzz-$target"
binary="$(swift build --scratch-path .build-fuzz --show-bin-path)/fuzz-$target"

corpus="Tests/FuzzCorpus/$target"
scratch=".build-fuzz/corpus/$target"
mkdir -p "$scratch" .build-fuzz/artifacts
flags=(-artifact_prefix=".build-fuzz/artifacts/$target-" -timeout=10 -rss_limit_mb=4096)
if [ -f "Tests/FuzzCorpus/$target.dict" ]; then flags+=(-dict="Tests/FuzzCorpus/$target.dict"); fi

# Swift's own crash handler would keep libFuzzer's from running, and with it the saving of
# the crashing input; libFuzzer prints the stack itself. (Set only now: a change in the
# environment of the build would rebuild everything.)
export SWIFT_BACKTRACE=enable=no
if [ "$seconds" = merge ]; then
    exec "$binary" "${flags[@]}" -merge=1 "$corpus" "$scratch" "$@"
fi
# The first directory receives new inputs; the committed corpus is only read.
exec "$binary" "${flags[@]}" -max_total_time="$seconds" -print_final_stats=1 "$@" "$scratch" "$corpus"
