#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs every system and
# Python dependency, builds the package, and runs pytest against a real KDC
# and remctld. Exits non-zero on any failure; pytest's summary line is last.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh
bash scripts/dev-env.sh

# The suite runs against the installed package, not the checkout's python/;
# REMCTL_TEST_INSTALLED_PREFIX makes a test check exactly that.
REMCTL_TEST_INSTALLED_PREFIX="$PWD/.venv" \
  .venv/bin/python -m pytest tests -q -p no:cacheprovider "$@"
