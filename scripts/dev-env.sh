#!/usr/bin/env bash
# Creates (or reuses) the virtualenv .venv with the package built from this
# checkout and the development tools. Prints nothing but pip's errors.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -r requirements-dev.txt
# A test build: warnings are errors (REMCTL_WERROR) and the library has the
# test hooks the suite needs for protocol 1 and the ticket cache fallback
# (REMCTL_TEST_HOOKS; tests/conftest.py). Both are off by default, and the
# release wheel (scripts/build-wheel.sh) has no test hooks.
.venv/bin/pip install -q --force-reinstall --no-deps \
  -Ccmake.define.REMCTL_WERROR=ON -Ccmake.define.REMCTL_TEST_HOOKS=ON .
