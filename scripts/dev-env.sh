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
# Warnings are errors in development and CI (REMCTL_WERROR, off by default).
.venv/bin/pip install -q --force-reinstall --no-deps \
  -Ccmake.define.REMCTL_WERROR=ON .
