#!/bin/sh
# Static checks of the Python package and the typed examples:
# mypy --strict and ruff check (settings from pyproject.toml).
#
#   scripts/lint.sh               uses python3
#   PYTHON=/path/to/python scripts/lint.sh
#
# mypy and ruff must be installed in that Python (pip install mypy ruff).
set -eu

cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
paths="python/remctl examples/typed_usage.py examples/user_backend.py tests/server/backends/svc_backend.py"

echo "== mypy --strict $paths"
# The example imports remctl from the source tree, not an installed copy.
MYPYPATH=python "$python" -m mypy --strict $paths

echo "== mypy --strict rejects a backend command returning a str"
bad=tests/typing/backend_bad_return.py
if output=$(MYPYPATH=python "$python" -m mypy --strict "$bad" 2>&1); then
  echo "mypy accepted $bad" >&2
  exit 1
fi
case $output in
  *'error: Value of type variable "F"'*'Found 1 error in 1 file'*) ;;
  *) echo "unexpected mypy output for $bad:" >&2; echo "$output" >&2; exit 1 ;;
esac

echo "== ruff check $paths"
"$python" -m ruff check $paths $bad
