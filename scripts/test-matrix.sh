#!/usr/bin/env bash
# Usage: scripts/test-matrix.sh WHEEL [VERSION|INTERPRETER...]
#
# Installs the one wheel file WHEEL (with its "testing" extra, and the test
# suite's own needs: python-gssapi for the hostile server) into a fresh
# virtualenv of each CPython VERSION (default: 3.9 3.10 3.11 3.12 3.13, taken
# from pyenv: $PYENV_ROOT/versions/VERSION.N, newest N) or of each
# INTERPRETER given by path (PyPy, a free-threaded build, an emulated arm64
# python3: see scripts/test-platforms.sh), and runs the whole
# test suite there with `python -m pytest tests -q`, from the checkout but with
# nothing of the checkout on sys.path: what is tested is the installed wheel.
# Before pytest it checks, in each venv, that `import remctl` comes from the
# venv and that the libremctl.so.1 mapped into the process is the wheel's own
# copy (not a system one such as Debian's libremctl1) built for the machine
# the interpreter runs on (the ELF header's machine), and reports the
# interpreter, the mapping and the import time. The suite needs the KDC programs and remctld on the host (see
# remctl.testing).
#
# Every version is run even after a failure; prints pytest's summary line per
# version, then the time taken; exits 1 if any version failed.
#
# Environment: PYENV_ROOT (default ~/.pyenv); REMCTL_MATRIX_TESTS, what pytest
# runs (default: tests, the whole suite; split on spaces);
# REMCTL_MATRIX_PYTEST_ARGS, extra pytest arguments (split on spaces);
# REMCTL_MATRIX_TEST_PACKAGES, what else the suite needs (default: the gssapi
# line of requirements-dev.txt).
#
# The wheel is a release build, without the C library's test hooks: the
# tests marked test_hooks (protocol 1, the ticket cache fallback) are
# deselected and listed at the end of each run; they run in the main pytest
# stage and in test-compat.sh, on .venv's test build (tests/conftest.py). pip
# builds python-gssapi from source (it has no Linux wheels; needs
# libkrb5-dev) once per Python version, then reuses it from its wheel cache.
set -uo pipefail

if [ $# -lt 1 ] || [ ! -f "$1" ]; then
  echo "usage: $0 WHEEL [VERSION...]  (WHEEL must be an existing .whl file)" >&2
  exit 2
fi
wheel=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.9 3.10 3.11 3.12 3.13)
root=$(cd "$(dirname "$0")/.." && pwd)
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
read -r -a extra_args <<<"${REMCTL_MATRIX_PYTEST_ARGS:-}"
read -r -a tests <<<"${REMCTL_MATRIX_TESTS:-tests}"
default_packages=$(grep -E '^gssapi' "$root/requirements-dev.txt" 2>/dev/null || echo gssapi)
read -r -a test_packages <<<"${REMCTL_MATRIX_TEST_PACKAGES:-$default_packages}"

work=$(mktemp -d "${TMPDIR:-/tmp}/remctl-matrix.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Nothing from the caller's environment may choose another library or put
# another copy of the package on the path.
clean_env=(env -u REMCTL_LIBRARY -u REMCTL_GSSAPI_LIBRARY -u REMCTL_REQUIRE_TEST_HOOKS -u PYTHONPATH
  -u PYTHONHOME -u LD_LIBRARY_PATH -u LD_PRELOAD -u PYTHONSTARTUP)

# Run inside each venv: where remctl comes from, which library is mapped,
# and how long `import remctl` takes in a fresh interpreter (best of 7).
check_script='
import os, platform, subprocess, sys
import remctl
remctl.Remctl().close()
prefix = os.path.realpath(sys.prefix)
# e_machine of the ELF header, by the machine names platform.machine() gives.
ELF_MACHINES = {62: "x86_64", 183: "aarch64"}
package = os.path.realpath(remctl.__file__)
with open("/proc/self/maps") as maps:
    mapped = sorted({l.split(None, 5)[5].strip() for l in maps if "libremctl" in l})
own = os.path.join(os.path.dirname(package), "libremctl.so.1")
problems = []
if not package.startswith(prefix + os.sep):
    problems.append(f"remctl imported from {package}, outside the venv {prefix}")
if [os.path.realpath(p) for p in mapped] != [own]:
    problems.append(f"libremctl mapped from {mapped}, expected only {own}")
with open(own, "rb") as library:
    header = library.read(20)
elf_machine = ELF_MACHINES.get(int.from_bytes(header[18:20], "little"), header[18:20].hex())
if elf_machine != platform.machine():
    problems.append(f"{own} is built for {elf_machine}, this is {platform.machine()}")
gil = getattr(sys, "_is_gil_enabled", None)
gil_text = str(gil()) if gil else "always"
timing = "import time; t = time.perf_counter(); import remctl; print(time.perf_counter() - t)"
best = min(
    float(subprocess.run([sys.executable, "-c", timing], capture_output=True,
                         text=True, check=True).stdout)
    for _ in range(7)
)
print(f"interpreter: {platform.python_implementation()} {platform.python_version()}"
      f" on {platform.machine()}; GIL enabled: {gil_text}")
print(f"remctl from {package}; library {mapped[0] if mapped else None} ({elf_machine})")
print(f"import remctl: {best * 1000:.1f} ms (fresh interpreter, best of 7)")
for problem in problems:
    print("PROBLEM:", problem)
sys.exit(1 if problems else 0)
'

find_python() {
  local version=$1 dir best=
  if [[ $version == */* ]]; then
    [ -x "$version" ] && echo "$version"
    return
  fi
  for dir in "$pyenv_root"/versions/"$version".*; do
    [[ $(basename "$dir") =~ ^${version//./\\.}\.[0-9]+$ ]] || continue
    [ -x "$dir/bin/python3" ] || continue
    best=$(printf '%s\n%s\n' "$best" "$(basename "$dir")" | sort -V | tail -n 1)
  done
  [ -n "$best" ] && echo "$pyenv_root/versions/$best/bin/python3"
}

declare -a summary
failed=0
matrix_start=$SECONDS
echo "test-matrix: wheel $(basename "$wheel")"
for version in "${versions[@]}"; do
  start=$SECONDS
  name=${version//\//_}
  venv=$work/venv-$name
  log=$work/pytest-$name.log
  echo
  echo "=== $([[ $version == */* ]] || printf "CPython ")$version ==="
  if ! python=$(find_python "$version"); then
    summary+=("$version: FAILED: no such interpreter (CPython versions come from $pyenv_root/versions)")
    failed=1
    continue
  fi
  echo "interpreter: $python ($("$python" -c 'import sys; print(sys.version.split()[0])'))"
  if ! "$python" -m venv "$venv" >"$work/venv-$name.log" 2>&1 \
    || ! "${clean_env[@]}" "$venv/bin/python" -m pip install \
      --disable-pip-version-check -q "${wheel}[testing]" "${test_packages[@]}" >>"$work/venv-$name.log" 2>&1; then
    cat "$work/venv-$name.log"
    summary+=("$version: FAILED: could not create the venv or install the wheel")
    failed=1
    continue
  fi
  if ! (cd "$work" && "${clean_env[@]}" "$venv/bin/python" -c "$check_script"); then
    summary+=("$version: FAILED: the installed wheel is not what gets loaded")
    failed=1
    continue
  fi
  (
    cd "$root" \
      && "${clean_env[@]}" REMCTL_TEST_INSTALLED_PREFIX="$venv" \
        "$venv/bin/python" -m pytest "${tests[@]}" -q -p no:cacheprovider "${extra_args[@]}"
  ) 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  line=$(grep -E '^=*[ ]*[0-9]+ (passed|failed|error|errors|skipped|deselected)|no tests ran' "$log" \
    | tail -n 1 | sed 's/^=* *//; s/ *=*$//')
  if [ "$status" -eq 0 ]; then
    summary+=("$version: ${line:-no summary line} [$((SECONDS - start)) s]")
  else
    summary+=("$version: FAILED (pytest exit $status): ${line:-no summary line} [$((SECONDS - start)) s]")
    failed=1
  fi
done

echo
echo "=== test-matrix summary ($(basename "$wheel")) ==="
printf '%s\n' "${summary[@]}"
echo "test-matrix: ${#versions[@]} Python versions in $((SECONDS - matrix_start)) s;" \
  "$([ "$failed" -eq 0 ] && echo "all passed" || echo "SOME FAILED")"
exit "$failed"
