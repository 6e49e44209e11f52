#!/usr/bin/env bash
# The compatibility passes of the test suite, for CI, after scripts/test.sh
# (which runs everything on our libremctl.so.1 with MIT Kerberos):
#
#   debian-lib  the whole suite on Debian's libremctl1 (REMCTL_LIBRARY);
#               tests marked ours_only are deselected and listed at the end
#   heimdal     the whole suite on our library with Heimdal's GSS-API
#               (REMCTL_GSSAPI_LIBRARY=libgssapi.so.3) against the same MIT
#               realm; Heimdal lacks gss_acquire_cred_from, so ticket caches
#               per object take the gss_krb5_ccache_name fallback
#   mit-ccache-fallback
#               the ticket-cache tests on MIT with that fallback forced
#               (REMCTL_TEST_NO_CRED_FROM=1, a test hook of our library's
#               test build, which scripts/dev-env.sh puts in .venv)
#
# Every pass runs even when an earlier one fails; the exit status is non-zero
# if any failed. Extra arguments go to every pytest run. Override the
# libraries with REMCTL_SYSTEM_LIBRARY and REMCTL_HEIMDAL_GSSAPI, the Python
# (default .venv/bin/python, built by scripts/dev-env.sh) with PYTHON.
set -uo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-.venv/bin/python}
if [ -z "${PYTHON:-}" ] && [ ! -x "$python" ]; then
  bash scripts/install-system-deps.sh || exit 1
  bash scripts/dev-env.sh || exit 1
fi

# Where the loader finds a library: the path ldconfig knows for a soname.
find_library() {
  /sbin/ldconfig -p | awk -v name="$1" '$1 == name { print $NF; exit }'
}
system_library=${REMCTL_SYSTEM_LIBRARY:-$(find_library libremctl.so.1)}
heimdal=${REMCTL_HEIMDAL_GSSAPI:-$(find_library libgssapi.so.3)}
for pair in "libremctl1:$system_library" "libgssapi3-heimdal:$heimdal"; do
  if [ ! -e "${pair#*:}" ]; then
    echo "test-compat.sh: ${pair%%:*} is not installed (scripts/install-system-deps.sh)" >&2
    exit 1
  fi
done

# Nothing from the caller's environment may choose libraries for us.
unset REMCTL_LIBRARY REMCTL_GSSAPI_LIBRARY REMCTL_TEST_PROTOCOL \
  REMCTL_TEST_NO_CRED_FROM LD_LIBRARY_PATH LD_PRELOAD
# Our library here is .venv's test build: its test_hooks tests must run
# (on Debian's library they are deselected with the other ours_only tests).
export REMCTL_REQUIRE_TEST_HOOKS=1

failed=()
run_pass() {
  local name=$1
  shift
  echo "== test-compat: $name"
  if ! env "$@"; then
    failed+=("$name")
  fi
}

pytest=("$python" -m pytest -q -p no:cacheprovider)
run_pass debian-lib REMCTL_LIBRARY="$system_library" "${pytest[@]}" tests "$@"
run_pass heimdal REMCTL_GSSAPI_LIBRARY="$heimdal" "${pytest[@]}" tests "$@"
run_pass mit-ccache-fallback REMCTL_TEST_NO_CRED_FROM=1 "${pytest[@]}" \
  tests/test_ccache.py tests/test_connection.py -k "ccache" "$@"

if [ "${#failed[@]}" -gt 0 ]; then
  echo "test-compat: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "test-compat: all passes succeeded"
