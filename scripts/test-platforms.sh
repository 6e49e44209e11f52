#!/usr/bin/env bash
# Usage: scripts/test-platforms.sh PLATFORM [WHEEL]
#
# Runs the test suite, against the real KDC and remctld on loopback, on an
# interpreter or machine other than the developer's CPython, through
# scripts/test-matrix.sh (fresh venv, the wheel installed from its file, the
# mapped libremctl.so.1 checked to be that wheel's, for this machine):
#
#   aarch64        the manylinux_2_17_aarch64 wheel, cross-built here by zig,
#                  under Debian 12 arm64's python3 run by qemu user-mode
#                  emulation (scripts/arm64-root.sh). The host's x86_64 KDC,
#                  kinit and remctld serve it; only the client side is arm64.
#                  REMCTL_AARCH64_SUITE=full runs every test; the default is
#                  the subset below, which keeps CI's run short.
#   pypy           the x86_64 wheel under Debian's pypy3 (Python 3.9 level).
#   free-threaded  the x86_64 wheel under CPython 3.13 built with
#                  --disable-gil (scripts/free-threaded-python.sh); fails
#                  unless the GIL is still off at the end of the run
#                  (REMCTL_TEST_EXPECT_GIL=off), and runs the threads tests
#                  at full size (32 threads x 500 commands).
#
# WHEEL is the x86_64 wheel for pypy and free-threaded (built by
# scripts/build-wheel.sh when not given); aarch64 always builds its own.
# Anything that cannot be had (qemu, the arm64 root, pypy3, the build) makes
# the run fail, never skip. The hostile-server tests' server runs under
# .venv's CPython (it needs python-gssapi); the client side is the platform's.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

# The emulated run's subset: the modules about the client's own behaviour on
# this machine (library loading, arguments, the three APIs, open forms,
# protocol, streaming, errors, threads, asyncio, ticket caches). Left out:
# what repeats the same paths through more emulated interpreter starts and
# servers (the CLI and fanout, the testing helper and backend modules, the
# ABI comparison with Debian's programs, the hostile server's cases); the
# whole suite runs with REMCTL_AARCH64_SUITE=full.
aarch64_subset=(
  tests/test_wheel_library.py tests/test_gssapi_missing.py tests/test_arguments.py
  tests/test_simple.py tests/test_full.py tests/test_api.py tests/test_legacy_api.py
  tests/test_legacy_promises.py tests/test_open_forms.py tests/test_connection.py
  tests/test_protocol1.py tests/test_output_merge.py tests/test_stream_pauses.py
  tests/test_noop_unread_answer.py tests/test_error_causes.py tests/test_error_reset.py
  tests/test_long.py tests/test_threads.py tests/test_aio.py tests/test_bad_callers.py
  tests/test_ccache.py
)

die() {
  echo "test-platforms: FAILED: $*" >&2
  exit 1
}

platform=${1:-}
wheel=${2:-}
host_python=$root/.venv/bin/python
[ -x "$host_python" ] || die "no $host_python (run scripts/dev-env.sh)"
export REMCTL_HOSTILE_PYTHON=$host_python REMCTL_MATRIX_TEST_PACKAGES=pytest

host_wheel() {
  if [ -z "$wheel" ]; then
    wheel=$(REMCTL_SKIP_SDIST_CHECK=1 bash scripts/build-wheel.sh) || die "building the wheel"
  fi
  [ -f "$wheel" ] || die "no wheel $wheel"
}

case $platform in
  aarch64)
    arm64_root=$(bash scripts/arm64-root.sh) || die "the arm64 root"
    wheel=$(REMCTL_WHEEL_ARCH=aarch64 bash scripts/build-wheel.sh) || die "the aarch64 wheel"
    # qemu looks up the arm64 program's files (its loader, libraries,
    # /usr/lib/python3.11) in the root first, then on the host.
    export QEMU_LD_PREFIX=$arm64_root
    args=()
    if [ "${REMCTL_AARCH64_SUITE:-subset}" != full ]; then
      args=("${aarch64_subset[@]}")
      echo "test-platforms: aarch64 runs the subset of ${#args[@]} modules" \
        "(REMCTL_AARCH64_SUITE=full for all)"
    fi
    REMCTL_MATRIX_TESTS="${args[*]:-tests}" \
      bash scripts/test-matrix.sh "$wheel" "$arm64_root/usr/bin/python3"
    ;;
  pypy)
    if ! command -v pypy3 >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        pypy3 pypy3-venv >&2 || die "apt-get install pypy3 pypy3-venv"
    fi
    host_wheel
    bash scripts/test-matrix.sh "$wheel" "$(command -v pypy3)"
    ;;
  free-threaded)
    python=$(bash scripts/free-threaded-python.sh) || die "the free-threaded CPython"
    host_wheel
    REMCTL_TEST_EXPECT_GIL=off REMCTL_TEST_THREAD_COMMANDS=500 \
      bash scripts/test-matrix.sh "$wheel" "$python"
    ;;
  *)
    die "usage: $0 aarch64|pypy|free-threaded [WHEEL]"
    ;;
esac
