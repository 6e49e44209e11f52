#!/usr/bin/env bash
# The whole test suite, from a fresh machine (what CI runs through .ci/run).
# Installs every system and Python dependency, builds the package, then runs:
#   1. pytest against the installed package, a real KDC and remctld;
#   2. lint: mypy --strict and ruff, actionlint and cibuildwheel's config;
#   3. the release wheel (zig, glibc 2.17, auditwheel), and that one wheel's
#      whole suite under CPython 3.9 and 3.13, the Python-level modules
#      under 3.10-3.12;
#   4. the suite on Debian's libremctl1 and on Heimdal's GSS-API;
#   5. the suite on an ASan/UBSan build, valgrind on C-level tests, a short
#      fuzz pass on the saved corpus;
#   6. the platforms (scripts/test-platforms.sh): the aarch64 wheel under
#      qemu in a Debian 12 arm64 root (a subset of the suite), the x86_64
#      wheel's whole suite under PyPy and under free-threaded CPython 3.13t
#      with the GIL off; and the C library cross-built for musl and macOS
#      (scripts/build-cross.sh). The arm64 root and the free-threaded CPython
#      are made in the background from the start (cached after the first
#      run in /var/cache/remctl-ci);
#   7. the benchmarks in quick mode (no timing assertions; they must run).
# Every stage runs even when an earlier one failed; the exit status is
# non-zero if any failed. The last line is the main pytest run's summary.
# REMCTL_TEST_STAGES limits the run, e.g. REMCTL_TEST_STAGES="pytest lint".
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh || exit 1
bash scripts/dev-env.sh || exit 1

stages=${REMCTL_TEST_STAGES:-pytest lint wheel compat sanitizers platforms bench}
logdir=$(mktemp -d "${TMPDIR:-/tmp}/remctl-test.XXXXXX")
declare -a results
failed=0

wants() { [[ " $stages " == *" $1 "* ]]; }

# The slow provisioning of the platform stages (an emulated debootstrap, a
# CPython build) starts now and overlaps the stages before it; the stages
# wait for it. Each script checks its cache first.
declare -A provisioning
provision() {
  local name=$1
  shift
  nice "$@" >"$logdir/$name.out" 2>"$logdir/$name.err" &
  provisioning[$name]=$!
}
# provisioned NAME: waits for it; on failure shows its log and fails.
provisioned() {
  if ! wait "${provisioning[$1]}"; then
    cat "$logdir/$1.err" >&2
    echo "test.sh: $1 failed (log above)" >&2
    return 1
  fi
  cat "$logdir/$1.err" >&2
}
if wants platforms; then
  provision arm64-root bash scripts/arm64-root.sh
  provision free-threaded bash scripts/free-threaded-python.sh
fi

# run NAME COMMAND...: runs one stage, records pass/fail and its time.
run() {
  local name=$1 start=$SECONDS status
  shift
  echo
  echo "=== $name: $*"
  "$@"
  status=$?
  results+=("$(printf '%-28s %s (%ds)' "$name" \
    "$([ $status -eq 0 ] && echo ok || echo "FAILED (exit $status)")" \
    $((SECONDS - start)))")
  [ $status -eq 0 ] || failed=1
}

main_pytest() {
  # The suite runs against the installed package, not the checkout's
  # python/; REMCTL_TEST_INSTALLED_PREFIX makes a test check exactly that.
  # .venv holds a test build, so no test_hooks test may be left out.
  REMCTL_TEST_INSTALLED_PREFIX="$PWD/.venv" REMCTL_REQUIRE_TEST_HOOKS=1 \
    .venv/bin/python -m pytest tests -q -p no:cacheprovider "$@" \
    | tee "$logdir/pytest.log"
}

matrix() {
  local wheel
  wheel=$(bash scripts/build-wheel.sh) || return 1
  echo "$wheel" >"$logdir/wheel"
  # python-gssapi (for the hostile server) builds from source; the server
  # runs under .venv's Python while the client side varies by version.
  # The oldest and the newest CPython run the whole suite. The suite has
  # grown to ~920 tests (about 4.5 min each), so the versions between run
  # the modules whose code paths depend on the Python version (the Python
  # API, asyncio, argument conversion, backends, fan-out, CLI, threads),
  # not the C-level and protocol modules, which do not change with it.
  local status=0
  REMCTL_HOSTILE_PYTHON="$PWD/.venv/bin/python" REMCTL_MATRIX_TEST_PACKAGES=pytest \
    bash scripts/test-matrix.sh "$wheel" 3.9 3.13 || status=1
  REMCTL_HOSTILE_PYTHON="$PWD/.venv/bin/python" REMCTL_MATRIX_TEST_PACKAGES=pytest \
    REMCTL_MATRIX_TESTS="${matrix_subset[*]}" \
    bash scripts/test-matrix.sh "$wheel" 3.10 3.11 3.12 || status=1
  return $status
}
matrix_subset=(
  tests/test_api.py tests/test_aio.py tests/test_arguments.py
  tests/test_backend.py tests/test_backend_remctld.py tests/test_cli.py
  tests/test_cli_fanout.py tests/test_error_causes.py tests/test_fanout.py
  tests/test_full.py tests/test_legacy_api.py tests/test_legacy_promises.py
  tests/test_logging.py tests/test_simple.py tests/test_threads.py
  tests/test_wheel_library.py tests/test_gssapi_missing.py
)

wants pytest && run "pytest (CPython $(.venv/bin/python -c 'import sys; print(sys.version.split()[0])'))" main_pytest "$@"
if wants lint; then
  run "mypy and ruff" env PYTHON=.venv/bin/python bash scripts/lint.sh
  run "workflows and cibuildwheel" bash scripts/lint-workflows.sh
fi
wants wheel && run "wheel + CPython 3.9-3.13 (3.10-3.12 subset)" matrix
wants compat && run "Debian libremctl1, Heimdal" env PYTHON=.venv/bin/python bash scripts/test-compat.sh
if wants sanitizers; then
  run "ASan/UBSan suite" env PYTHON=.venv/bin/python bash scripts/test-sanitizers.sh
  run "valgrind" bash scripts/test-valgrind.sh
  run "fuzz (short)" bash fuzz/run-short.sh
fi
# platform NAME: that platform's suite, after its provisioning; PyPy and
# free-threaded use the wheel stage's wheel when there is one.
platform() {
  local name=$1 wheel=
  case $name in
    aarch64) provisioned arm64-root || return 1 ;;
    free-threaded) provisioned free-threaded || return 1 ;;
  esac
  [ -f "$logdir/wheel" ] && wheel=$(cat "$logdir/wheel")
  bash scripts/test-platforms.sh "$name" ${wheel:+"$wheel"}
}
if wants platforms; then
  run "aarch64 (qemu, subset)" platform aarch64
  run "PyPy 3.9" platform pypy
  run "free-threaded CPython 3.13t" platform free-threaded
  run "C library: musl, macOS" bash scripts/build-cross.sh
fi
# The benchmark measures the library installed in .venv (built from this
# checkout), not a build of its own that could be stale.
library=$(.venv/bin/python -c 'import remctl._library as l; print(l.library_path())')
wants bench && run "benchmarks (quick)" .venv/bin/python bench/run.py --quick --library "$library"
wants bench && run "fan-out benchmark (quick)" .venv/bin/python bench/fanout.py --quick

echo
echo "=== summary"
printf '%s\n' "${results[@]}"
if [ -f "$logdir/pytest.log" ]; then
  # pytest's own summary line of the main run, last, for CI.
  grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed|error).* =+$|^[0-9]+ .* in [0-9.]+s' \
    "$logdir/pytest.log" | tail -n 1
fi
rm -rf "$logdir"
exit $failed
