#!/usr/bin/env bash
# Builds the fuzzing tools into fuzz/build/ (or $FUZZ_BUILD_DIR):
#   libgss_standin.so  the GSS-API stand-in (test only; see gss_standin.c)
#   fuzz_client        the libFuzzer harness, with ASan and UBSan (clang)
#   fuzz_replay        the same harness with a plain main(), no sanitizer,
#                      to replay saved inputs (valgrind, compilers without
#                      libFuzzer)
# FUZZ_NO_LIBFUZZER=1 skips fuzz_client. Needs clang with the libFuzzer runtime for fuzz_client (Debian: apt-get
# install clang libclang-rt-14-dev); without it only the others are built and
# the script says so.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${FUZZ_BUILD_DIR:-$here/build}
mkdir -p "$out"

src=("$root"/vendor/libremctl/src/*.c)
includes=(-I"$root/vendor/libremctl/include" -I"$root/vendor/libremctl/src")
# No -Werror here: gcc at -O1 warns falsely "may be used uninitialized"
# in code CMake builds cleanly; the CMake builds of the test scripts use
# -Werror (REMCTL_WERROR).
warnings=(-Wall -Wextra)
cc=${CC:-cc}

"$cc" -std=c11 -D_GNU_SOURCE -O1 -g -fPIC -shared "${warnings[@]}" \
  -o "$out/libgss_standin.so" "$here/gss_standin.c"

"$cc" -std=c11 -D_GNU_SOURCE -O1 -g "${warnings[@]}" "${includes[@]}" \
  -o "$out/fuzz_replay" "$here/fuzz_client.c" "$here/replay_main.c" "${src[@]}" \
  -Wl,--wrap=poll -ldl -lpthread

clang=${CLANG:-clang}
if [ -n "${FUZZ_NO_LIBFUZZER:-}" ]; then
  echo "built $out/fuzz_replay, $out/libgss_standin.so"
elif command -v "$clang" >/dev/null 2>&1 \
  && echo 'int LLVMFuzzerTestOneInput(const char *d, long n){return 0;}' \
     | "$clang" -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
  "$clang" -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    "${warnings[@]}" "${includes[@]}" \
    -o "$out/fuzz_client" "$here/fuzz_client.c" "${src[@]}" \
    -Wl,--wrap=poll -ldl -lpthread
  echo "built $out/fuzz_client, $out/fuzz_replay, $out/libgss_standin.so"
else
  echo "clang with libFuzzer not found: built only $out/fuzz_replay and" \
       "$out/libgss_standin.so (apt-get install clang libclang-rt-14-dev)" >&2
fi
