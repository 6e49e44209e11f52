#!/usr/bin/env bash
# Line and branch coverage of libremctl by the saved fuzz corpus (or the
# directories given): builds fuzz_replay with clang's source-based coverage
# into fuzz/build/coverage/, replays the inputs, prints llvm-cov's report
# for vendor/libremctl/src.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${FUZZ_BUILD_DIR:-$here/build}/coverage
mkdir -p "$out"
version=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p')
profdata=$(command -v "llvm-profdata-$version" || command -v llvm-profdata)
cov=$(command -v "llvm-cov-$version" || command -v llvm-cov)

clang -std=c11 -D_GNU_SOURCE -O0 -g -fprofile-instr-generate -fcoverage-mapping \
  -I"$root/vendor/libremctl/include" -I"$root/vendor/libremctl/src" \
  -o "$out/fuzz_replay" "$here/fuzz_client.c" "$here/replay_main.c" \
  "$root"/vendor/libremctl/src/*.c -Wl,--wrap=poll -ldl -lpthread
clang -std=c11 -O1 -fPIC -shared -o "$out/libgss_standin.so" "$here/gss_standin.c"
rm -f "$out"/*.profraw
LLVM_PROFILE_FILE="$out/replay.profraw" REMCTL_GSSAPI_LIBRARY="$out/libgss_standin.so" \
  "$out/fuzz_replay" "${@:-$here/corpus}"
"$profdata" merge -o "$out/replay.profdata" "$out/replay.profraw"
"$cov" report "$out/fuzz_replay" -instr-profile="$out/replay.profdata" \
  "$root"/vendor/libremctl/src/*.c
