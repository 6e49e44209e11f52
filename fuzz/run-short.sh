#!/usr/bin/env bash
# A short fuzz pass for CI: builds the harness if needed, then runs libFuzzer
# for FUZZ_SECONDS (default 45) on the saved corpus fuzz/corpus/. New inputs
# go to a temporary directory, so the checkout is not changed. Exits non-zero
# when the fuzzer finds a crash, a sanitizer report, a leak or a hang (the
# crashing input is left in fuzz/build/ and named in the output).
# Extra arguments go to libFuzzer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${FUZZ_BUILD_DIR:-$here/build}
seconds=${FUZZ_SECONDS:-45}

if [ ! -x "$out/fuzz_client" ] || [ -n "$(find "$here" -maxdepth 1 -name '*.c' -newer "$out/fuzz_client")" ] \
   || [ -n "$(find "$here/../vendor/libremctl/src" -newer "$out/fuzz_client")" ]; then
  "$here/build.sh"
fi
if [ ! -x "$out/fuzz_client" ]; then
  echo "run-short.sh: no fuzz_client (needs clang with libFuzzer)" >&2
  exit 1
fi

new=$(mktemp -d)
trap 'rm -rf "$new"' EXIT
export REMCTL_GSSAPI_LIBRARY="$out/libgss_standin.so"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$out"
exec ./fuzz_client -max_total_time="$seconds" -max_len=65536 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 "$@" "$new" "$here/corpus"
