#!/usr/bin/env bash
# Builds libremctl with AddressSanitizer and UndefinedBehaviorSanitizer in a
# separate CMake build directory and runs the integration suite (pytest
# tests, or the pytest arguments given) against that build. Passes only with zero
# sanitizer reports.
#
# How Python and ASan get along: python3 is not built with ASan, so the ASan
# runtime must be loaded before anything else, or it refuses to start
# ("ASan runtime does not come first"): LD_PRELOAD=libasan.so. Every process
# the tests start inherits it (remctld, the KDC, kinit, child Pythons), which
# is harmless: in an uninstrumented program it only replaces malloc. Leak
# detection is off for these processes (detect_leaks=0): CPython does not
# free everything at exit and LeakSanitizer cannot follow pointers kept in
# Python's own allocator, so every run would end in false reports. The
# library's leaks are checked elsewhere: valgrind on the C-level tests
# (scripts/test-valgrind.sh), LeakSanitizer in the fuzzer (fuzz/run-short.sh)
# and the growth checks of tests/test_hostile.py. Every report is written to
# a log file (log_path) as well, and the script fails if any exists, so a
# report in a child process or a server cannot go unnoticed.
#
# Environment: SANITIZER_BUILD_DIR (default build/sanitizers in the checkout),
# CC (default gcc), PYTHON (default python3; needs pytest and gssapi, e.g.
# PYTHON=.venv/bin/python).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SANITIZER_BUILD_DIR:-$root/build/sanitizers}
cc=${CC:-gcc}
python=${PYTHON:-python3}
# GCC warns "may be used uninitialized" falsely under -fsanitize (its manual
# says sanitizers can cause such false positives): kept as a warning, not
# turned into an error by -Werror (REMCTL_WERROR, on here as in CI).
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
flags="$flags -Wno-error=maybe-uninitialized"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER="$cc" \
  -DREMCTL_WERROR=ON -DREMCTL_TEST_HOOKS=ON -DCMAKE_C_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  >/dev/null
cmake --build "$build" -j 2 >/dev/null
library=$(find "$build" -name libremctl.so.1 -type f | head -n 1)
runtime=$("$cc" -print-file-name=libasan.so)
if [ ! -f "$runtime" ]; then
  echo "test-sanitizers.sh: no ASan runtime found for $cc ($runtime)" >&2
  exit 1
fi
# The library must really be instrumented.
if ! nm -D "$library" | grep -q __asan_report; then
  echo "test-sanitizers.sh: $library is not built with ASan" >&2
  exit 1
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
export REMCTL_LIBRARY="$library"
# A test build: the tests that need its test hooks must run.
export REMCTL_REQUIRE_TEST_HOOKS=1
export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"
# A 16 MiB quarantine (default 256 MiB) still catches uses after free of
# recent blocks, and keeps RSS close enough to normal for the suite's memory
# checks of long streams (tests/test_long.py); the hostile-server growth
# checks look at file descriptors only under ASan.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:quarantine_size_mb=16:log_path=$logs/asan:log_exe_name=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"

# tests/test_abi_compat.py runs Debian's remctl programs with a loader
# environment of its own (LD_PRELOAD removed, LD_LIBRARY_PATH set), and an
# ASan-built library cannot load into a program without the runtime
# preloaded, so that module is left out of the default run.
if [ "$#" -eq 0 ]; then
  set -- "$root/tests" --ignore="$root/tests/test_abi_compat.py"
fi
status=0
LD_PRELOAD="$runtime" "$python" -m pytest -q -p no:cacheprovider "$@" || status=$?

reports=$(find "$logs" -type f | wc -l)
if [ "$reports" -gt 0 ]; then
  echo "test-sanitizers.sh: $reports sanitizer report(s):" >&2
  for report in "$logs"/*; do
    echo "== $report" >&2
    head -n 60 "$report" >&2
  done
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "test-sanitizers.sh: pytest failed with status $status" >&2
  exit "$status"
fi
echo "test-sanitizers.sh: no sanitizer reports ($library)"
