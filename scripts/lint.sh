#!/bin/sh
# Static checks of the Python package and the typed example:
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

echo "== ruff check $paths"
"$python" -m ruff check $paths
