#!/usr/bin/env bash
# The main job: install everything, start a throwaway realm and remctld on
# loopback, and run real commands through the library (examples/demo.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/dev-env.sh
exec .venv/bin/python examples/demo.py "$@"
